"""NautilusTrader adapter: the survival Actor's cost inside the engine, and HIBERNATE latency.

Prints, measured in one run:
* the Actor's added cost per decision inside a ``BacktestEngine`` (the same replayed signal
  rows run once with the ``SurvivalActor`` and once with an Actor that only receives the
  rows and ticks the same timer; the difference divided by the decisions taken), next to
  the bare ``SurvivalController.step`` cost measured here too;
* the latency from an invariant event (a replayed row flipping ``hz.quorum`` to 0) to the
  guarded strategy's cancel of its working entry, in backtest time and in wall time
  (median, p99, max over many flips). The spec's bound is < 10 ms;
* in a running live ``TradingNode`` (no network): the wall time from an invariant callback
  fired on a foreign thread (as the Hazelcast client's reactor does) to the decision
  published on the node's event loop (quorum alternately lost and restored);
* the paper loop end to end (``paper_latency.py``): a health record written to the grid of three
  real Hazelcast members (started here; ``NOR_HZ_MEMBERS`` names another cluster) → HIBERNATE
  decision → the posture gate's cancel reaching the sandbox venue (median, p99; bound 10 ms), and
  the DolphinStrategy's cost per quote.

Each figure is printed with its stage's wall time, this process's CPU time (user + sys; the
members are separate ``java`` processes) and the load average: timings under load are not figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import threading
import time
from datetime import timedelta

import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import LoggingConfig, StrategyConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.core.data import Data
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from adapters.nautilus import (
    DEFAULT_ORIGIN_NS,
    REPLAY_CLIENT_ID,
    SIGNAL_ROW_DATA_TYPE,
    DecisionRecorder,
    GuardedStrategy,
    LiveSignalFeed,
    PostureGuard,
    ReplaySignalSource,
    SurvivalActor,
    SurvivalDecisionData,
    signal_trace_from_columns,
)
from controller import NOMINAL_SIGNALS, SurvivalController, default_config

COST_ROWS = 30_000
FLIP_CYCLES = 100
CYCLE_S = 240
BOUND_MS = 10.0


def signal_columns(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """1 s rows: nominal with noisy ages/latency and some drawdown (no invariant flips)."""
    rng = np.random.default_rng(seed)
    cols = {"t_s": np.arange(n, dtype=float)}
    for name, value in NOMINAL_SIGNALS.items():
        cols[name] = np.full(n, float(value))
    cols["mc_forewarner.age_s"] = rng.uniform(0.0, 60.0, n)
    cols["ob.latency_ms"] = rng.lognormal(3.7, 0.5, n)
    cols["portfolio.drawdown"] = np.abs(rng.normal(0.0, 0.02, n))
    return cols


class RowsOnlyActor(Actor):
    """Baseline: receives the same rows and ticks the same 1 s timer, decides nothing."""

    def on_start(self) -> None:
        self.subscribe_data(SIGNAL_ROW_DATA_TYPE)
        self.clock.set_timer("nor.baseline", timedelta(seconds=1), callback=self._tick, fire_immediately=True)

    def _tick(self, event) -> None:
        pass

    def on_data(self, data: Data) -> None:
        pass


def _engine(trader: str) -> BacktestEngine:
    return BacktestEngine(BacktestEngineConfig(trader_id=TraderId(trader),
                                               logging=LoggingConfig(log_level="ERROR")))


def run_rows(with_actor: bool, cols: dict[str, np.ndarray]) -> tuple[float, int]:
    engine = _engine("NOR-BENCH-001")
    source = ReplaySignalSource(signal_trace_from_columns("bench", cols))
    engine.add_data(source.events(), client_id=REPLAY_CLIENT_ID)
    actor = SurvivalActor(SurvivalController(default_config()), source) if with_actor else RowsOnlyActor()
    engine.add_actor(actor)
    started = time.perf_counter()
    engine.run()
    wall_s = time.perf_counter() - started
    engine.dispose()
    return wall_s, actor.decision_count if with_actor else 0


def bare_step_us(cols: dict[str, np.ndarray]) -> float:
    trace = signal_trace_from_columns("bench", cols)
    rows = [trace.row(i) for i in range(len(trace))]
    ctl = SurvivalController(default_config())
    started = time.perf_counter()
    for i, row in enumerate(rows):
        ctl.step(float(i), row)
    return (time.perf_counter() - started) / len(rows) * 1e6


class TimedSource(ReplaySignalSource):
    """Stamps the wall time at which each row reaches the source (the invariant event)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.event_wall_ns: dict[int, int] = {}

    def handle_data(self, data: Data) -> None:
        self.event_wall_ns[data.ts_event] = time.perf_counter_ns()
        super().handle_data(data)


