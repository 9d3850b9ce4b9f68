"""Building the paper-trading node offline (no network is touched by ``build``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping

import pytest
from nautilus_trader.adapters.sandbox.execution import SandboxExecutionClient
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.enums import TradingState

from adapters.nautilus import DECISION_DATA_TYPE, GuardedStrategy, LiveSignalFeed, PaperNodeError, PostureGate, PostureGuard, SurvivalActor
from adapters.nautilus.paper import PaperSettings, build_paper_node
from controller import NOMINAL_SIGNALS, default_config

ENV = {"BINANCE_API_KEY": "offline-test-key", "BINANCE_API_SECRET": "offline-test-secret",
       "NOR_HZ_MEMBERS": "127.0.0.1:5701"}


class FixedSource:
    """A SignalSource serving fixed signals (stands in for the grid when building offline)."""

    def __init__(self, signals: Mapping[str, float]) -> None:
        self.values = dict(signals)
        self.callbacks: list[Callable[[], None]] = []

    def signals(self, now_s: float) -> Mapping[str, float]:
        return self.values

    def on_invariant_change(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)


def test_paper_node_builds_offline_with_actor_guard_and_sandbox() -> None:
    guards: list[PostureGuard] = []

    def strategy(guard: PostureGuard) -> GuardedStrategy:
        guards.append(guard)
        return GuardedStrategy(StrategyConfig(strategy_id="DOLPHIN-001"), guard)

    node = build_paper_node(default_config(), settings=PaperSettings(log_level="WARNING"),
                            source=FixedSource(NOMINAL_SIGNALS), strategies=[strategy], environ=ENV)
    try:
        assert node.is_built()
        actors = node.trader.actors()
        assert any(isinstance(a, SurvivalActor) for a in actors)
        actor = next(a for a in actors if isinstance(a, SurvivalActor))
        assert isinstance(actor.source, LiveSignalFeed)
        assert [s.id.value.split("-")[0] for s in node.trader.strategies()] == ["DOLPHIN"]
        assert guards and guards[0]._strategy is node.trader.strategies()[0]
        clients = node.kernel.exec_engine.registered_clients
        assert [c.value for c in clients] == ["BINANCE"]
        assert isinstance(node.kernel.exec_engine._clients[clients[0]], SandboxExecutionClient)
        assert [c.value for c in node.kernel.data_engine.registered_clients] == ["BINANCE"]
        assert node.kernel.risk_engine.trading_state == TradingState.ACTIVE
        gate = next(a for a in actors if isinstance(a, PostureGate))  # the node-level pre-trade check
        bus = node.kernel.msgbus
        assert bus.is_subscribed(f"data.{DECISION_DATA_TYPE.topic}", gate._on_decision_data)
        assert gate._forward["ExecEngine.execute"] == node.kernel.exec_engine.execute
    finally:
        node.dispose()


def test_default_health_source_is_the_hazelcast_service_not_yet_connected() -> None:
    from adapters.hazelcast import HazelcastHealthService

    env = dict(ENV, NOR_HZ_MEMBERS="10.1.2.3:5701,10.1.2.4:5702")
    node = build_paper_node(default_config(), settings=PaperSettings(log_level="WARNING"), environ=env)
    try:
        actor = next(a for a in node.trader.actors() if isinstance(a, SurvivalActor))
        service = actor.source.source
        assert isinstance(service, HazelcastHealthService) and actor.source.owns_source
        assert service.cfg.members == ("10.1.2.3:5701", "10.1.2.4:5702")
        assert set(service.watchdog.signal_names) == set(actor.controller.signal_names)
        assert service._client is None  # building connected nothing; the Actor's start will
    finally:
        node.dispose()


def test_bad_hazelcast_settings_are_reported_as_such() -> None:
    with pytest.raises(PaperNodeError, match="Hazelcast settings: .*NOR_HZ_MEMBERS"):
        build_paper_node(default_config(), environ=dict(ENV, NOR_HZ_MEMBERS="no-port-here"))


def test_missing_credentials_are_named() -> None:
    env = {k: v for k, v in ENV.items() if not k.startswith("BINANCE")}
    with pytest.raises(PaperNodeError, match="BINANCE_API_KEY and BINANCE_API_SECRET must be set"):
        build_paper_node(default_config(), source=FixedSource({}), environ=env)


def test_health_comes_from_hazelcast_members_or_a_clear_error() -> None:
    env = {k: v for k, v in ENV.items() if k != "NOR_HZ_MEMBERS"}
    with pytest.raises(PaperNodeError, match="NOR_HZ_MEMBERS is not set"):
        build_paper_node(default_config(), environ=env)


@pytest.mark.parametrize("settings, field", [
    (PaperSettings(venue="KRAKEN"), "venue"),
    (PaperSettings(instrument_ids=("BTCUSDT.BYBIT",)), "instrument_ids"),
    (PaperSettings(instrument_ids=("nonsense",)), "instrument_ids"),
    (PaperSettings(binance_account_type="COIN"), "binance_account_type"),
    (PaperSettings(interval_s=0.0), "interval_s"),
])
def test_bad_settings_name_the_field(settings: PaperSettings, field: str) -> None:
    with pytest.raises(PaperNodeError, match=f"PaperSettings.{field}"):
        build_paper_node(default_config(), settings=settings, source=FixedSource({}), environ=ENV)


def test_not_a_controller_config_is_refused() -> None:
    with pytest.raises(PaperNodeError, match="expected a ControllerConfig"):
        build_paper_node("survival.toml", source=FixedSource({}), environ=ENV)  # type: ignore[arg-type]


def test_live_feed_moves_foreign_thread_invariant_events_onto_the_loop() -> None:
    loop = asyncio.new_event_loop()
    source = FixedSource({"hz.quorum": 0.0})
    feed = LiveSignalFeed(source, origin_ns=0, loop=loop)
    seen: list[tuple[str, int]] = []
    feed.bind(lambda reason, reading: seen.append((reason, threading.get_ident())), frozenset({"hz.quorum"}))
    worker = threading.Thread(target=source.callbacks[0])
    worker.start()
    worker.join()
    assert seen == []  # not run on the foreign thread
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert seen == [("invariant:event", threading.get_ident())]
    assert feed.read(1_700_000_000_500_000_000) == (1_700_000_000.5, {"hz.quorum": 0.0})


def test_a_failing_source_reads_as_no_signals() -> None:
    class Broken(FixedSource):
        def signals(self, now_s: float) -> Mapping[str, float]:
            raise ConnectionError("grid unreachable")

    feed = LiveSignalFeed(Broken({}))
    assert feed.read(5_000_000_000) == (5.0, {})
    assert feed.read_errors == 1


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_live_feed_without_a_loop_never_steps_on_a_foreign_thread() -> None:
    source = FixedSource({"hz.quorum": 0.0})
    feed = LiveSignalFeed(source)  # no loop given, bound outside any running loop (like a backtest)
    seen: list[tuple[str, int]] = []
    feed.bind(lambda reason, reading: seen.append((reason, threading.get_ident())), frozenset({"hz.quorum"}))
    assert feed.loop is None
    worker = threading.Thread(target=source.callbacks[0])
    worker.start()
    worker.join()
    assert seen == [] and feed.deferred_events == 1, "not run on the foreign thread: deferred"
    assert feed.after_timer(0) == [("deferred:invariant:event", None)], "served at the next timer tick"
    assert feed.after_timer(0) == [] and feed.deferred_events == 0
    source.callbacks[0]()  # on the Actor's own thread: at once
    assert seen == [("invariant:event", threading.get_ident())]


def test_live_feed_bound_inside_a_running_loop_hands_foreign_events_to_it() -> None:
    loop = asyncio.new_event_loop()
    source = FixedSource({"hz.quorum": 0.0})
    feed = LiveSignalFeed(source)
    seen: list[tuple[str, int]] = []

    async def start() -> None:  # the Actor starts inside the node's running loop
        feed.bind(lambda reason, reading: seen.append((reason, threading.get_ident())), frozenset())

    loop.run_until_complete(start())
    assert feed.loop is loop
    worker = threading.Thread(target=source.callbacks[0])
    worker.start()
    worker.join()
    assert seen == [] and feed.deferred_events == 0
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert seen == [("invariant:event", threading.get_ident())]


def test_foreign_thread_event_in_a_backtest_is_stepped_on_the_engine_thread_at_the_next_tick() -> None:
    """A LiveSignalFeed with no loop inside a BacktestEngine: a callback fired from another thread
    produces a decision on the engine's thread at the next timer tick, never on the foreign one."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.config import ActorConfig, LoggingConfig
    from nautilus_trader.model.data import QuoteTick
    from nautilus_trader.model.identifiers import TraderId
    from nautilus_trader.model.objects import Quantity
    from nautilus_trader.test_kit.providers import TestInstrumentProvider

    from adapters.nautilus import DecisionRecorder
    from controller import SurvivalController

    origin = 1_704_067_200_000_000_000
    instrument = TestInstrumentProvider.btcusdt_binance()
    source = FixedSource(NOMINAL_SIGNALS)

    class ThreadRecorder(DecisionRecorder):
        def on_data(self, data) -> None:
            super().on_data(data)
            self.threads = getattr(self, "threads", []) + [threading.get_ident()]

    class ForeignFirer(Actor):
        """On the third quote, flips quorum and fires the callbacks from another thread."""

        def __init__(self) -> None:
            super().__init__(ActorConfig(component_id="ForeignFirer"))
            self.quotes = 0
            self.decisions_before = -1  # decisions published before the foreign-thread event

        def on_start(self) -> None:
            self.subscribe_quote_ticks(instrument.id)

        def on_quote_tick(self, tick: QuoteTick) -> None:
            self.quotes += 1
            if self.quotes == 3:
                self.decisions_before = len(recorder.decisions)
                source.values["hz.quorum"] = 0.0
                worker = threading.Thread(target=lambda: [cb() for cb in source.callbacks])
                worker.start()
                worker.join()

    from decimal import Decimal

    from nautilus_trader.model.currencies import USDT
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-DEFER-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(1_000_000, USDT)], default_leverage=Decimal(1))
    engine.add_instrument(instrument)
    size, px = Quantity.from_str("1.000000"), instrument.make_price(40_000.0)
    engine.add_data([QuoteTick(instrument.id, px, px, size, size, origin + i * 10**9 + 5 * 10**8,
                               origin + i * 10**9 + 5 * 10**8) for i in range(6)])
    recorder, firer = ThreadRecorder(), ForeignFirer()
    engine.add_actor(SurvivalActor(SurvivalController(default_config()), LiveSignalFeed(source)))
    engine.add_actor(firer)
    engine.add_actor(recorder)
    engine_thread = threading.get_ident()
    try:
        engine.run()
    finally:
        engine.dispose()
    assert set(recorder.threads) == {engine_thread}, "every decision was published on the engine's thread"
    deferred = [d for d in recorder.decisions if d.trigger.startswith("deferred:")]
    assert len(deferred) == 1 and deferred[0].posture == "HIBERNATE"
    after = recorder.decisions[firer.decisions_before:]
    assert after[0].trigger == "timer" and after[1] is deferred[0], "stepped right after the next timer tick"
    assert after[1].ts_event == after[0].ts_event


