"""Posture-guard rules, sizing, caps and the trading-state map, checked on real Nautilus orders.

The guard is attached to a real ``Strategy`` registered in a ``BacktestEngine`` that has run over
one quote (so the cache holds the instrument, a quote and the venue account of 100,000 USDT).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.component import TestClock
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TradingState
from nautilus_trader.model.identifiers import StrategyId, TraderId, Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

from adapters.nautilus import (
    GuardConfig,
    GuardConfigError,
    InterfaceError,
    PostureGuard,
    SurvivalDecisionData,
    bet_notional,
    minimum_quantity,
    notional_to_quantity,
    round_quantity,
    trading_state_for,
)
from controller import Posture

BTC = TestInstrumentProvider.btcusdt_binance()  # increment 1e-6, min qty 1e-6, max 9000, min notional 10 USDT
FACTORY = OrderFactory(TraderId("T-001"), StrategyId("S-001"), TestClock())
QTY = Quantity.from_str("0.010000")
PX = BTC.make_price(40_000.0)
CAPITAL = 100_000.0
ORIGIN_NS = 1_704_067_200_000_000_000

LIMITS = {  # posture -> (r_total, max_leverage, entries_allowed, taker_allowed)
    "APEX": (1.0, 6.0, True, True),
    "STALKER": (0.8, 2.0, True, False),
    "TURTLE": (0.3, 1.0, False, False),
    "HIBERNATE": (0.0, 0.0, False, False),
}


@pytest.fixture(scope="module")
def strategy():
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("NOR-RULES-001"),
                                                 logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(CAPITAL, USDT)], default_leverage=Decimal(1))
    engine.add_instrument(BTC)
    size = Quantity.from_str("1.000000")
    engine.add_data([QuoteTick(BTC.id, PX, BTC.make_price(40_001.0), size, size, ORIGIN_NS, ORIGIN_NS)])
    strategy = Strategy(StrategyConfig(strategy_id="RULES-001"))
    engine.add_strategy(strategy)
    engine.run()
    yield strategy
    engine.dispose()


def decision(posture: str, taker: bool | None = None, ts_ns: int = ORIGIN_NS) -> SurvivalDecisionData:
    r, lev, entries, default_taker = LIMITS[posture]
    return SurvivalDecisionData(
        ts_event=ts_ns, ts_init=ts_ns, t_s=0.0, r_total=r, posture=posture, max_leverage=lev,
        entries_allowed=entries, taker_allowed=default_taker if taker is None else taker,
        invariant_broken=posture == "HIBERNATE", layers_json=json.dumps({"x": r}),
    )


@pytest.fixture
def guard_in(strategy):
    def make(posture: str, taker: bool | None = None, **kwargs) -> PostureGuard:
        guard = PostureGuard(GuardConfig(**kwargs))
        guard.attach(strategy)
        guard.on_decision(decision(posture, taker))
        return guard

    return make


def market(reduce_only: bool = False, qty: Quantity = QTY):
    return FACTORY.market(BTC.id, OrderSide.BUY, qty, reduce_only=reduce_only)


def limit(post_only: bool = False, reduce_only: bool = False, qty: Quantity = QTY):
    return FACTORY.limit(BTC.id, OrderSide.BUY, qty, PX, post_only=post_only, reduce_only=reduce_only)


@pytest.mark.parametrize("posture, allowed", [
    ("APEX", {"market", "limit", "post_only"}),
    ("STALKER", {"post_only"}),
    ("TURTLE", set()),
    ("HIBERNATE", set()),
])
def test_entries_allowed_per_posture(guard_in, posture: str, allowed: set[str]) -> None:
    guard = guard_in(posture)
    got = {name for name, order in (("market", market()), ("limit", limit()), ("post_only", limit(True)))
           if guard.check(order).allowed}
    assert got == allowed


@pytest.mark.parametrize("posture", list(LIMITS))
def test_reduce_only_exits_are_never_blocked(guard_in, posture: str) -> None:
    """Design decision: any reduce_only order passes in every posture, whatever its size or
    type (TURTLE's minimum size is what exit_quantity advises, not a limit on exits)."""
    guard = guard_in(posture)
    huge = Quantity.from_str("9000.000000")
    for order in (market(reduce_only=True), limit(reduce_only=True), market(True, huge), limit(True, True, huge)):
        assert guard.check(order) == (True, "exit (reduce_only)")


def test_apex_without_taker_allows_only_post_only_entries(guard_in) -> None:
    guard = guard_in("APEX", taker=False)
    assert not guard.check(market()).allowed
    assert not guard.check(limit()).allowed
    assert guard.check(limit(post_only=True)).allowed


def test_no_decision_means_no_entries_but_exits(strategy) -> None:
    guard = PostureGuard()
    guard.attach(strategy)
    verdict = guard.check(limit(post_only=True))
    assert not verdict.allowed and "no survival decision" in verdict.reason
    assert guard.check(market(reduce_only=True)).allowed


def test_refusals_name_the_posture(guard_in) -> None:
    assert guard_in("TURTLE").check(market()).reason.startswith("TURTLE: no new entries")
    assert guard_in("STALKER").check(limit()).reason == "STALKER: only post_only limit entries"


def test_entry_size_is_capped_not_only_advised(guard_in) -> None:
    """REDUCING caps no quantity, so the guard must: a 9,000 BTC post-only entry in STALKER is
    refused; the bet cap is capital × base_fraction × r_total × max_leverage."""
    guard = guard_in("STALKER")
    verdict = guard.check(limit(post_only=True, qty=Quantity.from_str("9000.000000")))
    assert not verdict.allowed and verdict.reason.startswith("STALKER: entry notional") and "bet cap" in verdict.reason
    sized = guard.entry_quantity(BTC, None, 40_000.0, leverage=6.0)  # capital from the account
    assert sized == Quantity.from_str("0.080000")  # 100k × 0.02 × 0.8 × min(6, 2) / 40k
    assert guard.check(limit(post_only=True, qty=sized)).allowed, "what the guard sizes, it allows"
    one_more = Quantity.from_str("0.080001")
    assert not guard.check(limit(post_only=True, qty=one_more)).allowed, "one increment above the cap"
    apex = guard_in("APEX")
    # market entries are valued at the quote mid (40,000.5): the cap is 100k × 0.02 × 1 × 6 = 12,000 USDT
    assert apex.check(market(qty=Quantity.from_str("0.299990"))).allowed
    assert not apex.check(market(qty=Quantity.from_str("0.300000"))).allowed


def test_capital_comes_from_the_account_or_a_source_and_unknown_capital_refuses_entries(guard_in, strategy) -> None:
    assert guard_in("APEX").capital(BTC, 40_000.0) == pytest.approx(CAPITAL)
    small = PostureGuard(capital_source=lambda instrument: 1_000.0)
    small.attach(strategy)
    small.on_decision(decision("APEX"))
    assert small.entry_quantity(BTC, None, 40_000.0, 6.0) == Quantity.from_str("0.003000")  # 1000 × 0.02 × 6 / 40k
    assert not small.check(market()).allowed, "0.01 BTC = 400 USDT is above 1,000 × 0.02 × 6"
    unknown = PostureGuard(capital_source=lambda instrument: None)
    unknown.attach(strategy)
    unknown.on_decision(decision("APEX"))
    verdict = unknown.check(limit(post_only=True))
    assert not verdict.allowed and "capital unknown" in verdict.reason
    assert unknown.entry_quantity(BTC, None, 40_000.0) is None
    assert unknown.check(market(reduce_only=True)).allowed


def test_unattached_guard_refuses_entries_and_cannot_submit() -> None:
    guard = PostureGuard()
    guard.on_decision(decision("APEX"))
    verdict = guard.check(limit(post_only=True))
    assert not verdict.allowed and "no strategy attached" in verdict.reason
    with pytest.raises(InterfaceError, match="no strategy attached"):
        guard.submit(limit(post_only=True))


def test_posture_changes_map_onto_the_risk_engine_state_never_halted_by_default() -> None:
    states: list[TradingState] = []
    guard = PostureGuard(trading_state_sink=states.append)
    for p in ("APEX", "STALKER", "TURTLE", "HIBERNATE", "HIBERNATE", "TURTLE", "APEX"):
        guard.on_decision(decision(p))
    A, R = TradingState.ACTIVE, TradingState.REDUCING
    assert states == [A, A, R, R, R, A]  # one call per posture change
    assert trading_state_for(Posture.HIBERNATE) == R
    assert trading_state_for(Posture.HIBERNATE, TradingState.HALTED) == TradingState.HALTED
    halted: list[TradingState] = []
    opted = PostureGuard(GuardConfig(hibernate_trading_state="HALTED"), trading_state_sink=halted.append)
    opted.on_decision(decision("HIBERNATE"))
    assert halted == [TradingState.HALTED]


@pytest.mark.parametrize("field, value", [
    ("base_fraction", 0.0), ("base_fraction", 1.5), ("base_fraction", "x"),
    ("max_decision_age_s", 0.0), ("max_decision_age_s", math.inf),
    ("hibernate_trading_state", "PAUSED"),
])
def test_bad_guard_settings_name_the_field(field: str, value) -> None:
    with pytest.raises(GuardConfigError, match=f"GuardConfig.{field}: expected"):
        GuardConfig(**{field: value})


def test_quantities_round_down_and_respect_instrument_minimums() -> None:
    assert round_quantity(BTC, 0.0000019) == Quantity.from_str("0.000001")
    assert round_quantity(BTC, 0.0000009) is None                 # rounds to zero
    assert round_quantity(BTC, 12_000.0) == Quantity.from_str("9000.000000")  # capped at the maximum
    for bad in (0.0, -1.0, math.nan, math.inf):
        assert round_quantity(BTC, bad) is None
    assert minimum_quantity(BTC) == Quantity.from_str("0.000001")
    assert minimum_quantity(BTC, 40_000.0) == Quantity.from_str("0.000250")  # 10 USDT min notional
    assert round_quantity(BTC, 0.000249, price=40_000.0) is None
    assert notional_to_quantity(BTC, 9.99, 40_000.0) is None      # below the 10 USDT minimum
    assert notional_to_quantity(BTC, 10_000.0, 40_000.0) == Quantity.from_str("0.250000")


def test_entry_size_follows_r_total_and_the_posture_leverage_cap(guard_in) -> None:
    assert bet_notional(0.5, 2.0, True, 100_000.0, 0.02, 6.0) == pytest.approx(2_000.0)   # lev capped at 2
    assert bet_notional(0.5, 2.0, False, 100_000.0, 0.02, 6.0) == 0.0
    guard = guard_in("STALKER", base_fraction=0.05)
    qty = guard.entry_quantity(BTC, capital=100_000.0, price=40_000.0, leverage=6.0)
    assert qty == Quantity.from_str("0.200000")  # 100k × 0.05 × 0.8 × min(6, 2) / 40k
    assert guard_in("TURTLE").entry_quantity(BTC, 100_000.0, 40_000.0) is None
    assert guard_in("APEX").entry_quantity(BTC, 100.0, 40_000.0, 1.0) is None  # 2 USDT < min notional


def test_exit_sizes_turtle_clips_at_the_minimum(guard_in) -> None:
    held = Quantity.from_str("1.500000")
    assert guard_in("APEX").exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("HIBERNATE").exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("TURTLE").exit_quantity(BTC, held, 40_000.0) == Quantity.from_str("0.000250")
    assert guard_in("TURTLE", turtle_exit_clip=False).exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("TURTLE").exit_quantity(BTC, Quantity.from_str("0.000100"), 40_000.0) is None  # dust
