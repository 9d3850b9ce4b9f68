"""Replay a signals trace through the survival Actor inside a Nautilus ``BacktestEngine``.

Used by the parity test and the benchmark, and by anyone who wants to see what the
Nautilus path decides on a recorded twin trace::

    result = replay_in_backtest(load_signal_trace("run/.../signals_observed.parquet"),
                                SurvivalController(default_config()))
    result.decisions  # SurvivalDecisionData, in publication order
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig, LoggingConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.identifiers import ClientId, TraderId

from .actor import SurvivalActor, SurvivalActorConfig
from .data import DECISION_DATA_TYPE, SurvivalDecisionData
from .sources import DEFAULT_ORIGIN_NS, ReplaySignalSource, off_grid_rows
from .trace import SignalTrace

__all__ = ["DecisionRecorder", "ReplayResult", "replay_in_backtest", "REPLAY_CLIENT_ID"]

REPLAY_CLIENT_ID = ClientId("NOR-REPLAY")


class DecisionRecorder(Actor):
    """Collects every ``SurvivalDecisionData`` published on the message bus."""

    def __init__(self, config: ActorConfig | None = None) -> None:
        super().__init__(config or ActorConfig(component_id="NorDecisionRecorder"))
        self.decisions: list[SurvivalDecisionData] = []

    def on_start(self) -> None:
        self.subscribe_data(DECISION_DATA_TYPE)

    def on_data(self, data: Data) -> None:
        if isinstance(data, SurvivalDecisionData):
            self.decisions.append(data)


@dataclass(frozen=True)
class ReplayResult:
    """Decisions the Nautilus path published, and the wall time the engine run took."""

    decisions: tuple[SurvivalDecisionData, ...]
    run_wall_s: float
    origin_ns: int


def replay_in_backtest(
    trace: SignalTrace,
    controller: Any,
    *,
    origin_ns: int = DEFAULT_ORIGIN_NS,
    actor_config: SurvivalActorConfig | None = None,
    event_rows: Sequence[bool] | np.ndarray | None = None,
    log_level: str = "ERROR",
) -> ReplayResult:
    """Run ``trace`` through a fresh ``BacktestEngine`` with a :class:`SurvivalActor`.

    The engine runs from the first row to the last; the Actor's timer starts at the first
    row's time. ``controller`` is stepped in place (pass a fresh one). ``event_rows`` selects
    the rows that trigger immediate steps (see :class:`ReplaySignalSource`); when omitted for
    a twin trace (it has the ``step`` column: one row per agent step) the rows off the timer
    grid are the events (:func:`off_grid_rows`); pass ``load_event_rows(decisions.parquet, trace)``
    to use the twin's own record instead.
    """
    engine = BacktestEngine(BacktestEngineConfig(
        trader_id=TraderId("NOR-REPLAY-001"),
        logging=LoggingConfig(log_level=log_level, bypass_logging=log_level == "OFF"),
    ))
    try:
        if event_rows is None and trace.steps is not None:
            interval_s = (actor_config or SurvivalActorConfig()).interval_s
            event_rows = off_grid_rows(trace, interval_s)
        source = ReplaySignalSource(trace, origin_ns, event_rows)
        engine.add_data(source.events(), client_id=REPLAY_CLIENT_ID)
        recorder = DecisionRecorder()
        engine.add_actor(SurvivalActor(controller, source, actor_config))
        engine.add_actor(recorder)
        started = time.perf_counter()
        engine.run()
        wall_s = time.perf_counter() - started
        return ReplayResult(tuple(recorder.decisions), wall_s, origin_ns)
    finally:
        engine.dispose()