def test_actor_in_a_running_live_node_ticks_and_steps_at_once_on_a_foreign_thread_event() -> None:
    """A real (network-free) TradingNode: LiveClock timer steps every 1 s, then a Hazelcast-style
    callback from another thread produces an immediate HIBERNATE step on the node's loop. The
    feed is given no loop: it takes the node's running loop when the Actor starts. Every wait is
    on a condition (generous timeouts): the node may start slowly on a loaded machine."""
    from nautilus_trader.config import LoggingConfig, TradingNodeConfig
    from nautilus_trader.live.node import TradingNode
    from nautilus_trader.model.identifiers import TraderId

    from adapters.nautilus import DecisionRecorder
    from controller import SurvivalController

    node = TradingNode(TradingNodeConfig(
        trader_id=TraderId("NOR-LIVE-001"), logging=LoggingConfig(log_level="ERROR"),
        timeout_connection=1.0, timeout_reconciliation=1.0, timeout_portfolio=1.0,
        timeout_disconnection=1.0, timeout_post_stop=0.0), loop=asyncio.new_event_loop())
    source = FixedSource(NOMINAL_SIGNALS)
    loop = node.get_event_loop()
    recorder = DecisionRecorder()
    feed = LiveSignalFeed(source)
    node.trader.add_actor(SurvivalActor(SurvivalController(default_config()), feed))
    node.trader.add_actor(recorder)
    node.build()
    threads: dict[str, int] = {}

    def timer_ticks() -> int:
        return sum(1 for d in list(recorder.decisions) if d.trigger == "timer")

    def outage() -> None:
        try:
            threads["ticked"] = _wait_for(lambda: timer_ticks() >= 2, 60.0)
            source.values["hz.quorum"] = 0.0
            threads["foreign"] = threading.get_ident()
            for callback in source.callbacks:
                callback()  # on this foreign thread, like the Hazelcast reactor
            threads["stepped"] = _wait_for(lambda: any(d.trigger != "timer" for d in list(recorder.decisions)), 60.0)
        finally:
            loop.call_soon_threadsafe(node.stop)

    threading.Thread(target=outage, daemon=True).start()
    try:
        node.run()
    finally:
        node.dispose()
    assert threads.get("ticked") and threads.get("stepped"), f"the node never got that far: {threads}"
    assert feed.loop is loop, "the feed took the node's running loop"
    decisions = recorder.decisions
    ticks = [d for d in decisions if d.trigger == "timer"]
    assert len(ticks) >= 2 and all(b.ts_event - a.ts_event == 1_000_000_000 for a, b in zip(ticks, ticks[1:]))
    assert [d.posture for d in ticks[:2]] == ["APEX", "APEX"]
    event = next(d for d in decisions if d.trigger != "timer")
    assert event.trigger == "invariant:event" and event.posture == "HIBERNATE" and event.r_total == 0.0
    assert (event.ts_event - ticks[0].ts_event) % 1_000_000_000 != 0  # not on the timer: at once


def test_build_only_needs_no_credentials_and_no_grid() -> None:
    node = build_paper_node(default_config(), settings=PaperSettings(log_level="WARNING"), environ={}, build_only=True)
    try:
        assert node.is_built() and any(isinstance(a, PostureGate) for a in node.trader.actors())
    finally:
        node.dispose()
    with pytest.raises(PaperNodeError, match="BINANCE_API_KEY and BINANCE_API_SECRET must be set"):
        build_paper_node(default_config(), environ={"NOR_HZ_MEMBERS": "127.0.0.1:5701"})
