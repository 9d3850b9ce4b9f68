"""Paper-loop figures for ``nautilus_bench.py`` (a helper, not a ``*_bench.py`` script).

* :func:`grid_to_cancel_ms` — end to end in a running paper node: a health record written into
  the grid (``ledger.consistent`` = 0, by another client) → the health service's entry event →
  the survival Actor's immediate HIBERNATE decision → the posture gate's cancel of the resting
  entry → ``cancel_order`` reaching the sandbox venue's execution client. Against three real
  Hazelcast 5.7.0 members started for it (``infra.LocalCluster``; ``NOR_HZ_MEMBERS`` names another
  cluster). The controller's dwell times are 0 and the
  ledger layer recovers at once, so a flip cycle takes ~1 s.
* :func:`per_quote_cost_us` — the DolphinStrategy's added cost per quote inside a
  ``BacktestEngine`` (the sample prices, with and without the strategy).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from decimal import Decimal

import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig, LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import ClientId, TraderId, Venue
from nautilus_trader.model.objects import Money

from adapters.hazelcast import HazelcastHealthService, HealthWriter, build_client, load_hz_config
from adapters.nautilus import DECISION_DATA_TYPE, GuardedStrategy, SurvivalDecisionData
from adapters.nautilus.dolphin import DolphinStrategy
from adapters.nautilus.guard import GuardConfig, PostureGuard
from adapters.nautilus.paper import age_limits_s
from adapters.nautilus.paper_loop import LoopSettings, build_paper_session
from adapters.nautilus.prices import load_price_table, quote_at, replay_instruments
from controller import SurvivalController, apply_overrides, default_config

__all__ = ["grid_to_cancel_ms", "per_quote_cost_us", "summary"]


class RestingEntry(GuardedStrategy):
    """Keeps one post-only bid resting on the first instrument while entries are allowed."""

    def __init__(self, instrument, guard: PostureGuard) -> None:
        super().__init__(StrategyConfig(strategy_id="BENCH-REST"), guard)
        self.instrument = instrument

    def on_decision(self, d: SurvivalDecisionData) -> None:
        if not d.entries_allowed or self.cache.orders_open(strategy_id=self.id) or \
                self.cache.orders_inflight(strategy_id=self.id):
            return
        q = self.cache.quote_tick(self.instrument.id)
        if q is not None:
            price = self.instrument.make_price(q.bid_price.as_double() * 0.99)
            self.submit_guarded(self.order_factory.limit(self.instrument.id, OrderSide.BUY,
                                                         self.instrument.make_qty(1.0), price, post_only=True))


def _fast_config():
    postures = {p: {"min_dwell_s": 0.0} for p in ("stalker", "turtle", "hibernate")}
    return apply_overrides(default_config(), {"postures": postures,
                                              "layers": {"ledger": {"recovery_per_min": 600.0}}}, "bench")


def grid_to_cancel_ms(flips: int = 30) -> tuple[list[float], int, str]:
    """Wall ms per flip from the grid write to the cancel at the sandbox venue; unpaired flips."""
    member, cluster_name = None, os.environ.get("NOR_HZ_CLUSTER", "dev")
    members = os.environ.get("NOR_HZ_MEMBERS")
    if not members:   # three real Hazelcast 5.7.0 members (infra/), unless NOR_HZ_MEMBERS names a cluster
        from infra import LocalCluster
        member = LocalCluster(3).start()
        members, cluster_name = ",".join(member.client_addresses), member.settings.cluster_name
    cfg = load_hz_config(env={}, members=tuple(members.split(",")), cluster_name=cluster_name,
                         map_name=f"NOR_BENCH_PAPER_{os.getpid()}", probe_interval_s=0.1, connect_timeout_s=20.0)
    config = _fast_config()
    ctl = SurvivalController(config)
    service = HazelcastHealthService(cfg, ctl.signal_names, ctl.invariant_signals, heartbeat="record",
                                     age_limits_s=age_limits_s(config)).start()   # as nor paper reads the grid
    clients = [build_client(cfg, near_cache=False, async_start=False) for _ in range(2)]
    session = build_paper_session(config, service.watchdog, HealthWriter(clients[0], cfg.map_name),
                                  settings=LoopSettings(speed=1.0, stand_ins=("mc_forewarner", "exf", "esof"), assets=2,
                                                        log_level="ERROR"),
                                  strategies=[lambda guard, inst, s: RestingEntry(inst[0], guard)],
                                  say=lambda line: None)
    session.publisher.pause("ledger")   # the benchmark's own writer owns ledger.consistent
    exec_client = session.node.kernel.exec_engine._clients[ClientId("REPLAY")]
    cancels: list[int] = []
    inner = exec_client.cancel_order

    def stamped(command) -> None:
        cancels.append(time.perf_counter_ns())
        inner(command)

    exec_client.cancel_order = stamped
    bench_writer = HealthWriter(clients[1], cfg.map_name)
    bench_writer.publish("ledger.consistent", 1.0)
    written: list[tuple[int, int]] = []   # (write ns, cancels seen before it)
    loop = session.node.get_event_loop()

    def flipper() -> None:
        try:
            _wait(lambda: _resting(session), 60.0)
            for _ in range(flips):
                if not _wait(lambda: _resting(session), 10.0):
                    break
                n = len(cancels)
                written.append((time.perf_counter_ns(), n))
                bench_writer.publish("ledger.consistent", 0.0)
                _wait(lambda: len(cancels) > n, 5.0)
                bench_writer.publish("ledger.consistent", 1.0)
        finally:
            loop.call_soon_threadsafe(session.node.stop)

    threading.Thread(target=flipper, daemon=True).start()
    session.run(None, say=lambda line: None)
    service.stop()
    for c in clients:
        c.get_map(cfg.map_name).destroy() if c is clients[1] else None
        c.shutdown()
    if member is not None:
        member.stop()
    latencies = [(cancels[n] - t0) / 1e6 for t0, n in written if len(cancels) > n]
    where = f"{type(member).__name__}(3 real members)" if member is not None else members
    return latencies, flips - len(latencies), where


def _resting(session) -> bool:
    cache = session.node.kernel.cache
    return any(not o.is_reduce_only and o.is_open for o in cache.orders_open())


def _wait(pred, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


class _Apex(Actor):
    """Publishes an APEX decision every second of engine time."""

    def on_start(self) -> None:
        from datetime import timedelta
        self.clock.set_timer("apex", timedelta(seconds=1), callback=self._tick, fire_immediately=True)

    def _tick(self, event) -> None:
        self.publish_data(DECISION_DATA_TYPE, SurvivalDecisionData(
            ts_event=event.ts_event, ts_init=event.ts_event, t_s=0.0, r_total=1.0, posture="APEX", max_leverage=6.0,
            entries_allowed=True, taker_allowed=True, invariant_broken=False, layers_json="{}"))


class _RowScanning(DolphinStrategy):
    """Scans when the last instrument's quote of a row arrives (rows are published in asset order)."""

    def on_quote_tick(self, tick) -> None:
        if tick.instrument_id == self.instruments[-1].id:
            self.scan([self.cache.quote_tick(i.id).bid_price.as_double() for i in self.instruments])


