"""One trading logic: the twin's agent and the NautilusTrader ``DolphinStrategy`` send the same
orders for the same price path, scans and decisions.

The twin runs the bundled sample prices (replay) with fills that a Nautilus venue reproduces:
every entry a taker (``entry_threshold`` 0: any negative vel_div enters, at the far touch), exits
only by max-hold (taker), no impact, the same spread and taker fee. The strategy then runs in a
``BacktestEngine`` on the twin market's own prices (a quote per second), receives the twin's
decisions at their times and, at the step where the twin's agent first saw a scan, scans the
prices of that scan's capture with a copy of the twin scanner's state — the scan it computes
must equal the twin's record. Orders must match one for one: time, asset, side, intent, kind
(the price rule: taker at the far touch) and reason; quantities agree to 1e-3 (equity is valued
by each side's own books: the twin at mids, Nautilus at its own marks).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import numpy as np
import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig, LoggingConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money

from adapters.nautilus import DECISION_DATA_TYPE, GuardConfig, PostureGuard, SurvivalDecisionData
from adapters.nautilus.dolphin import DolphinStrategy
from adapters.nautilus.prices import quote_at, replay_instruments
from trading import EigenScanner
from twin import World, WorldConfig
from twin.agent import trading_params

DURATION_S = 1500
ORIGIN_NS = 1_704_067_200_000_000_000
AGENT = {"entry_threshold": 0.0, "take_profit_bps": 100000.0, "stop_bps": 100000.0, "max_hold_s": 240.5,
         "max_positions": 4, "entries_per_signal": 2}


def _twin():
    cfg = WorldConfig.from_mapping({"market": {"replay_path": "sample"}, "agent": AGENT,
                                    "exchange": {"impact_bps": 0.0, "taker_fee_bps": 4.0, "spread_bps": 2.0}},
                                   source="parity")
    world = World(cfg, "survival", seed=3)
    scanner = _scanner_copy(world.sensors["scan"])
    seen: dict[int, tuple] = {}   # step second -> (seq, capture ts, payload) the agent saw at that step
    def sample():   # just after each step: what the agent saw then (records arrive ms later, never within 0.1 ms)
        env = world.ctx.env
        yield env.timeout(1e-4)
        while True:
            rec = world.watchdog.last_valid.get("scan")
            if rec is not None:
                seen[int(env.now)] = (rec.payload[0], rec.ts, rec.payload)
            yield env.timeout(1.0)

    world.ctx.env.process(sample())
    trace = world.run(float(DURATION_S))
    return world, scanner, seen, trace


def _scanner_copy(sensor) -> EigenScanner:
    """A trading.EigenScanner holding the twin scanner's state at t = 0."""
    if hasattr(sensor, "eigen"):
        return copy.deepcopy(sensor.eigen)
    out = EigenScanner(sensor.n, sensor.short.window, sensor.long.window)
    out.short, out.long = copy.deepcopy(sensor.short), copy.deepcopy(sensor.long)
    out._prev_log, out._prev_v, out.seq = sensor._prev_log.copy(), sensor._prev_v, sensor.seq
    return out


class TwinDriver(Actor):
    """Replays the twin's decisions each second and hands the strategy each scan at the step the
    twin's agent first saw it."""

    def __init__(self, strategy, decisions, seen, prices_at) -> None:
        super().__init__(ActorConfig(component_id="TWIN-DRIVER"))
        self.strategy, self.decisions, self.seen, self.prices_at = strategy, decisions, seen, prices_at
        self.used_seq = strategy.scanner.seq   # scans the twin took before the copy (its first, at t = 0)
        self.period_s = 5.0
        self.scans: list = []

    def on_start(self) -> None:
        from datetime import timedelta
        self.clock.set_timer("twin", timedelta(seconds=1), callback=self._tick, fire_immediately=True)

    def _tick(self, event) -> None:
        t = int(round((event.ts_event - ORIGIN_NS) / 1e9))
        if t not in self.decisions:
            return
        seen = self.seen.get(t)
        if seen is not None and seen[0] > self.used_seq:
            seq, ts, payload = seen
            scan = None
            for j in range(self.used_seq + 1, seq + 1):   # every capture, in order (a fault-free run: one per period)
                scan = self.strategy.scan(self.prices_at(ts - (seq - j) * self.period_s))
            if seq > self.used_seq:
                self.scans.append((payload, scan))
            self.used_seq = seq
        d = self.decisions[t]
        self.publish_data(DECISION_DATA_TYPE, SurvivalDecisionData(
            ts_event=event.ts_event, ts_init=event.ts_event, t_s=float(t), r_total=d["r_total"], posture=d["posture"],
            max_leverage=d["max_leverage"], entries_allowed=d["entries_allowed"], taker_allowed=d["taker_allowed"],
            invariant_broken=d["invariant_broken"], layers_json="{}"))


