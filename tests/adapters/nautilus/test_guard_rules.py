"""Posture-guard rules, sizing and the trading-state map, checked on real Nautilus orders."""

from __future__ import annotations

import json
import math

import pytest
from nautilus_trader.common.component import TestClock
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.model.enums import OrderSide, TradingState
from nautilus_trader.model.identifiers import StrategyId, TraderId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from adapters.nautilus import (
    GuardConfig,
    GuardConfigError,
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

LIMITS = {  # posture -> (r_total, max_leverage, entries_allowed, taker_allowed)
    "APEX": (1.0, 6.0, True, True),
    "STALKER": (0.8, 2.0, True, False),
    "TURTLE": (0.3, 1.0, False, False),
    "HIBERNATE": (0.0, 0.0, False, False),
}


def decision(posture: str, taker: bool | None = None) -> SurvivalDecisionData:
    r, lev, entries, default_taker = LIMITS[posture]
    return SurvivalDecisionData(
        ts_event=1, ts_init=1, t_s=0.0, r_total=r, posture=posture, max_leverage=lev,
        entries_allowed=entries, taker_allowed=default_taker if taker is None else taker,
        invariant_broken=posture == "HIBERNATE", layers_json=json.dumps({"x": r}),
    )


def guard_in(posture: str, **kwargs) -> PostureGuard:
    guard = PostureGuard(GuardConfig(**kwargs))
    guard.on_decision(decision(posture))
    return guard


def market(reduce_only: bool = False):
    return FACTORY.market(BTC.id, OrderSide.BUY, QTY, reduce_only=reduce_only)


def limit(post_only: bool = False, reduce_only: bool = False):
    return FACTORY.limit(BTC.id, OrderSide.BUY, QTY, PX, post_only=post_only, reduce_only=reduce_only)


@pytest.mark.parametrize("posture, allowed", [
    ("APEX", {"market", "limit", "post_only"}),
    ("STALKER", {"post_only"}),
    ("TURTLE", set()),
    ("HIBERNATE", set()),
])
def test_entries_allowed_per_posture(posture: str, allowed: set[str]) -> None:
    guard = guard_in(posture)
    got = {name for name, order in (("market", market()), ("limit", limit()), ("post_only", limit(True)))
           if guard.check(order).allowed}
    assert got == allowed


@pytest.mark.parametrize("posture", list(LIMITS))
def test_reduce_only_exits_are_never_blocked(posture: str) -> None:
    guard = guard_in(posture)
    assert guard.check(market(reduce_only=True)).allowed
    assert guard.check(limit(reduce_only=True)).allowed


def test_apex_without_taker_allows_only_post_only_entries() -> None:
    guard = PostureGuard()
    guard.on_decision(decision("APEX", taker=False))
    assert not guard.check(market()).allowed
    assert not guard.check(limit()).allowed
    assert guard.check(limit(post_only=True)).allowed


def test_no_decision_means_no_entries_but_exits() -> None:
    guard = PostureGuard()
    verdict = guard.check(limit(post_only=True))
    assert not verdict.allowed and "no survival decision" in verdict.reason
    assert guard.check(market(reduce_only=True)).allowed


def test_refusals_name_the_posture() -> None:
    assert guard_in("TURTLE").check(market()).reason.startswith("TURTLE: no new entries")
    assert guard_in("STALKER").check(limit()).reason == "STALKER: only post_only limit entries"


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


def test_entry_size_follows_r_total_and_the_posture_leverage_cap() -> None:
    assert bet_notional(0.5, 2.0, True, 100_000.0, 0.02, 6.0) == pytest.approx(2_000.0)   # lev capped at 2
    assert bet_notional(0.5, 2.0, False, 100_000.0, 0.02, 6.0) == 0.0
    guard = guard_in("STALKER", base_fraction=0.05)
    qty = guard.entry_quantity(BTC, capital=100_000.0, price=40_000.0, leverage=6.0)
    assert qty == Quantity.from_str("0.200000")  # 100k × 0.05 × 0.8 × min(6, 2) / 40k
    assert guard_in("TURTLE").entry_quantity(BTC, 100_000.0, 40_000.0) is None
    assert guard_in("APEX").entry_quantity(BTC, 100.0, 40_000.0, 1.0) is None  # 2 USDT < min notional


def test_exit_sizes_turtle_clips_at_the_minimum() -> None:
    held = Quantity.from_str("1.500000")
    assert guard_in("APEX").exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("HIBERNATE").exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("TURTLE").exit_quantity(BTC, held, 40_000.0) == Quantity.from_str("0.000250")
    assert guard_in("TURTLE", turtle_exit_clip=False).exit_quantity(BTC, held, 40_000.0) == held
    assert guard_in("TURTLE").exit_quantity(BTC, Quantity.from_str("0.000100"), 40_000.0) is None  # dust
