"""A run's trace tables as numpy arrays, the form every check reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa

from controller import ControllerConfig, Posture
from faults import Fault
from twin import WorldConfig

__all__ = ["RunView", "Companion", "columns", "recovered_at"]

_CODES = {p.name: int(p) for p in Posture}
INVARIANT_FLAGS = ("hz.quorum", "ledger.consistent", "data.checksum_ok")


def columns(table: pa.Table) -> dict[str, np.ndarray]:
    """Every column as a numpy array (strings as object arrays)."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_boolean(col.type):
            out[name] = col.to_numpy(zero_copy_only=False)
        else:
            out[name] = np.array(col.to_pylist(), dtype=object)
    return out


@dataclass
class Companion:
    """The same scenario and seed re-run for comparison (decisions and equity only are read)."""

    name: str
    decisions: dict[str, np.ndarray]
    equity: dict[str, np.ndarray]

    def final_return(self, capital: float) -> float:
        eq = self.equity.get("equity")
        return float(eq[-1] / capital - 1.0) if eq is not None and len(eq) else 0.0


@dataclass
class RunView:
    """Arrays of one run plus what the checks need to judge it."""

    decisions: dict[str, np.ndarray]
    observed: dict[str, np.ndarray]
    true: dict[str, np.ndarray]
    orders: dict[str, np.ndarray]
    fills: dict[str, np.ndarray]
    equity: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    faults: tuple[Fault, ...]
    duration_s: float
    world: WorldConfig
    config: ControllerConfig
    companions: dict[str, Companion] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, tables: Mapping[str, pa.Table], faults: Sequence[Fault], duration_s: float,
                    world: WorldConfig, config: ControllerConfig,
                    companions: Mapping[str, Mapping[str, pa.Table]] | None = None) -> "RunView":
        comp = {name: Companion(name, columns(t["decisions"]), columns(t["equity"]))
                for name, t in (companions or {}).items()}
        return cls(columns(tables["decisions"]), columns(tables["signals_observed"]),
                   columns(tables["signals_true"]), columns(tables["orders"]), columns(tables["fills"]),
                   columns(tables["equity"]), columns(tables["events"]), tuple(faults), float(duration_s),
                   world, config, comp)

    # -- decisions ------------------------------------------------------------------------
    @property
    def t(self) -> np.ndarray:
        return self.decisions["t_s"]

    @property
    def r(self) -> np.ndarray:
        return self.decisions["r_total"]

    @property
    def posture(self) -> np.ndarray:
        """Posture codes (HIBERNATE=0 … APEX=3) per decision."""
        cached = self.decisions.get("_posture_code")
        if cached is None:
            cached = np.array([_CODES.get(p, -1) for p in self.decisions["posture"]], dtype=np.int64)
            self.decisions["_posture_code"] = cached
        return cached

    def layer(self, name: str) -> np.ndarray:
        return self.decisions[f"layer.{name}"]

    def layer_names(self) -> tuple[str, ...]:
        return tuple(c[6:] for c in self.decisions if c.startswith("layer."))

    def in_window(self, t0: float, t1: float) -> np.ndarray:
        """Mask of decisions with ``t0 <= t <= t1``."""
        return (self.t >= t0) & (self.t <= t1)

    @property
    def orders_before(self) -> np.ndarray:
        """Per decision, how many orders (rows of the orders table, in send order) were sent before it.

        From the trace's ``orders_before`` column; a trace without it (written before the column existed)
        falls back to timestamps, counting orders of the decision's own instant as sent after it."""
        cached = self.decisions.get("_orders_before")
        if cached is None:
            if "orders_before" in self.decisions:
                cached = np.asarray(self.decisions["orders_before"], dtype=np.int64)
            else:
                cached = np.searchsorted(np.asarray(self.orders.get("t_s", np.zeros(0)), dtype=np.float64),
                                         self.t, side="left").astype(np.int64)
            self.decisions["_orders_before"] = cached
        return cached

    def decision_for_order(self, row: int) -> int:
        """Index of the decision in force when order ``row`` (its row in the orders table) was sent: the last
        decision made before it in the order of events (-1 if none)."""
        return int(np.searchsorted(self.orders_before, row, side="right")) - 1

    def decision_at(self, t_s: float) -> int:
        """Index of the last decision at or before ``t_s`` (-1 if none)."""
        return int(np.searchsorted(self.t, t_s, side="right")) - 1

    # -- faults -----------------------------------------------------------------------------
    @property
    def heal_s(self) -> float:
        """When every fault has healed (``inf`` if one never does; 0 without faults)."""
        return max((f.end_s for f in self.faults), default=0.0)

    def active_faults(self, t0: float, t1: float, kinds: Sequence[str] | None = None) -> list[Fault]:
        """Faults whose window ``[at, end]`` overlaps ``[t0, t1]``."""
        return [f for f in self.faults if f.at_s <= t1 and f.end_s >= t0 and (kinds is None or f.kind in kinds)]

    @property
    def capital(self) -> float:
        return self.world.agent.capital


def fmt_t(t_s: float) -> str:
    """``"3725.0 s (1h02m05s)"``."""
    if not math.isfinite(t_s):
        return str(t_s)
    s = int(round(t_s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{t_s:.1f} s ({h}h{m:02d}m{sec:02d}s)"


def recovered_at(t: np.ndarray, ok: np.ndarray, t_from: float, end_s: float, hold_s: float | None = None) -> float:
    """When a posture condition is regained *and held* after ``t_from``: the recovery definition of the
    liveness check, ``recovers_to`` and ``nor explore`` (the reports' ``recovery time`` repeats it).

    ``t``: decision times (non-decreasing; same-instant decisions in the order they were made); ``ok``: per
    decision, whether its posture meets the target. The posture in force between decisions is the last
    decision's. The result is the first ``T >= t_from`` at which the decision in force meets the target and
    every later decision keeps meeting it for ``hold_s`` seconds after ``T`` (``None``: to ``end_s``, the end
    of the run) — so a decision that still meets the target because a fault's effect has not reached the
    controller yet, followed by a drop, is not a recovery. ``inf`` when there is no such ``T`` (including a
    hold the run ends before completing).
    """
    n = len(t)
    if n == 0:
        return math.inf
    i = max(0, int(np.searchsorted(t, t_from, side="right")) - 1)   # the decision in force at t_from
    bad = np.flatnonzero(~ok[i:]) + i
    k = 0                                                          # bad[k]: the next failing decision
    while i < n:
        while k < len(bad) and bad[k] < i:
            k += 1
        if k < len(bad) and bad[k] == i:
            i += 1
            continue
        start = max(float(t[i]), t_from)
        if k == len(bad):                                          # held to the end of the run
            return start if hold_s is None or end_s - start >= hold_s else math.inf
        if hold_s is not None and float(t[bad[k]]) - start >= hold_s:
            return start
        i = int(bad[k]) + 1
    return math.inf


def first_true(mask: np.ndarray) -> int:
    """Index of the first True, or -1."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else -1


def as_float(value: Any) -> float:
    return float(value) if value is not None else math.nan
