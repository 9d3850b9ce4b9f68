"""The posture guard, closed: each hole reproduced in a ``BacktestEngine`` and read back from
Nautilus's own cache and reports.

Decisions are published on the message bus (as the survival Actor publishes them), so every
guard and the node-level :class:`PostureGate` see them the way a paper node does. Strategies
are scripted per quote (one quote a second).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderStatus, TriggerType
from nautilus_trader.model.events import OrderCanceled
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

from adapters.nautilus import (
    DECISION_DATA_TYPE,
    GuardConfig,
    GuardedStrategy,
    PostureGuard,
    SurvivalDecisionData,
    add_posture_gate,
)

ORIGIN_NS = 1_704_067_200_000_000_000
CAPITAL = 100_000.0
LIMITS = {  # posture -> (r_total, max_leverage, entries_allowed, taker_allowed)
    "APEX": (1.0, 6.0, True, True),
    "STALKER": (0.8, 2.0, True, False),
    "TURTLE": (0.3, 1.0, False, False),
    "HIBERNATE": (0.0, 0.0, False, False),
}


def decision_data(posture: str, ts_ns: int) -> SurvivalDecisionData:
    r, lev, entries, taker = LIMITS[posture]
    return SurvivalDecisionData(ts_event=ts_ns, ts_init=ts_ns, t_s=(ts_ns - ORIGIN_NS) / 1e9, r_total=r,
                                posture=posture, max_leverage=lev, entries_allowed=entries, taker_allowed=taker,
                                invariant_broken=posture == "HIBERNATE", layers_json="{}")


class Scripted(GuardedStrategy):
    """Runs ``script[i](self, tick)`` on the i-th quote; ``decide`` publishes a decision on the bus."""

    def __init__(self, name: str, instrument, script, guard_config: GuardConfig | None = None) -> None:
        super().__init__(StrategyConfig(strategy_id=name), PostureGuard(guard_config or GuardConfig()))
        self.instrument, self.script, self.ticks, self.notes = instrument, script, 0, {}

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_quote_ticks(self.instrument.id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.ticks += 1
        step = self.script.get(self.ticks)
        if step is not None:
            step(self, tick)

    def decide(self, posture: str, tick: QuoteTick) -> None:
        self.publish_data(DECISION_DATA_TYPE, decision_data(posture, tick.ts_event))

    def limit(self, tick: QuoteTick, qty, name: str, post_only: bool = True, guarded: bool = True, away=0.9):
        order = self.order_factory.limit(self.instrument.id, OrderSide.BUY, qty,
                                         self.instrument.make_price(tick.bid_price.as_double() * away),
                                         post_only=post_only)
        self.notes[name] = order.client_order_id
        self.submit_guarded(order) if guarded else self.submit_order(order)
        return order


class Rogue(Strategy):
    """A plain Nautilus strategy that knows nothing of the guard and submits directly."""

    def __init__(self, instrument, script) -> None:
        super().__init__(StrategyConfig(strategy_id="ROGUE-001"))
        self.instrument, self.script, self.ticks, self.notes = instrument, script, 0, {}

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument.id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.ticks += 1
        step = self.script.get(self.ticks)
        if step is not None:
            step(self, tick)


def _quotes(instrument, n: int, drop_at: int | None = None) -> list[QuoteTick]:
    size = Quantity.from_str("50.000000")
    out = []
    for i in range(n):
        mid = 40_000.0 if drop_at is None or i < drop_at else 36_000.0
        ts = ORIGIN_NS + i * 1_000_000_000 + 500_000_000
        out.append(QuoteTick(instrument.id, instrument.make_price(mid - 0.5), instrument.make_price(mid + 0.5),
                             size, size, ts, ts))
    return out


def _engine(strategies, quotes: int = 8, gate: bool = True, drop_at: int | None = None,
            gate_config: GuardConfig | None = None):
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-HOLES-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(CAPITAL, USDT)], default_leverage=Decimal(20))
    engine.add_instrument(instrument)
    engine.add_data(_quotes(instrument, quotes, drop_at))
    if gate:
        add_posture_gate(engine, gate_config or GuardConfig())
    built = [make(instrument) for make in strategies]
    for strategy in built:
        engine.add_strategy(strategy)
    engine.run()
    return engine, built


def _status(engine, client_order_id) -> str:
    return engine.cache.order(client_order_id).status_string()


QTY = Quantity.from_str("0.010000")


def test_an_entry_still_submitted_at_hibernate_is_cancelled_not_left_working() -> None:
    """Nautilus's cancel_all_orders skips orders that are not yet open: an entry submitted in the
    same instant as HIBERNATE was accepted and left working."""
    script = {1: lambda s, t: s.decide("APEX", t),
              2: lambda s, t: (s.limit(t, QTY, "inflight"),
                               s.notes.setdefault("status_at_hibernate", s.cache.order(s.notes["inflight"]).status),
                               s.decide("HIBERNATE", t))}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script)])
    try:
        assert strategy.notes["status_at_hibernate"] == OrderStatus.SUBMITTED
        report = engine.trader.generate_orders_report()
        assert report.loc[strategy.notes["inflight"].value, "status"] == "CANCELED"
        assert not engine.cache.orders_open() and not engine.cache.orders_inflight()
    finally:
        engine.dispose()


def _stack(name: str):
    """APEX, then a post-only entry sized by the guard (inside both caps) on every quote."""
    def entry(s, t):
        qty = s.guard.entry_quantity(s.instrument, None, t.bid_price.as_double() * 0.9, leverage=6.0)
        if qty is not None:
            s.limit(t, qty, f"{name}{s.ticks}")
    script = {1: lambda s, t: (s.decide("APEX", t), entry(s, t))} if name == "A" else {1: entry}
    for k in range(2, 7):
        script[k] = entry
    return lambda i: Scripted(f"{name}-001", i, script, GuardConfig(base_fraction=0.5))


def test_the_exposure_cap_is_per_account_not_per_strategy() -> None:
    """Two guarded strategies on one account each stacked entries to their own 6× cap (12×)."""
    engine, strategies = _engine([_stack("A"), _stack("B")], gate_config=GuardConfig(base_fraction=0.5))
    try:
        report = engine.trader.generate_orders_report()
        working = report[report["status"] == "ACCEPTED"]
        notional = sum(float(r["quantity"]) * float(r["price"]) for _, r in working.iterrows())
        assert {s.id.value for s in strategies} <= set(working["strategy_id"]), "both strategies placed entries"
        assert notional <= 6.0 * CAPITAL * (1 + 1e-9), f"account exposure {notional / CAPITAL:.2f}× > 6×"
        assert notional >= 5.9 * CAPITAL, "the cap is reached, not undershot"
    finally:
        engine.dispose()


def test_modify_order_is_guarded_like_a_submission() -> None:
    """A post-only entry modified to 150× the bet cap in STALKER was accepted."""
    def grow(s, t):
        order = s.cache.order(s.notes["entry"])
        s.modify_order(order, quantity=s.instrument.make_qty(order.quantity.as_double() * 150))

    def entry(s, t):
        s.notes["qty"] = s.guard.entry_quantity(s.instrument, None, t.bid_price.as_double() * 0.9, leverage=6.0)
        s.limit(t, s.notes["qty"], "entry")

    script = {1: lambda s, t: s.decide("STALKER", t), 2: entry, 4: grow}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script)])
    try:
        order = engine.cache.order(strategy.notes["entry"])
        assert order.quantity == strategy.notes["qty"], f"modified to {order.quantity}"
        report = engine.trader.generate_orders_report()
        assert float(report.loc[order.client_order_id.value, "quantity"]) == strategy.notes["qty"].as_double()
        assert order.is_open
    finally:
        engine.dispose()


def test_a_direct_submit_in_hibernate_is_denied_at_the_node() -> None:
    """A strategy calling submit_order directly (no guard) in HIBERNATE from flat was filled."""
    decider = {1: lambda s, t: s.decide("APEX", t), 3: lambda s, t: s.decide("HIBERNATE", t)}

    def rogue_buy(s, t):
        order = s.order_factory.market(s.instrument.id, OrderSide.BUY, QTY)
        s.notes["rogue"] = order.client_order_id
        s.submit_order(order)

    def guarded_direct(s, t):
        s.limit(t, QTY, "direct", post_only=False, guarded=False, away=1.01)  # a crossing limit: a taker

    engine, (_, rogue, direct) = _engine([
        lambda i: Scripted("DECIDER-001", i, decider),
        lambda i: Rogue(i, {4: rogue_buy}),
        lambda i: Scripted("DIRECT-001", i, {4: guarded_direct}),
    ])
    try:
        fills = engine.trader.generate_fills_report()
        assert fills.empty, f"entries filled in HIBERNATE:\n{fills}"
        assert _status(engine, rogue.notes["rogue"]) == "DENIED"
        assert _status(engine, direct.notes["direct"]) == "DENIED"
        assert not engine.cache.positions_open()
    finally:
        engine.dispose()


def test_order_lists_and_brackets_are_guarded() -> None:
    """A bracket's entry is an entry: refused in TURTLE, and above the bet cap in APEX; a bracket
    inside the caps passes with its reduce-only stop and take-profit."""
    def bracket(s, t, name: str, qty) -> None:
        mid = t.bid_price.as_double()
        order_list = s.order_factory.bracket(s.instrument.id, OrderSide.BUY, qty,
                                             sl_trigger_price=s.instrument.make_price(mid * 0.95),
                                             tp_price=s.instrument.make_price(mid * 1.05))
        s.notes[name] = [o.client_order_id for o in order_list.orders]
        s.submit_order_list(order_list)

    big = Quantity.from_str("1.000000")  # 40k notional > 100k × 0.02 × 6 = 12k
    script = {1: lambda s, t: s.decide("APEX", t),
              2: lambda s, t: bracket(s, t, "ok", QTY),
              3: lambda s, t: bracket(s, t, "oversize", big),
              4: lambda s, t: s.decide("TURTLE", t),
              5: lambda s, t: bracket(s, t, "turtle", QTY)}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script)])
    try:
        for name in ("oversize", "turtle"):
            assert [_status(engine, c) for c in strategy.notes[name]] == ["DENIED"] * 3, name
        entry, stop, take = strategy.notes["ok"]
        assert _status(engine, entry) == "FILLED"
        assert engine.cache.order(stop).is_reduce_only and _status(engine, stop) == "ACCEPTED"
    finally:
        engine.dispose()


def test_protective_reduce_only_stops_survive_hibernate() -> None:
    """Rule: HIBERNATE cancels every entry, never a reduce-only order. A protective stop keeps
    working through HIBERNATE and closes the position when the price falls through it."""
    def open_and_protect(s, t):
        s.submit_guarded(s.order_factory.market(s.instrument.id, OrderSide.BUY, QTY))

    def stop(s, t):
        order = s.order_factory.stop_market(s.instrument.id, OrderSide.SELL, QTY,
                                            trigger_price=s.instrument.make_price(38_000.0),
                                            trigger_type=TriggerType.BID_ASK, reduce_only=True)
        s.notes["stop"] = order.client_order_id
        assert s.submit_guarded(order).allowed

    script = {1: lambda s, t: s.decide("APEX", t), 2: open_and_protect, 3: stop,
              4: lambda s, t: s.limit(t, QTY, "entry"),
              5: lambda s, t: s.decide("HIBERNATE", t)}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script)], quotes=9, drop_at=7)
    try:
        stop_order = engine.cache.order(strategy.notes["stop"])
        assert not any(isinstance(e, OrderCanceled) for e in stop_order.events)
        assert stop_order.status_string() == "FILLED", "the stop protected the position after HIBERNATE"
        assert _status(engine, strategy.notes["entry"]) == "CANCELED"
        assert not engine.cache.positions_open()
    finally:
        engine.dispose()


def test_a_lower_leverage_cap_cancels_entries_above_it_but_never_reduces_positions() -> None:
    """Rule: APEX → STALKER (6× → 2×) cancels working entries beyond the new cap (all of them when
    positions alone exceed it) and sends no reducing order; positions run off by their own exits."""
    cfg = GuardConfig(base_fraction=0.5)  # APEX bet cap 300k

    def buy(s, t):
        qty = s.instrument.make_qty(200_000.0 / t.ask_price.as_double())
        s.submit_guarded(s.order_factory.market(s.instrument.id, OrderSide.BUY, qty))

    script = {1: lambda s, t: s.decide("APEX", t), 2: buy, 3: buy,      # ~4× held
              4: lambda s, t: s.limit(t, s.instrument.make_qty(50_000.0 / (t.bid_price.as_double() * 0.9)), "w"),
              5: lambda s, t: s.decide("STALKER", t)}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script, cfg)], gate_config=cfg)
    try:
        (position,) = engine.cache.positions_open()
        assert position.quantity.as_double() * 40_000 > 3.9 * CAPITAL
        assert all(not o.is_reduce_only and o.side == OrderSide.BUY for o in engine.cache.orders())
        assert _status(engine, strategy.notes["w"]) == "CANCELED"
    finally:
        engine.dispose()


def test_emulated_entries_are_gated_too() -> None:
    """Emulated orders go to the OrderEmulator, not the RiskEngine: the gate holds that path too
    (an emulated entry sent directly in TURTLE is denied; one in APEX is emulated, then cancelled
    when HIBERNATE starts)."""
    def emulated(s, t, name: str) -> None:
        order = s.order_factory.limit(s.instrument.id, OrderSide.BUY, QTY,
                                      s.instrument.make_price(t.bid_price.as_double() * 0.9),
                                      emulation_trigger=TriggerType.BID_ASK)
        s.notes[name] = order.client_order_id
        s.submit_order(order)

    script = {1: lambda s, t: s.decide("APEX", t), 2: lambda s, t: emulated(s, t, "apex"),
              3: lambda s, t: s.decide("TURTLE", t), 4: lambda s, t: emulated(s, t, "turtle"),
              5: lambda s, t: s.decide("HIBERNATE", t)}
    engine, (strategy,) = _engine([lambda i: Scripted("S-001", i, script)])
    try:
        assert _status(engine, strategy.notes["turtle"]) == "DENIED"
        assert _status(engine, strategy.notes["apex"]) == "CANCELED"
    finally:
        engine.dispose()
