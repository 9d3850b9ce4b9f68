"""The pure trading logic: its defaults are the twin's, and its rules on hand-made inputs."""

from __future__ import annotations

import math

import pytest

from trading import BUY, SELL, TradingParams, bet_size, entry_intents, exit_intent, plunge
from twin.agent import trading_params
from twin.config import AgentConfig


def test_the_defaults_are_the_twins() -> None:
    """Paper trading with no settings must trade what the suites judged: TradingParams() is the
    twin's [agent] default, field for field."""
    assert trading_params(AgentConfig()) == TradingParams()


def touch(asset: int) -> tuple[float, float]:
    return 99.0 + asset, 101.0 + asset


def test_entries_follow_the_plunge_the_ranking_and_the_room() -> None:
    p = TradingParams(entry_threshold=0.02, entries_per_signal=2)
    assert not plunge(-0.5, 50, p) and plunge(-1.01, 50, p) and plunge(math.nan, 50, p) is True
    assert entry_intents(-0.5, 50, [3, 1], set(), 5, 1000.0, 1e9, True, touch, p) == []
    maker = entry_intents(-1.5, 50, [3, 1, 4], {1}, 5, 1000.0, 1500.0, True, touch, p)
    assert [(i.asset, i.side, i.kind, i.price) for i in maker] == [(3, SELL, "maker", 104.0), (4, SELL, "maker", 105.0)]
    assert maker[0].qty == pytest.approx(1000.0 / 104.0) and maker[1].qty == pytest.approx(500.0 / 105.0)
    taker = entry_intents(-2.5, 50, [3], set(), 5, 1000.0, 1e9, True, touch, p)
    assert taker[0].kind == "taker" and taker[0].price == 102.0            # a short takes the bid
    assert entry_intents(-2.5, 50, [3], set(), 5, 1000.0, 1e9, False, touch, p)[0].kind == "maker"
    assert entry_intents(-2.5, 50, [3, 4], set(), 1, 1000.0, 1e9, True, touch, p)[1:] == []   # one slot


def test_exits_take_profit_as_maker_and_everything_else_as_taker() -> None:
    p = TradingParams(take_profit_bps=100.0, stop_bps=50.0, max_hold_s=600.0)
    short = -10.0   # a short of 10 at 100: the price falling is profit
    tp = exit_intent(0, short, 100.0, 98.9, 5.0, touch, p, False, False)
    assert (tp.side, tp.kind, tp.reason, tp.qty, tp.price) == (BUY, "maker", "take_profit", 10.0, 99.0)
    assert exit_intent(0, short, 100.0, 98.9, 5.0, touch, p, False, True).kind == "taker"   # not in HIBERNATE
    assert exit_intent(0, short, 100.0, 100.6, 5.0, touch, p, False, False).reason == "stop"
    assert exit_intent(0, short, 100.0, 100.0, 600.0, touch, p, False, False).reason == "max_hold"
    assert exit_intent(0, short, 100.0, 100.0, 5.0, touch, p, True, False).reason == "exit_timeout"
    assert exit_intent(0, short, 100.0, 100.0, 5.0, touch, p, False, True) is None
    flat = TradingParams(flatten_on_hibernate=True)
    assert exit_intent(0, 10.0, 100.0, 100.0, 5.0, touch, flat, False, True).reason == "flatten"
    assert bet_size(1000.0, 0.1, 0.5, 5.0, 2.0, True) == pytest.approx(100.0) and bet_size(1, 1, 1, 1, 1, False) == 0.0