@pytest.fixture(scope="module")
def parity():
    world, scanner, seen, trace = _twin()
    market = world.ctx.market
    names = market._replay.assets
    instruments = replay_instruments(names)

    def prices_at(t_s: float) -> list[float]:
        return [float(x) for x in np.exp(market.log_prices(t_s))]

    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-PARITY-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(Venue("REPLAY"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(world.config.agent.capital, USDT)], default_leverage=Decimal(10),
                     use_message_queue=False)
    for inst in instruments:
        engine.add_instrument(inst)
    quotes = []
    for t in range(DURATION_S + 1):
        ts = ORIGIN_NS + t * 1_000_000_000 - 1_000_000   # just before the step at t
        quotes += [quote_at(inst, p, ts, ts, 2.0) for inst, p in zip(instruments, prices_at(float(t)))]
    engine.add_data(quotes)
    d = trace.tables["decisions"].to_pydict()
    decisions = {int(t): {k: d[k][i] for k in ("r_total", "posture", "max_leverage", "entries_allowed",
                                                "taker_allowed", "invariant_broken")}
                 for i, t in enumerate(d["t_s"]) if d["trigger"][i] == "tick"}
    params = trading_params(world.config.agent)   # the twin's own [agent] settings, as its agent reads them
    assert params.entry_threshold == 0.0 and params.max_hold_s == AGENT["max_hold_s"]
    strategy = DolphinStrategy(instruments, PostureGuard(GuardConfig(base_fraction=params.base_fraction)), params,
                               market_time_s=lambda: (engine.kernel.clock.timestamp_ns() - ORIGIN_NS) / 1e9)
    strategy.scanner = scanner
    strategy.used_scan_seq = scanner.seq
    driver = TwinDriver(strategy, decisions, seen, prices_at)
    engine.add_actor(driver)
    engine.add_strategy(strategy)
    engine.run(end=None)
    orders = sorted(engine.cache.orders(), key=lambda o: int(o.client_order_id.value.rsplit("-", 1)[1]))  # as sent
    yield trace.tables["orders"].to_pydict(), orders, strategy, driver, instruments
    engine.dispose()


def test_both_drivers_compute_the_same_scans(parity) -> None:
    _, _, _, driver, _ = parity
    assert len(driver.scans) > 100
    for payload, scan in driver.scans:
        seq, v50, v750, vel_div, ranked = payload
        assert (scan.v50, scan.v750, scan.vel_div, scan.ranked) == (v50, v750, vel_div, ranked)


def test_both_drivers_send_the_same_orders(parity) -> None:
    twin, orders, strategy, _, instruments = parity
    index = {inst.id: i for i, inst in enumerate(instruments)}
    assert len(twin["id"]) >= 20 and {"entry", "exit"} <= set(twin["intent"]), "the twin traded too little"
    ours = [((o.ts_init - ORIGIN_NS) / 1e9, index[o.instrument_id], "buy" if o.side == OrderSide.BUY else "sell",
             "exit" if o.is_reduce_only else "entry", "maker" if o.is_post_only else "taker", o.tags[0],
             o.quantity.as_double()) for o in orders]
    theirs = list(zip(twin["t_s"], twin["asset"], twin["side"], twin["intent"], twin["kind"], twin["reason"],
                      twin["qty"]))
    for a, b in zip(ours, theirs):
        assert a[0] == pytest.approx(b[0], abs=0.01) and a[1:6] == b[1:6], f"ours {a} vs twin {b}"
        assert a[6] == pytest.approx(b[6], rel=1e-3), f"quantity: ours {a} vs twin {b}"
    assert len(ours) == len(theirs), f"{len(ours)} orders vs the twin's {len(theirs)}"