class RestingStrategy(GuardedStrategy):
    """Keeps one post-only bid resting whenever entries are allowed; stamps its cancels."""

    def __init__(self, instrument, guard: PostureGuard) -> None:
        super().__init__(StrategyConfig(strategy_id="BENCH-001"), guard)
        self.instrument = instrument
        self.cancels: list[tuple[int, int]] = []  # (engine ns, wall ns)

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_quote_ticks(self.instrument.id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        if self.cache.orders_open(strategy_id=self.id):
            return
        price = self.instrument.make_price(tick.bid_price.as_double() * 0.99)
        order = self.order_factory.limit(self.instrument.id, OrderSide.BUY,
                                         Quantity.from_str("0.010000"), price, post_only=True)
        self.submit_guarded(order)

    def cancel_order(self, order, client_id=None, params=None):
        self.cancels.append((self.clock.timestamp_ns(), time.perf_counter_ns()))
        super().cancel_order(order, client_id, params)


def flip_columns() -> dict[str, np.ndarray]:
    cols = signal_columns(FLIP_CYCLES * CYCLE_S)
    t = cols["t_s"]
    cols["hz.quorum"] = np.where((t % CYCLE_S) >= CYCLE_S - 2, 0.0, 1.0)  # quorum lost 2 s per cycle
    return cols


def run_flips() -> tuple[list[float], list[float], int]:
    engine = _engine("NOR-BENCH-002")
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(1_000_000, USDT)])
    engine.add_instrument(instrument)
    n = FLIP_CYCLES * CYCLE_S
    size = Quantity.from_str("50.000000")
    quotes = [QuoteTick(instrument.id, instrument.make_price(40_000.0), instrument.make_price(40_001.0),
                        size, size, DEFAULT_ORIGIN_NS + i * 10**9 + 5 * 10**8, DEFAULT_ORIGIN_NS + i * 10**9 + 5 * 10**8)
              for i in range(n)]
    engine.add_data(quotes)
    source = TimedSource(signal_trace_from_columns("flips", flip_columns()))
    engine.add_data(source.events(), client_id=REPLAY_CLIENT_ID)
    strategy = RestingStrategy(instrument, PostureGuard())
    engine.add_actor(SurvivalActor(SurvivalController(default_config()), source))
    engine.add_strategy(strategy)
    engine.run()
    flips = flip_times_ns(source)
    sim_ms, wall_ms = [], []
    for ts_ns, wall_ns in strategy.cancels:
        i = int(np.searchsorted(flips, ts_ns, side="right")) - 1
        if i < 0:
            continue
        sim_ms.append((ts_ns - flips[i]) / 1e6)
        wall_ms.append((wall_ns - source.event_wall_ns[flips[i]]) / 1e6)
    engine.dispose()
    return sim_ms, wall_ms, len(strategy.cancels)


def flip_times_ns(source: ReplaySignalSource) -> list[int]:
    """Engine times of the rows where ``hz.quorum`` drops from 1 to 0."""
    trace = source.trace
    quorum = trace.values[:, trace.names.index("hz.quorum")]
    ts = trace.ts_ns(source.origin_ns)
    return [int(ts[i]) for i in range(1, len(quorum)) if quorum[i - 1] == 1.0 and quorum[i] == 0.0]


class FlipSource:
    """A SignalSource whose invariant callbacks the benchmark fires from its own thread."""

    def __init__(self) -> None:
        self.values = dict(NOMINAL_SIGNALS)
        self.callbacks: list = []

    def signals(self, now_s: float) -> dict[str, float]:
        return self.values

    def on_invariant_change(self, callback) -> None:
        self.callbacks.append(callback)


class StampingRecorder(DecisionRecorder):
    """Stamps the wall time of every event (non-timer) decision, keyed by its trigger."""

    def on_start(self) -> None:
        self.stamps: dict[str, list[int]] = {}
        self.timer_decisions = 0
        super().on_start()

    def on_data(self, data: Data) -> None:
        if isinstance(data, SurvivalDecisionData):
            if data.trigger == "timer":
                self.timer_decisions += 1
            else:
                self.stamps.setdefault(data.trigger, []).append(time.perf_counter_ns())


