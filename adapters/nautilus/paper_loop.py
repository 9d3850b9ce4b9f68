"""The whole paper loop in one ``TradingNode``: market data → scanner and health publishers →
Hazelcast grid → survival Actor → DOLPHIN strategy → node-level posture gate → sandbox fills,
recorded in the twin's trace schemas.

:func:`build_paper_session` builds it (no network: the grid writer is made by ``writer_factory``
only when the session runs); :meth:`PaperSession.run` runs it for a duration (or until Ctrl-C)
and returns the trace tables. Feeds: ``replay:PATH`` / ``replay:sample`` (a price file played
at ``speed`` × its pace on the ``REPLAY`` venue, offline) or ``binance`` (the Binance data
client of :func:`~adapters.nautilus.paper.build_paper_node`).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.factory import SandboxLiveExecClientFactory
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import TraderId

from controller import ControllerConfig, SurvivalController
from trading import TradingParams

from .actor import SurvivalActor, SurvivalActorConfig
from .errors import PaperNodeError
from .feed import ReplayFeed
from .gate import PostureGate, add_posture_gate
from .guard import GuardConfig, PostureGuard
from .health import STAND_INS, HealthPublisher, QueuedWriter
from .prices import REPLAY_VENUE, load_price_table, replay_instruments
from .session import PaperRecorder, RecordingSource
from .sources import LiveSignalFeed

__all__ = ["LoopSettings", "PaperFault", "PaperSession", "build_paper_session", "dolphin", "parse_feed"]

SessionStrategyFactory = Callable[[PostureGuard, Sequence[Any], Any], Any]
"""(guard, instruments, session) → a strategy; ``session`` gives it the health publisher."""


@dataclass(frozen=True)
class PaperFault:
    """Pause one publisher (``book``, ``heartbeat``, ``drawdown``, ``ledger``, a stand-in) from
    ``at_s`` for ``for_s`` seconds of the session (its records stop: their age grows)."""

    target: str
    at_s: float
    for_s: float


@dataclass(frozen=True)
class LoopSettings:
    """feed: ``replay:sample``, ``replay:PATH`` or ``binance``; speed: replay pace factor;
    stand_ins: external services to stand in for; faults: scripted publisher pauses."""

    feed: str = "replay:sample"
    speed: float = 1.0
    stand_ins: tuple[str, ...] = ()
    faults: tuple[PaperFault, ...] = ()
    starting_balance: str = "100000 USDT"
    interval_s: float = 1.0
    trader_id: str = "NOR-PAPER-001"
    log_level: str = "WARNING"
    assets: int | None = None


def parse_feed(text: str) -> tuple[str, str]:
    """``replay:PATH`` → ("replay", PATH); ``binance`` → ("binance", ""); else PaperNodeError."""
    if text == "binance":
        return "binance", ""
    kind, _, arg = text.partition(":")
    if kind == "replay" and arg:
        return "replay", arg
    raise PaperNodeError(f"--feed: expected 'replay:sample', 'replay:PATH' or 'binance', got {text!r}")


def dolphin(params: Any = None) -> SessionStrategyFactory:
    """The DOLPHIN strategy for a session: market time is the replay's, scans come from its rows."""
    from .dolphin import DolphinStrategy

    return lambda guard, instruments, session: DolphinStrategy(
        instruments, guard, params, market_time_s=lambda: session.market_t_s, act_after_quotes=True)


class FaultScript(Actor):
    """Pauses and resumes health publishers at scripted session times (recorded as events)."""

    def __init__(self, faults: Sequence[PaperFault], publisher: HealthPublisher, recorder: PaperRecorder) -> None:
        super().__init__(ActorConfig(component_id="FaultScript"))
        self.faults, self.publisher, self.recorder = list(faults), publisher, recorder

    def on_start(self) -> None:
        for i, f in enumerate(self.faults):
            for suffix, delay, act in (("on", f.at_s, self._fault_on), ("off", f.at_s + f.for_s, self._fault_off)):
                self.clock.set_time_alert(f"nor-fault-{i}-{suffix}", self.clock.utc_now() + pd.Timedelta(
                    timedelta(seconds=delay)), callback=lambda _e, f=f, act=act: act(f))

    def on_stop(self) -> None:
        pass

    def _fault_on(self, f: PaperFault) -> None:
        self.publisher.pause(f.target)
        self.recorder.event(None, "fault", f.target, {"kind": "publisher_stopped", "for_s": f.for_s})

    def _fault_off(self, f: PaperFault) -> None:
        self.publisher.resume(f.target)
        self.recorder.event(None, "fault_end", f.target, {"kind": "publisher_stopped"})


