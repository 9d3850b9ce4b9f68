"""DOLPHIN's trading decisions, pure: vel_div plunge entries into the scanner's top-ranked
assets, take-profit / stop / max-hold exits, and bet sizing by the survival decision.

Drivers (the twin's agent, the NautilusTrader ``DolphinStrategy``) own the books, the clock and
the order I/O; they call these functions with what they see and send the :class:`OrderIntent`
they return. Sides are +1 (buy) and -1 (sell); kinds ``taker`` / ``maker`` (post-only);
intents ``entry`` / ``exit``. No clock, no randomness, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["BUY", "SELL", "OrderIntent", "TradingParams", "bet_size", "entry_intents", "exit_intent", "exit_reason",
           "plunge"]

BUY, SELL = 1, -1


@dataclass(frozen=True)
class TradingParams:
    """The trading logic's settings; the defaults are the twin's ``[agent]`` defaults (a test holds
    them equal), so paper trading with no settings trades what the suites judged."""

    base_fraction: float = 0.1
    leverage: float = 5.0
    entry_side: str = "short"
    entry_threshold: float = 0.02      # on vel_div / N (per asset)
    entries_per_signal: int = 2
    max_positions: int = 5
    take_profit_bps: float = 120.0
    stop_bps: float = 45.0
    max_hold_s: float = 1800.0
    maker_timeout_s: float = 60.0
    exit_timeout_s: float = 30.0
    flatten_on_hibernate: bool = False

    @property
    def side(self) -> int:
        return SELL if self.entry_side == "short" else BUY


class OrderIntent(NamedTuple):
    """An order the logic wants sent: ``qty`` in units of the asset, ``price`` the touch it is
    priced at (taker: the far side; maker: the near side)."""

    asset: int
    side: int
    kind: str
    intent: str
    qty: float
    price: float
    reason: str


def bet_size(capital: float, base_fraction: float, r_total: float, leverage: float, max_leverage: float,
             entries_allowed: bool) -> float:
    """``capital × base_fraction × r_total × min(leverage, posture cap)``; 0 when entries are off
    (the controller's ``Decision.size``)."""
    if not entries_allowed:
        return 0.0
    return capital * base_fraction * r_total * min(leverage, max_leverage)


def exit_reason(pnl_bps: float, held_s: float, params: TradingParams, force_taker: bool,
                hibernate: bool) -> str | None:
    """Why a position must be exited now, or None: a maker exit that timed out, take-profit,
    stop, max-hold, or (with ``flatten_on_hibernate``) HIBERNATE."""
    if force_taker:
        return "exit_timeout"
    if pnl_bps >= params.take_profit_bps:
        return "take_profit"
    if pnl_bps <= -params.stop_bps:
        return "stop"
    if held_s >= params.max_hold_s:
        return "max_hold"
    if hibernate and params.flatten_on_hibernate:
        return "flatten"
    return None


def exit_intent(asset: int, qty: float, avg_price: float, mid: float, held_s: float,
                touch: Callable[[int], tuple[float, float]], params: TradingParams, force_taker: bool,
                hibernate: bool) -> OrderIntent | None:
    """The exit for a position of signed ``qty`` opened at ``avg_price``, or None. Take-profits
    rest as maker orders at the near touch (not in HIBERNATE); every other exit takes.
    ``touch(asset)`` is asked only when there is an exit."""
    pnl_bps = (mid / avg_price - 1.0) * 1e4 * (1 if qty > 0 else -1)
    reason = exit_reason(pnl_bps, held_s, params, force_taker, hibernate)
    if reason is None:
        return None
    side = SELL if qty > 0 else BUY
    bid, ask = touch(asset)
    maker = reason == "take_profit" and not hibernate
    price = (bid if side > 0 else ask) if maker else (ask if side > 0 else bid)
    return OrderIntent(asset, side, "maker" if maker else "taker", "exit", abs(qty), price, reason)


def plunge(vel_div: float, n_assets: int, params: TradingParams) -> bool:
    """Does this scan's vel_div call for entries (``vel_div / n_assets < -entry_threshold``)?"""
    return not vel_div / n_assets >= -params.entry_threshold   # (a NaN vel_div is not "no plunge")


def entry_intents(vel_div: float, n_assets: int, ranked: Iterable[int], busy: Container[int], open_slots: int,
                  notional: float, room: float, taker_allowed: bool, touch: Callable[[int], tuple[float, float]],
                  params: TradingParams) -> list[OrderIntent]:
    """Entries for one new scan: when ``vel_div / n_assets`` is below ``-entry_threshold``, up to
    ``min(entries_per_signal, open_slots)`` of the ``ranked`` assets not ``busy`` (held, entering
    or exiting), each ``min(notional, room left)``; taker (far touch) when allowed and the plunge
    is twice the threshold, else post-only maker at the near touch.

    ``notional``: the bet size (:func:`bet_size`); ``room``: ``equity × max_leverage`` minus the
    gross exposure of positions and working entries.
    """
    per_asset = vel_div / n_assets          # λ_max scales with N: the threshold is per asset
    if not plunge(vel_div, n_assets, params):
        return []
    slots = min(params.entries_per_signal, open_slots)
    taker = taker_allowed and per_asset < -2.0 * params.entry_threshold
    side = params.side
    out: list[OrderIntent] = []
    for asset in ranked:
        if slots <= 0 or min(notional, room) <= 0:
            break
        if asset in busy:
            continue
        size = min(notional, room)
        bid, ask = touch(asset)
        price = (ask if side > 0 else bid) if taker else (bid if side > 0 else ask)
        out.append(OrderIntent(asset, side, "taker" if taker else "maker", "entry", size / price, price, "vel_div"))
        room -= size
        slots -= 1
    return out