def _cost_run(with_strategy: bool, rows: int) -> tuple[float, int]:
    table = load_price_table("sample")
    instruments = replay_instruments(table.names)
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-BENCH-Q"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(Venue("REPLAY"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(100_000, USDT)], default_leverage=Decimal(10))
    quotes = []
    origin = 1_704_067_200_000_000_000
    for inst in instruments:
        engine.add_instrument(inst)
    for r in range(rows):
        ts = origin + int(table.t_s[r % len(table.t_s)] * 1e9) + (r // len(table.t_s)) * int(table.span_s * 1e9)
        quotes += [quote_at(inst, float(table.prices[r % len(table.t_s), j]), ts, ts) for j, inst in enumerate(instruments)]
    engine.add_data(quotes)
    engine.add_actor(_Apex(ActorConfig(component_id="APEX")))
    if with_strategy:
        engine.add_strategy(_RowScanning(instruments, PostureGuard(GuardConfig(base_fraction=0.1))))
    started = time.perf_counter()
    engine.run()
    wall = time.perf_counter() - started
    engine.dispose()
    return wall, len(quotes)


def per_quote_cost_us(rows: int = 1441) -> tuple[float, int]:
    """(µs per quote added by the DolphinStrategy, quotes)."""
    base = min(_cost_run(False, rows)[0] for _ in range(2))
    with_strategy, n = min((_cost_run(True, rows) for _ in range(2)), key=lambda r: r[0])
    return (with_strategy - base) / n * 1e6, n


def summary(values: list[float]) -> str:
    arr = np.asarray(values)
    return (f"median {statistics.median(values):.2f} ms, p99 {float(np.percentile(arr, 99)):.2f} ms, "
            f"max {arr.max():.2f} ms")