@dataclass
class PaperSession:
    """A built paper loop; :meth:`run` runs it."""

    node: TradingNode
    controller: SurvivalController
    recorder: PaperRecorder
    publisher: HealthPublisher
    gate: PostureGate
    writer: QueuedWriter
    feed: ReplayFeed | None = None
    instruments: list = field(default_factory=list)
    interrupted: bool = False
    scan_interval_s: float = 5.0
    market_t_s: float = 0.0
    scanners: list = field(default_factory=list)
    scans: int = 0

    def on_row(self, index: int, t_s: float, prices: Sequence[float]) -> None:
        """A replay row reached the node: market time advances; every ``scan_interval_s`` of it
        the strategies scan and the scanner's health record is published."""
        self.market_t_s = t_s
        if index and int(t_s // self.scan_interval_s) == int(self._last_row_t // self.scan_interval_s):
            self._last_row_t = t_s
            return
        self._last_row_t = t_s
        scans = [strategy.scan(prices) for strategy in self.scanners]
        self.scans += 1
        self.publisher.scan_published(scans[0] if scans else None)

    _last_row_t: float = -1.0

    def run(self, duration_s: float | None, say: Callable[[str], None] = print) -> dict:
        """Run until ``duration_s`` of node time has passed (None: until Ctrl-C); return the
        trace tables. The node is stopped and disposed."""
        loop = self.node.get_event_loop()
        timer = None
        elapsed = threading.Event()

        def stop() -> None:
            elapsed.set()
            loop.call_soon_threadsafe(self.node.stop)

        if duration_s is not None:
            timer = threading.Timer(duration_s, stop)
            timer.daemon = True
            timer.start()
        try:
            self.node.run()   # Nautilus handles SIGINT itself: it stops the node and returns
        except KeyboardInterrupt:
            pass
        finally:
            if timer is not None:
                timer.cancel()
            if self.node.is_running():
                self.node.stop()
        if not elapsed.is_set():
            self.interrupted = True
            say("nor: paper trading interrupted")
        tables = self.recorder.tables()
        self.writer.close()
        self.node.dispose()
        return tables


def _replay_node(settings: LoopSettings, loop: asyncio.AbstractEventLoop) -> TradingNode:
    execution = SandboxExecutionClientConfig(venue=REPLAY_VENUE, starting_balances=[settings.starting_balance],
                                             account_type="MARGIN", oms_type="NETTING",
                                             default_leverage=Decimal(10))
    node = TradingNode(TradingNodeConfig(
        trader_id=TraderId(settings.trader_id), logging=LoggingConfig(log_level=settings.log_level),
        exec_clients={REPLAY_VENUE: execution}, timeout_connection=5.0, timeout_reconciliation=1.0,
        timeout_portfolio=1.0, timeout_disconnection=1.0, timeout_post_stop=0.0), loop=loop)
    node.add_exec_client_factory(REPLAY_VENUE, SandboxLiveExecClientFactory)
    return node


def build_paper_session(config: ControllerConfig, source: Any, writer: Any, *, settings: LoopSettings,
                        strategies: Sequence[SessionStrategyFactory] | None = None,
                        params: TradingParams | None = None, guard_config: GuardConfig | None = None,
                        say: Callable[[str], None] = print) -> PaperSession:
    """Build (not run) the paper loop on the replay feed (see the module docstring).

    source : the health ``SignalSource`` the Actor reads (the Hazelcast health service).
    writer : where the publishers write (a ``HealthWriter``, or anything with ``publish_many``).
    strategies : default one ``DolphinStrategy`` with ``params``.
    guard_config : default the guard sized like ``params`` (same ``base_fraction``, flatten rule).
    """
    params = params or TradingParams()
    if guard_config is None:
        guard_config = GuardConfig(base_fraction=params.base_fraction,
                                   flatten_on_hibernate=params.flatten_on_hibernate)
    if strategies is None:
        strategies = [dolphin(params)]
    kind, arg = parse_feed(settings.feed)
    if kind != "replay":
        raise PaperNodeError("build_paper_session: the binance feed runs through build_paper_node")
    if not settings.speed > 0:
        raise PaperNodeError(f"--speed: expected a factor > 0, got {settings.speed!r}")
    bad = sorted(set(settings.stand_ins) - set(STAND_INS))
    if bad:
        raise PaperNodeError(f"--stand-ins: {', '.join(bad)} not known (expected some of {', '.join(STAND_INS)})")
    table = load_price_table(arg)
    instruments = replay_instruments(table.names[: settings.assets] if settings.assets else table.names)
    if settings.assets:
        table = type(table)(table.path, table.t_s, table.names[: settings.assets], table.prices[:, : settings.assets])
    controller = SurvivalController(config)
    node = _replay_node(settings, asyncio.new_event_loop())
    queued = QueuedWriter(writer)
    ids = [i.id for i in instruments]
    recording = RecordingSource(source)
    recorder = PaperRecorder(controller.signal_names, [layer.name for layer in config.layers], REPLAY_VENUE, ids,
                             recording, say)
    publisher = HealthPublisher(queued, REPLAY_VENUE, ids, settings.stand_ins)
    known = set(publisher.publishers)
    for f in settings.faults:
        if f.target not in known:
            raise PaperNodeError(f"--fault: target {f.target!r} is not a running publisher "
                                 f"(expected one of {', '.join(sorted(known))})")
    gate = add_posture_gate(node, guard_config)
    session = PaperSession(node, controller, recorder, publisher, gate, queued, instruments=instruments)
    feed = ReplayFeed(table, instruments, settings.speed, loop=True, on_row=session.on_row)
    session.feed = feed
    feed_source = LiveSignalFeed(recording, loop=node.get_event_loop(), owns_source=False)
    clock = node.kernel.clock

    def ready() -> bool:  # every signal has a first record (the twin's sensors all have one at t = 0)
        values = source.signals(clock.timestamp())
        return all(math.isfinite(float(values.get(n, math.nan))) for n in controller.signal_names)

    actor = SurvivalActor(controller, feed_source, SurvivalActorConfig(interval_s=settings.interval_s), ready=ready)
    for component in (recorder, publisher, feed, actor):
        node.trader.add_actor(component)
    if settings.faults:
        node.trader.add_actor(FaultScript(settings.faults, publisher, recorder))
    for factory in strategies:
        strategy = factory(PostureGuard(guard_config), instruments, session)
        node.trader.add_strategy(strategy)
        if callable(getattr(strategy, "scan", None)):
            session.scanners.append(strategy)
    node.build()
    for instrument in instruments:
        node.kernel.cache.add_instrument(instrument)
    return session