def _wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def run_live_flips(flips: int = 40) -> tuple[list[float], int]:
    """Wall ms from a foreign-thread invariant callback to the decision it caused (live node).

    Each flip's callback carries its own tag, so its decision (trigger ``invariant:<tag>``) is
    paired with it by name; a flip with no decision or with more than one is counted, not paired.
    """
    loop = asyncio.new_event_loop()
    node = TradingNode(TradingNodeConfig(
        trader_id=TraderId("NOR-BENCH-LIVE"), logging=LoggingConfig(log_level="ERROR"),
        timeout_connection=1.0, timeout_reconciliation=1.0, timeout_portfolio=1.0,
        timeout_disconnection=1.0, timeout_post_stop=0.0), loop=loop)
    source, recorder = FlipSource(), StampingRecorder()
    node.trader.add_actor(SurvivalActor(SurvivalController(default_config()), LiveSignalFeed(source, loop=loop)))
    node.trader.add_actor(recorder)
    node.build()
    fired: dict[str, int] = {}

    def flipper() -> None:
        try:
            if not _wait_for(lambda: getattr(recorder, "timer_decisions", 0) >= 1, 60.0):
                return  # the node never started: nothing measured
            for i in range(flips):
                tag = f"flip{i}"
                source.values["hz.quorum"] = float(i % 2)
                fired[tag] = time.perf_counter_ns()
                for callback in source.callbacks:
                    callback(tag)
                _wait_for(lambda: f"invariant:{tag}" in recorder.stamps, 5.0)
        finally:
            loop.call_soon_threadsafe(node.stop)

    threading.Thread(target=flipper, daemon=True).start()
    node.run()
    node.dispose()
    latencies, unmatched = [], 0
    for tag, t0 in fired.items():
        stamps = recorder.stamps.get(f"invariant:{tag}", [])
        if len(stamps) == 1:
            latencies.append((stamps[0] - t0) / 1e6)
        else:
            unmatched += 1
    return latencies, unmatched + (flips - len(fired))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    cols = signal_columns(COST_ROWS)
    run_rows(True, signal_columns(500))  # warm-up: numba compilation, Nautilus imports
    bare = min(bare_step_us(cols) for _ in range(3))
    base = min(run_rows(False, cols)[0] for _ in range(3))
    with_actor, decisions = min((run_rows(True, cols) for _ in range(3)), key=lambda r: r[0])
    added_us = (with_actor - base) / decisions * 1e6
    print(f"rows replayed: {COST_ROWS:,}  decisions taken: {decisions:,}")
    print(f"engine wall, rows only: {base:.3f} s   with SurvivalActor: {with_actor:.3f} s")
    print(f"Actor added cost per decision inside the engine: {added_us:.1f} µs "
          f"(bare SurvivalController.step: {bare:.1f} µs; Nautilus-side overhead {added_us - bare:.1f} µs)")
    sim_ms, wall_ms, cancels = run_flips()
    sim_delay = max(sim_ms) if sim_ms else float("nan")
    print(f"invariant flips -> HIBERNATE -> cancel: {len(wall_ms)} of {FLIP_CYCLES} flips "
          f"({cancels} cancels)")
    print(f"  backtest time: max {sim_delay:.3f} ms (the cancel is issued at the event's own timestamp)")
    if wall_ms:
        ok = "PASS" if max(wall_ms) < BOUND_MS else "FAIL"
        print(f"  wall time: median {statistics.median(wall_ms) * 1e3:.1f} µs, p99 {pct(wall_ms, 99) * 1e3:.1f} µs, "
              f"max {max(wall_ms) * 1e3:.1f} µs  -> bound {BOUND_MS:.0f} ms: {ok}")
    live_ms, unmatched = run_live_flips()
    if unmatched:
        print(f"live TradingNode: {unmatched} flip(s) without exactly one decision (not paired)")
    if live_ms:
        ok = "PASS" if max(live_ms) < BOUND_MS and not unmatched else "FAIL"
        print(f"live TradingNode, foreign-thread invariant callback -> decision on the loop ({len(live_ms)} flips): "
              f"median {statistics.median(live_ms) * 1e3:.1f} µs, p99 {pct(live_ms, 99) * 1e3:.1f} µs, "
              f"max {max(live_ms) * 1e3:.1f} µs  -> bound {BOUND_MS:.0f} ms: {ok}")


@contextlib.contextmanager
def stage(name: str):
    """Print the stage's wall and CPU time (this process, user + sys) and the load average."""
    wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    yield
    print(f"  [{name}: wall {time.perf_counter() - wall:.1f} s, CPU {time.process_time() - cpu:.1f} s, "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]")


def paper_figures() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paper_latency import grid_to_cancel_ms, per_quote_cost_us, summary

    with stage("paper grid -> cancel"):
        latencies, unpaired, where = grid_to_cancel_ms()
    if latencies:
        ok = "PASS" if np.percentile(latencies, 99) < BOUND_MS and not unpaired else "FAIL"
        print(f"paper node ({where}): grid write -> HIBERNATE -> cancel at the sandbox venue, {len(latencies)} flips"
              f"{f' ({unpaired} unpaired)' if unpaired else ''}: {summary(latencies)}  -> bound {BOUND_MS:.0f} ms: {ok}")
    else:
        print(f"paper node ({where}): no flip reached the venue ({unpaired} unpaired)")
    with stage("per-quote cost"):
        cost_us, quotes = per_quote_cost_us()
    print(f"DolphinStrategy added cost per quote (BacktestEngine, sample prices, {quotes:,} quotes, a scan per row): "
          f"{cost_us:.1f} µs")


if __name__ == "__main__":
    with stage("engine and live-node figures"):
        main()
    paper_figures()
