"""A strategy behind the posture guard, on synthetic quotes, through a scripted outage.

Everything is checked from Nautilus's own order and fill reports and order events:
no entry in TURTLE or HIBERNATE, only post-only entries in STALKER, every working order
cancelled when HIBERNATE starts, exits filled; the RiskEngine never HALTED.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TradingState
from nautilus_trader.model.events import OrderAccepted, OrderCanceled, OrderExpired, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from adapters.nautilus import (
    REPLAY_CLIENT_ID,
    DecisionRecorder,
    GuardConfig,
    GuardedStrategy,
    PostureGuard,
    ReplaySignalSource,
    SurvivalActor,
    SurvivalDecisionData,
    load_signal_trace,
)
from controller import Posture, SurvivalController, default_config
from tests.adapters.nautilus.signal_scripts import scripted_columns, write_trace

ORIGIN_NS = 1_704_067_200_000_000_000
BAD_BOOK = {"ob.latency_ms": 2000.0, "ob.depth_ratio": 0.3}
OUTAGE = [
    (120.0, 300.0, BAD_BOOK),                    # book degraded: STALKER (post-only)
    (300.0, 420.0, {"hz.quorum": 0.0}),          # quorum lost: HIBERNATE at once
    (300.0, 1e9, {"portfolio.drawdown": 0.2}),   # drawdown: TURTLE once quorum is back
]


class ScriptedStrategy(GuardedStrategy):
    """Tries every kind of entry every 10 s in every posture; exits while degraded."""

    def __init__(self, instrument, guard: PostureGuard) -> None:
        super().__init__(StrategyConfig(strategy_id="SCRIPTED-001"), guard)
        self.instrument = instrument
        self.ticks = 0
        self.oversize: list = []  # (posture, verdict) of a 10x post-only entry tried every round

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_quote_ticks(self.instrument.id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.ticks += 1
        if self.ticks % 10:
            return
        bid, ask = tick.bid_price.as_double(), tick.ask_price.as_double()
        self._try_entries(bid, ask)
        if self.guard.posture is not None and self.guard.posture <= Posture.TURTLE:
            self._exit(bid)

    def _try_entries(self, bid: float, ask: float) -> None:
        inst, f = self.instrument, self.order_factory
        qty = self.guard.entry_quantity(inst, None, price=ask, leverage=3.0)  # capital: the account
        qty = qty or inst.make_qty(0.01)  # entries off: try anyway, the guard must refuse
        rest = inst.make_price(bid * 0.98)
        self.submit_guarded(f.market(inst.id, OrderSide.BUY, qty))
        self.submit_guarded(f.limit(inst.id, OrderSide.BUY, qty, rest))
        self.submit_guarded(f.limit(inst.id, OrderSide.BUY, qty, rest, post_only=True))
        oversize = f.limit(inst.id, OrderSide.BUY, inst.make_qty(qty.as_double() * 10), rest, post_only=True)
        self.oversize.append((self.guard.posture, self.submit_guarded(oversize)))

    def _exit(self, bid: float) -> None:
        position = self.cache.positions_open(instrument_id=self.instrument.id)
        if not position:
            return
        qty = self.guard.exit_quantity(self.instrument, position[0].quantity, price=bid)
        if qty is not None:
            order = self.order_factory.market(self.instrument.id, OrderSide.SELL, qty, reduce_only=True)
            assert self.submit_guarded(order).allowed


def _quotes(instrument, duration_s: int) -> list[QuoteTick]:
    rng = np.random.default_rng(7)
    mid = 40_000.0 + np.cumsum(rng.normal(0.0, 4.0, duration_s))
    size = Quantity.from_str("50.000000")
    return [
        QuoteTick(instrument.id, instrument.make_price(m - 0.5), instrument.make_price(m + 0.5), size, size,
                  ORIGIN_NS + i * 1_000_000_000 + 500_000_000, ORIGIN_NS + i * 1_000_000_000 + 500_000_000)
        for i, m in enumerate(mid)
    ]


def _run(trace_path, duration_s: int, guard_config: GuardConfig | None = None):
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-GUARD-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(1_000_000, USDT)], default_leverage=Decimal(5))
    engine.add_instrument(instrument)
    engine.add_data(_quotes(instrument, duration_s))
    source = ReplaySignalSource(load_signal_trace(trace_path), ORIGIN_NS)
    engine.add_data(source.events(), client_id=REPLAY_CLIENT_ID)
    states: list[TradingState] = []
    risk = engine.kernel.risk_engine

    def sink(state: TradingState) -> None:
        states.append(state)
        risk.set_trading_state(state)

    strategy = ScriptedStrategy(instrument, PostureGuard(guard_config or GuardConfig(), trading_state_sink=sink))
    recorder = DecisionRecorder()
    engine.add_actor(SurvivalActor(SurvivalController(default_config()), source))
    engine.add_actor(recorder)
    engine.add_strategy(strategy)
    engine.run()
    return engine, strategy, recorder.decisions, states


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory):
    path = write_trace(tmp_path_factory.mktemp("guard") / "signals_observed.parquet",
                       scripted_columns(600.0, 1.0, OUTAGE))
    engine, strategy, decisions, states = _run(path, 600)
    orders = engine.trader.generate_orders_report()
    fills = engine.trader.generate_fills_report()
    yield strategy, decisions, states, orders, fills, engine.cache.orders()
    engine.dispose()


def _posture_at(decisions, ts_ns: int) -> Posture:
    """The posture in force at ``ts_ns``: the last decision published at or before it."""
    times = [d.ts_event for d in decisions]
    i = int(np.searchsorted(times, ts_ns, side="right")) - 1
    return decisions[i].posture_level if i >= 0 else Posture.HIBERNATE


def _hibernate_starts(decisions) -> list[int]:
    out, previous = [], None
    for d in decisions:
        if d.posture == "HIBERNATE" and previous != "HIBERNATE":
            out.append(d.ts_event)
        previous = d.posture
    return out


def test_the_outage_visits_every_posture(outage_run) -> None:
    _, decisions, _, _, _, _ = outage_run
    seen = [d.posture for d in decisions]
    assert {"APEX", "STALKER", "TURTLE", "HIBERNATE"} <= set(seen)
    assert seen.index("APEX") < seen.index("STALKER") < seen.index("HIBERNATE") < seen.index("TURTLE")


def test_no_entry_in_turtle_or_hibernate_and_only_post_only_in_stalker(outage_run) -> None:
    strategy, decisions, _, orders, _, _ = outage_run
    entries = orders[~orders["is_reduce_only"].astype(bool)]
    by_posture: dict[Posture, list[pd.Series]] = {p: [] for p in Posture}
    for _, row in entries.iterrows():
        by_posture[_posture_at(decisions, int(row["ts_init"]))].append(row)
    assert by_posture[Posture.TURTLE] == [] and by_posture[Posture.HIBERNATE] == []
    assert by_posture[Posture.STALKER], "the strategy placed no STALKER entries: the test saw nothing"
    assert all(r["type"] == "LIMIT" and bool(r["is_post_only"]) for r in by_posture[Posture.STALKER])
    assert {r["type"] for r in by_posture[Posture.APEX]} == {"MARKET", "LIMIT"}
    refused = strategy.guard.stats.refused
    assert refused.get("TURTLE", 0) > 0 and refused.get("HIBERNATE", 0) > 0 and refused.get("STALKER", 0) > 0


def test_entries_stay_inside_the_bet_cap_and_oversize_entries_are_refused(outage_run) -> None:
    strategy, decisions, _, orders, _, _ = outage_run
    assert strategy.oversize, "the strategy tried no oversize entries"
    for posture, verdict in strategy.oversize:
        assert not verdict.allowed, f"a 10x entry passed in {posture.name}"
        if posture in (Posture.APEX, Posture.STALKER):
            assert "bet cap" in verdict.reason, verdict.reason
    entries = orders[~orders["is_reduce_only"].astype(bool)]
    for _, row in entries.iterrows():
        d = decisions[int(np.searchsorted([x.ts_event for x in decisions], int(row["ts_init"]), side="right")) - 1]
        price = float(row["price"]) if row["type"] == "LIMIT" else float(row["avg_px"])
        cap = 1_000_000.0 * 0.02 * d.r_total * d.max_leverage  # the account's balance stays ~1M here
        assert float(row["quantity"]) * price <= cap * 1.01, row.name


def _open_at(order, ts_ns: int) -> bool:
    """Was ``order`` working at the venue just before ``ts_ns`` (accepted, not yet closed)?"""
    before = [e for e in order.events if e.ts_event < ts_ns]
    accepted = any(isinstance(e, OrderAccepted) for e in before)
    filled = sum(e.last_qty.as_double() for e in before if isinstance(e, OrderFilled))
    closed = any(isinstance(e, (OrderCanceled, OrderRejected, OrderExpired)) for e in before)
    return accepted and not closed and filled < order.quantity.as_double()


def test_every_working_order_is_cancelled_when_hibernate_starts(outage_run) -> None:
    _, decisions, _, _, _, all_orders = outage_run
    starts = _hibernate_starts(decisions)
    assert starts, "no HIBERNATE in the run"
    t_h = starts[0]
    working = [o for o in all_orders if _open_at(o, t_h)]
    assert len(working) >= 3, f"too few working orders at HIBERNATE to prove anything: {working}"
    for order in working:
        cancels = [e for e in order.events if isinstance(e, OrderCanceled)]
        assert cancels and cancels[0].ts_event == t_h, f"{order.client_order_id} not cancelled at {t_h}"


def test_working_non_post_only_entries_are_cancelled_when_stalker_starts(outage_run) -> None:
    _, decisions, _, _, _, all_orders = outage_run
    t_stalker = next(d.ts_event for d in decisions if d.posture == "STALKER")
    assert _posture_at(decisions, t_stalker - 1) == Posture.APEX
    working = [o for o in all_orders if _open_at(o, t_stalker) and not o.is_reduce_only]
    takers = [o for o in working if not o.is_post_only]
    assert takers, "no non-post-only entries were working when STALKER started: the test saw nothing"
    for order in takers:
        cancels = [e for e in order.events if isinstance(e, OrderCanceled)]
        assert cancels and cancels[0].ts_event == t_stalker, f"{order.client_order_id} still working in STALKER"
    makers = [o for o in working if o.is_post_only]
    cut = [o for o in makers if any(isinstance(e, OrderCanceled) and e.ts_event == t_stalker for e in o.events)]
    kept = [o for o in makers if o not in cut]
    assert kept, "post-only entries keep working in STALKER (up to its leverage cap)"
    # the 6x -> 2x cap: the newest post-only entries go until the account fits capital x 2
    assert sum(o.leaves_qty.as_double() * o.price.as_double() for o in kept) <= 2 * 1_000_000.0
    assert not cut or max(o.ts_init for o in kept) <= min(o.ts_init for o in cut)


def test_exits_fill_while_degraded(outage_run) -> None:
    _, decisions, _, orders, fills, _ = outage_run
    exits = orders[orders["is_reduce_only"].astype(bool)]
    degraded = [cid for cid, row in exits.iterrows()
                if _posture_at(decisions, int(row["ts_init"])) <= Posture.TURTLE]
    assert degraded, "no exits were sent in TURTLE/HIBERNATE"
    filled = set(fills.index)
    assert all(cid in filled for cid in degraded)
    assert all(exits.loc[cid, "status"] == "FILLED" for cid in degraded)


def test_risk_engine_is_reducing_in_turtle_and_hibernate_never_halted(outage_run) -> None:
    _, _, states, _, _, _ = outage_run
    assert TradingState.HALTED not in states
    assert states[0] == TradingState.ACTIVE and TradingState.REDUCING in states


def test_flatten_on_hibernate_closes_the_position_at_once(tmp_path) -> None:
    path = write_trace(tmp_path / "signals_observed.parquet", scripted_columns(330.0, 1.0, OUTAGE))
    engine, strategy, decisions, _ = _run(path, 330, GuardConfig(flatten_on_hibernate=True))
    try:
        t_h = _hibernate_starts(decisions)[0]
        closes = [o for o in engine.cache.orders() if o.ts_init == t_h and o.is_reduce_only]
        assert strategy.guard.stats.flattens == 1 and len(closes) == 1
        assert closes[0].status_string() == "FILLED"
        positions = engine.cache.positions(strategy_id=strategy.id)
        assert positions and all(p.is_closed and p.ts_closed == t_h for p in positions)
    finally:
        engine.dispose()


def test_working_entries_are_cancelled_when_turtle_starts(tmp_path) -> None:
    path = write_trace(tmp_path / "signals_observed.parquet",
                       scripted_columns(200.0, 1.0, [(120.0, 1e9, {"portfolio.drawdown": 0.2})]))
    engine, strategy, decisions, states = _run(path, 200)
    try:
        t_turtle = next(d.ts_event for d in decisions if d.posture == "TURTLE")
        assert _posture_at(decisions, t_turtle - 1) == Posture.APEX  # straight from APEX
        working = [o for o in engine.cache.orders() if _open_at(o, t_turtle)]
        assert len(working) >= 3 and not any(o.is_reduce_only for o in working)
        for order in working:
            cancels = [e for e in order.events if isinstance(e, OrderCanceled)]
            assert cancels and cancels[0].ts_event == t_turtle, f"{order.client_order_id} still working in TURTLE"
        assert strategy.guard.stats.entry_cancels == len(working)
        assert strategy.guard.stats.cancel_all_calls == 0 and TradingState.REDUCING in states
    finally:
        engine.dispose()


class Scripted(GuardedStrategy):
    """Runs ``script[i](self, tick)`` on the i-th quote (decisions are handed to the guard directly)."""

    def __init__(self, instrument, script, guard_config: GuardConfig | None = None) -> None:
        super().__init__(StrategyConfig(strategy_id="SCRIPT-001"), PostureGuard(guard_config or GuardConfig()))
        self.instrument, self.script, self.ticks, self.notes = instrument, script, 0, {}

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_quote_ticks(self.instrument.id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.ticks += 1
        step = self.script.get(self.ticks)
        if step is not None:
            step(self, tick)

    def decide(self, posture: str, tick: QuoteTick, taker: bool | None = None) -> None:
        r, lev, taker_default = {"APEX": (1.0, 6.0, True), "STALKER": (0.8, 2.0, False)}[posture]
        self.guard.on_decision(SurvivalDecisionData(
            ts_event=tick.ts_event, ts_init=tick.ts_event, t_s=0.0, r_total=r, posture=posture, max_leverage=lev,
            entries_allowed=True, taker_allowed=taker_default if taker is None else taker,
            invariant_broken=False, layers_json="{}"))

    def rest(self, tick: QuoteTick, qty, post_only: bool, name: str) -> None:
        order = self.order_factory.limit(self.instrument.id, OrderSide.BUY, qty,
                                         self.instrument.make_price(tick.bid_price.as_double() * 0.9),
                                         post_only=post_only)
        self.notes[name] = (order.client_order_id, self.submit_guarded(order))


def _script_run(script, quotes: int = 6, guard_config: GuardConfig | None = None):
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-SCRIPT-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(100_000, USDT)], default_leverage=Decimal(10))
    engine.add_instrument(instrument)
    engine.add_data(_quotes(instrument, quotes))
    strategy = Scripted(instrument, script, guard_config)
    engine.add_strategy(strategy)
    engine.run()
    return engine, strategy


def _cancelled_at(engine, client_order_id) -> int | None:
    order = engine.cache.order(client_order_id)
    cancels = [e.ts_event for e in order.events if isinstance(e, OrderCanceled)]
    return cancels[0] if cancels else None


def test_working_non_post_only_entries_are_cancelled_when_apex_tightens() -> None:
    """APEX → STALKER, and APEX losing taker: working entries that are not post-only are cancelled
    at that decision; post-only entries keep working."""
    qty = Quantity.from_str("0.010000")
    stamps: dict[str, int] = {}
    script = {
        1: lambda s, t: (s.decide("APEX", t), s.rest(t, qty, False, "taker_a"), s.rest(t, qty, True, "maker_a")),
        2: lambda s, t: (stamps.setdefault("stalker", t.ts_event), s.decide("STALKER", t)),
        3: lambda s, t: (s.decide("APEX", t), s.rest(t, qty, False, "taker_b"), s.rest(t, qty, True, "maker_b")),
        4: lambda s, t: (stamps.setdefault("no_taker", t.ts_event), s.decide("APEX", t, taker=False)),
    }
    engine, strategy = _script_run(script)
    try:
        assert all(verdict.allowed for _, verdict in strategy.notes.values())
        ids = {name: cid for name, (cid, _) in strategy.notes.items()}
        assert _cancelled_at(engine, ids["taker_a"]) == stamps["stalker"]
        assert _cancelled_at(engine, ids["taker_b"]) == stamps["no_taker"]
        assert _cancelled_at(engine, ids["maker_a"]) is None and _cancelled_at(engine, ids["maker_b"]) is None
        assert engine.cache.order(ids["maker_a"]).is_open and engine.cache.order(ids["maker_b"]).is_open
        assert strategy.guard.stats.entry_cancels == 2 and strategy.guard.stats.cancel_all_calls == 0
    finally:
        engine.dispose()


def test_exposure_cap_bounds_stacked_entries() -> None:
    """Entries inside the bet cap still cannot stack past capital × max_leverage (gross)."""
    cfg = GuardConfig(base_fraction=0.5)  # bet cap in APEX: 100k × 0.5 × 1 × 6 = 300k; exposure cap 600k

    def stack(s, t, name: str) -> None:
        price = t.bid_price.as_double() * 0.9
        s.notes[name + ".qty"] = (None, s.guard.entry_quantity(s.instrument, None, price, leverage=6.0))
        qty = s.notes[name + ".qty"][1] or Quantity.from_str("0.010000")
        s.rest(t, qty, True, name)

    script = {1: lambda s, t: (s.decide("APEX", t), stack(s, t, "first")),
              2: lambda s, t: stack(s, t, "second"),
              3: lambda s, t: stack(s, t, "third")}
    engine, strategy = _script_run(script, guard_config=cfg)
    try:
        notes = strategy.notes
        assert notes["first"][1].allowed and notes["second"][1].allowed
        assert notes["third.qty"][1] is None, "no headroom left: entry_quantity sizes nothing"
        third = notes["third"][1]
        assert not third.allowed and "exposure" in third.reason and "max_leverage 6" in third.reason
        working = [o for o in engine.cache.orders_open() if not o.is_reduce_only]
        exposure = sum(o.leaves_qty.as_double() * o.price.as_double() for o in working)
        assert 0.99 * 600_000 <= exposure <= 600_000.0 + 1e-6
    finally:
        engine.dispose()
