"""The survival controller promoted into NautilusTrader (``nautilus_trader==1.221.0``).

* :class:`SurvivalActor` — steps the unchanged controller on a clock timer and on invariant
  events, and publishes :class:`SurvivalDecisionData` on the message bus.
* :class:`PostureGate` (:func:`add_posture_gate`) — the posture limits enforced at the node:
  every order of every component passes through it (order types, entry size, account exposure;
  exits always pass). :class:`PostureGuard` / :class:`GuardedStrategy` — the same rules as a
  strategy's own early check and sizing.
* :class:`ReplaySignalSource` (a twin trace's ``signals_observed.parquet``) and
  :class:`LiveSignalFeed` (an ``adapters.source.SignalSource``, e.g. Hazelcast).
* :func:`replay_in_backtest` — a trace through the Actor inside a ``BacktestEngine``.
* :func:`build_paper_node` (in ``adapters.nautilus.paper``) — a sandbox ``TradingNode``.
"""

from .actor import SurvivalActor, SurvivalActorConfig
from .data import (
    DECISION_DATA_TYPE,
    SIGNAL_ROW_DATA_TYPE,
    SignalRowData,
    SurvivalDecisionData,
    decision_to_data,
)
from .errors import (
    ActorConfigError,
    GuardConfigError,
    InterfaceError,
    NautilusAdapterError,
    PaperNodeError,
    SourceError,
    TraceError,
)
from .gate import GateStats, PostureGate, add_posture_gate
from .guard import CapitalSource, GuardConfig, GuardVerdict, PostureGuard
from .rules import PostureRules
from .replay import REPLAY_CLIENT_ID, DecisionRecorder, ReplayResult, replay_in_backtest
from .sizing import (
    bet_notional,
    minimum_quantity,
    notional_to_quantity,
    quantity_notional,
    round_quantity,
    trading_state_for,
)
from .sources import (
    DEFAULT_ORIGIN_NS,
    LiveSignalFeed,
    ReplaySignalSource,
    SignalReading,
    StepSource,
    off_grid_rows,
)
from .strategy import GuardedStrategy
from .trace import SignalTrace, load_event_rows, load_signal_trace, signal_trace_from_columns

__all__ = [
    "ActorConfigError",
    "CapitalSource",
    "DECISION_DATA_TYPE",
    "DEFAULT_ORIGIN_NS",
    "DecisionRecorder",
    "GateStats",
    "GuardConfig",
    "GuardConfigError",
    "GuardVerdict",
    "GuardedStrategy",
    "InterfaceError",
    "LiveSignalFeed",
    "NautilusAdapterError",
    "PaperNodeError",
    "PostureGate",
    "PostureGuard",
    "PostureRules",
    "REPLAY_CLIENT_ID",
    "ReplayResult",
    "ReplaySignalSource",
    "SIGNAL_ROW_DATA_TYPE",
    "SignalReading",
    "SignalRowData",
    "SignalTrace",
    "SourceError",
    "StepSource",
    "SurvivalActor",
    "SurvivalActorConfig",
    "SurvivalDecisionData",
    "TraceError",
    "add_posture_gate",
    "bet_notional",
    "decision_to_data",
    "load_event_rows",
    "load_signal_trace",
    "minimum_quantity",
    "notional_to_quantity",
    "off_grid_rows",
    "quantity_notional",
    "replay_in_backtest",
    "round_quantity",
    "signal_trace_from_columns",
    "trading_state_for",
]
