"""The whole paper loop in one ``TradingNode``: market data → scanner and health publishers →
Hazelcast grid → survival Actor → DOLPHIN strategy → node-level posture gate → sandbox fills,
recorded in the twin's trace schemas.

:func:`build_paper_session` builds it (no network: the grid writer is made by ``writer_factory``
only when the session runs); :meth:`PaperSession.run` runs it for a duration (or until Ctrl-C)
and returns the trace tables. Feeds: ``replay:PATH`` / ``replay:sample`` (a price file played
at ``speed`` × its pace on the ``REPLAY`` venue, offline) or ``binance`` (Nautilus's Binance data
client streaming ``instrument_ids``, sampled for the scanner every 5 s, sandbox fills on
``BINANCE``; see :mod:`.paper_nodes`). Scripted faults pause a publisher or run a
:class:`FaultAction` (a member's loss: ``scenarios.paper_faults``).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.live.node import TradingNode

from controller import ControllerConfig, SurvivalController
from trading import TradingParams

from .actor import SurvivalActor, SurvivalActorConfig
from .errors import PaperNodeError
from .feed import QuoteSampler, ReplayFeed
from .gate import PostureGate, add_posture_gate
from .guard import GuardConfig, PostureGuard
from .health import STAND_INS, HealthPublisher, QueuedWriter
from .paper_nodes import binance_node, replay_node
from .prices import REPLAY_VENUE, load_price_table, replay_instruments
from .session import PaperRecorder, RecordingSource
from .sources import LiveSignalFeed

__all__ = ["FaultAction", "LoopSettings", "PaperFault", "PaperSession", "build_paper_session", "dolphin", "parse_feed"]

SessionStrategyFactory = Callable[[PostureGuard, Sequence[Any], Any], Any]
"""(guard, instruments, session) → a strategy; ``session`` gives it the health publisher."""


@dataclass(frozen=True)
class PaperFault:
    """From ``at_s`` for ``for_s`` seconds of the session (``inf``: to its end): pause one publisher
    (``book``, ``heartbeat``, ``drawdown``, ``ledger``, a stand-in: its records stop, their
    age grows), or run the :class:`FaultAction` registered for ``target`` (e.g. a member's loss)."""

    target: str
    at_s: float
    for_s: float = math.inf


class FaultAction(Protocol):
    """A scripted fault outside the node (e.g. SIGKILL a cluster member): ``start`` at the fault's
    time, ``end`` when it ends; each returns the details recorded in ``events``."""

    def start(self, fault: PaperFault) -> Mapping[str, Any]: ...

    def end(self, fault: PaperFault) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class LoopSettings:
    """feed: ``replay:sample``, ``replay:PATH`` or ``binance``; speed: replay pace factor;
    stand_ins: external services to stand in for; faults: scripted faults; instrument_ids: the
    Binance feed's instruments (``SYMBOL.BINANCE``); assets: the replay's first N columns only."""

    feed: str = "replay:sample"
    speed: float = 1.0
    stand_ins: tuple[str, ...] = ()
    faults: tuple[PaperFault, ...] = ()
    starting_balance: str = "100000 USDT"
    interval_s: float = 1.0
    trader_id: str = "NOR-PAPER-001"
    log_level: str = "WARNING"
    assets: int | None = None
    instrument_ids: tuple[str, ...] = ("BTCUSDT.BINANCE",)


def parse_feed(text: str) -> tuple[str, str]:
    """``replay:PATH`` → ("replay", PATH); ``binance`` → ("binance", ""); else PaperNodeError."""
    if text == "binance":
        return "binance", ""
    kind, _, arg = text.partition(":")
    if kind == "replay" and arg:
        return "replay", arg
    raise PaperNodeError(f"--feed: expected 'replay:sample', 'replay:PATH' or 'binance', got {text!r}")


def dolphin(params: Any = None) -> SessionStrategyFactory:
    """The DOLPHIN strategy for a session: on a replay feed market time is the replay's and it acts
    once a scanned row's quotes are in; on a live feed it subscribes to the data client's quotes
    and market time is the node's."""
    from .dolphin import DolphinStrategy

    def make(guard: PostureGuard, instruments: Sequence[Any], session: "PaperSession") -> Any:
        if session.live:
            return DolphinStrategy(instruments, guard, params, live_quotes=True)
        return DolphinStrategy(instruments, guard, params, market_time_s=lambda: session.market_t_s,
                               act_after_quotes=True)

    return make


class FaultScript(Actor):
    """Starts and ends scripted faults at session times (recorded as events): a publisher paused
    and resumed, or a registered :class:`FaultAction` run."""

    def __init__(self, faults: Sequence[PaperFault], publisher: HealthPublisher, recorder: PaperRecorder,
                 actions: Mapping[str, FaultAction] | None = None) -> None:
        super().__init__(ActorConfig(component_id="FaultScript"))
        self.faults, self.publisher, self.recorder = list(faults), publisher, recorder
        self.actions = dict(actions or {})

    def on_start(self) -> None:
        for i, f in enumerate(self.faults):
            steps = [("on", f.at_s, self._fault_on)]
            if math.isfinite(f.for_s):
                steps.append(("off", f.at_s + f.for_s, self._fault_off))
            for suffix, delay, act in steps:
                self.clock.set_time_alert(f"nor-fault-{i}-{suffix}", self.clock.utc_now() + pd.Timedelta(
                    timedelta(seconds=delay)), callback=lambda _e, f=f, act=act: act(f))

    def on_stop(self) -> None:
        pass

    def _fault_on(self, f: PaperFault) -> None:
        action = self.actions.get(f.target)
        try:
            detail = dict(action.start(f)) if action is not None else self._pause(f)
        except Exception as exc:  # noqa: BLE001 - a fault that could not be applied is recorded, not a crash
            detail = {"kind": "fault_failed", "error": f"{type(exc).__name__}: {exc}"}
            self.log.error(f"fault {f.target}@{f.at_s:g}s could not be applied: {detail['error']}")
        for_s = f.for_s if math.isfinite(f.for_s) else None   # None: to the session's end
        self.recorder.event(None, "fault", f.target, {**detail, "for_s": for_s})

    def _pause(self, f: PaperFault) -> dict:
        self.publisher.pause(f.target)
        return {"kind": "publisher_stopped"}

    def _fault_off(self, f: PaperFault) -> None:
        action = self.actions.get(f.target)
        if action is not None:
            detail = dict(action.end(f))
        else:
            self.publisher.resume(f.target)
            detail = {"kind": "publisher_stopped"}
        self.recorder.event(None, "fault_end", f.target, detail)


@dataclass
class PaperSession:
    """A built paper loop; :meth:`run` runs it."""

    node: TradingNode
    controller: SurvivalController
    recorder: PaperRecorder
    publisher: HealthPublisher
    gate: PostureGate
    writer: QueuedWriter
    feed: ReplayFeed | QuoteSampler | None = None
    instruments: list = field(default_factory=list)
    live: bool = False
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


def build_paper_session(config: ControllerConfig, source: Any, writer: Any, *, settings: LoopSettings,
                        strategies: Sequence[SessionStrategyFactory] | None = None,
                        params: TradingParams | None = None, guard_config: GuardConfig | None = None,
                        say: Callable[[str], None] = print,
                        fault_actions: Mapping[str, FaultAction] | None = None,
                        environ: Mapping[str, str] | None = None, build_only: bool = False) -> PaperSession:
    """Build (not run) the paper loop (see the module docstring).

    source : the health ``SignalSource`` the Actor reads (the Hazelcast health service).
    writer : where the publishers write (a ``HealthWriter``, or anything with ``publish_many``).
    strategies : default one ``DolphinStrategy`` with ``params``.
    guard_config : default the guard sized like ``params`` (same ``base_fraction``, flatten rule).
    fault_actions : what a fault on a target that is not a publisher does (e.g. ``member2``).
    environ, build_only : where the Binance feed's keys are read (default ``os.environ``); a node
        built only needs none (it is never connected).
    """
    params = params or TradingParams()
    if guard_config is None:
        guard_config = GuardConfig(base_fraction=params.base_fraction,
                                   flatten_on_hibernate=params.flatten_on_hibernate)
    if strategies is None:
        strategies = [dolphin(params)]
    kind, arg = parse_feed(settings.feed)
    if not settings.speed > 0:
        raise PaperNodeError(f"--speed: expected a factor > 0, got {settings.speed!r}")
    bad = sorted(set(settings.stand_ins) - set(STAND_INS))
    if bad:
        raise PaperNodeError(f"--stand-ins: {', '.join(bad)} not known (expected some of {', '.join(STAND_INS)})")
    if kind == "replay":
        table = load_price_table(arg)
        if settings.assets:
            table = type(table)(table.path, table.t_s, table.names[: settings.assets],
                                table.prices[:, : settings.assets])
        instruments = replay_instruments(table.names)
        node, venue, ids = replay_node(settings.trader_id, settings.log_level, settings.starting_balance), \
            REPLAY_VENUE, [i.id for i in instruments]
    else:
        node, ids = binance_node(settings.instrument_ids, settings.trader_id, settings.log_level,
                                 settings.starting_balance, os.environ if environ is None else environ, build_only)
        instruments, venue = list(ids), ids[0].venue.value
    controller = SurvivalController(config)
    queued = QueuedWriter(writer)
    recording = RecordingSource(source)
    recorder = PaperRecorder(controller.signal_names, [layer.name for layer in config.layers], venue, ids,
                             recording, say)
    publisher = HealthPublisher(queued, venue, ids, settings.stand_ins)
    known = set(publisher.publishers) | set(fault_actions or {})
    for f in settings.faults:
        if f.target not in known:
            raise PaperNodeError(f"--fault: target {f.target!r} is not a running publisher "
                                 f"(expected one of {', '.join(sorted(known))}, or member[<i>] on a cluster "
                                 "started by `nor infra up`)")
    gate = add_posture_gate(node, guard_config)
    session = PaperSession(node, controller, recorder, publisher, gate, queued, instruments=instruments,
                           live=kind != "replay")
    if kind == "replay":
        feed = ReplayFeed(table, instruments, settings.speed, loop=True, on_row=session.on_row)
    else:   # the data client streams the quotes; the scanner samples them every scan interval
        feed = QuoteSampler(ids, session.scan_interval_s, on_row=session.on_row)
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
        node.trader.add_actor(FaultScript(settings.faults, publisher, recorder, fault_actions))
    for factory in strategies:
        strategy = factory(PostureGuard(guard_config), instruments, session)
        node.trader.add_strategy(strategy)
        if callable(getattr(strategy, "scan", None)):
            session.scanners.append(strategy)
    node.build()
    if kind == "replay":
        for instrument in instruments:
            node.kernel.cache.add_instrument(instrument)
    return session
