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

from adapters.nautilus import GuardedStrategy, LiveSignalFeed, PaperNodeError, PostureGuard, SurvivalActor
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


def test_actor_in_a_running_live_node_ticks_and_steps_at_once_on_a_foreign_thread_event() -> None:
    """A real (network-free) TradingNode: 1 s LiveClock timer steps, then a Hazelcast-style
    callback from another thread produces an immediate HIBERNATE step on the node's loop."""
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
    node.trader.add_actor(SurvivalActor(SurvivalController(default_config()), LiveSignalFeed(source, loop=loop)))
    node.trader.add_actor(recorder)
    node.build()

    def outage() -> None:
        time.sleep(1.6)
        source.values["hz.quorum"] = 0.0
        for callback in source.callbacks:
            callback()  # on this foreign thread, like the Hazelcast reactor
        time.sleep(0.3)
        loop.call_soon_threadsafe(node.stop)

    threading.Thread(target=outage, daemon=True).start()
    try:
        node.run()
    finally:
        node.dispose()
    decisions = recorder.decisions
    ticks = [d for d in decisions if d.trigger == "timer"]
    assert len(ticks) >= 2 and all(b.ts_event - a.ts_event == 1_000_000_000 for a, b in zip(ticks, ticks[1:]))
    assert [d.posture for d in ticks[:2]] == ["APEX", "APEX"]
    event = decisions[-1]
    assert event.trigger == "invariant:event" and event.posture == "HIBERNATE" and event.r_total == 0.0
    assert (event.ts_event - ticks[0].ts_event) % 1_000_000_000 != 0  # not on the timer: at once
