"""Custom Nautilus data: survival decisions and replayed signal rows.

``SurvivalDecisionData`` is what the survival Actor publishes on the message bus
(topic ``data.SurvivalDecisionData*``); any component subscribes with
``subscribe_data(DECISION_DATA_TYPE)``. It is a ``@customdataclass`` so it also
serialises to dict/msgpack/Arrow like any Nautilus custom data.
"""

# No `from __future__ import annotations` here: @customdataclass reads real annotation types.

import json
from typing import Any

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.data import DataType

from controller import Posture

__all__ = [
    "DECISION_DATA_TYPE",
    "SIGNAL_ROW_DATA_TYPE",
    "SignalRowData",
    "SurvivalDecisionData",
    "decision_to_data",
]


@customdataclass
class SurvivalDecisionData(Data):
    """One controller decision, stamped with the engine time it was taken at.

    ``t_s`` is the exact ``now_s`` passed to ``SurvivalController.step``. Layers and reasons
    are read from the controller's ``Decision`` lazily (its reasons are costly to format)
    and materialised as JSON (floats round-trip exactly) when the data is serialised. Use
    :attr:`layers`, :attr:`reasons` and :attr:`posture_level`.
    """

    t_s: float = 0.0
    r_total: float = 0.0
    posture: str = "HIBERNATE"
    max_leverage: float = 0.0
    entries_allowed: bool = False
    taker_allowed: bool = False
    invariant_broken: bool = True
    trigger: str = ""
    layers_json: str = ""
    reasons_json: str = ""

    @property
    def decision(self) -> Any:
        """The controller's ``Decision`` (None once the data went through serialisation)."""
        return self.__dict__.get("_decision")

    @property
    def layers(self) -> dict[str, float]:
        """Layer name -> damped multiplier, as the controller returned them."""
        decision = self.decision
        if decision is not None:
            return {str(k): float(v) for k, v in decision.layers.items()}
        return json.loads(self.layers_json) if self.layers_json else {}

    @property
    def reasons(self) -> tuple[str, ...]:
        """The controller's reasons for this decision."""
        decision = self.decision
        if decision is not None:
            return tuple(str(r) for r in decision.reasons)
        return tuple(json.loads(self.reasons_json)) if self.reasons_json else ()

    @property
    def posture_level(self) -> Posture:
        """The posture as the controller's ``Posture`` enum."""
        return Posture[self.posture]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (layers and reasons as JSON), as Nautilus serialisers expect."""
        if self.decision is not None:
            self.layers_json = json.dumps(self.layers)
            self.reasons_json = json.dumps(list(self.reasons))
        out: dict[str, Any] = {attr: getattr(self, attr) for attr in _FIELDS}
        out["type"] = type(self).__name__
        out["ts_event"] = self.ts_event
        out["ts_init"] = self.ts_init
        return out


_FIELDS = tuple(SurvivalDecisionData.__annotations__)


def decision_to_data(decision: Any, t_s: float, ts_ns: int, trigger: str) -> SurvivalDecisionData:
    """Wrap a controller ``Decision`` taken at ``t_s`` (engine time ``ts_ns``) as bus data."""
    data = SurvivalDecisionData(
        ts_event=ts_ns,
        ts_init=ts_ns,
        t_s=float(t_s),
        r_total=float(decision.r_total),
        posture=Posture(decision.posture).name,
        max_leverage=float(decision.max_leverage),
        entries_allowed=bool(decision.entries_allowed),
        taker_allowed=bool(decision.taker_allowed),
        invariant_broken=bool(getattr(decision, "invariant_broken", False)),
        trigger=trigger,
    )
    data.__dict__["_decision"] = decision
    return data


class SignalRowData(Data):
    """One row of a replayed signals trace, delivered through the engine at its own time.

    It carries only the row index; the replay source owns the values. Not meant for
    persistence, so it is a plain ``Data`` subclass.
    """

    __slots__ = ("index", "_ts_ns")

    def __init__(self, index: int, ts_ns: int) -> None:
        self.index = index
        self._ts_ns = ts_ns

    @property
    def ts_event(self) -> int:
        return self._ts_ns

    @property
    def ts_init(self) -> int:
        return self._ts_ns

    def __repr__(self) -> str:
        return f"SignalRowData(index={self.index}, ts_ns={self._ts_ns})"


DECISION_DATA_TYPE = DataType(SurvivalDecisionData)
SIGNAL_ROW_DATA_TYPE = DataType(SignalRowData)
