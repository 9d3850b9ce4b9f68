"""What a posture allows an entry to be: its order type, its size, and the exposure it adds.

Pure rules over Nautilus objects, shared by the per-strategy
:class:`~adapters.nautilus.guard.PostureGuard` and the node-level
:class:`~adapters.nautilus.gate.PostureGate`. Exposure is counted **per account** (every
strategy's positions and working entries at the venue), so two strategies cannot stack past
one cap. Notionals are in the instrument's quote currency
(see :func:`~adapters.nautilus.sizing.quantity_notional`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from nautilus_trader.model.enums import OrderType
from nautilus_trader.model.identifiers import InstrumentId, StrategyId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.orders import Order

from controller import Posture

from .data import SurvivalDecisionData
from .sizing import bet_notional, quantity_notional

__all__ = ["Mark", "account_capital", "cache_mark", "entry_type_refusal", "gross_exposure", "size_refusal",
           "working_entries"]

Mark = Callable[[InstrumentId], "float | None"]
"""Price to value an instrument at (e.g. the quote mid), or None."""

_TOLERANCE = 1e-9  # relative: rounding of prices and quantities never trips a cap


def entry_type_refusal(order: Order, posture: Posture, decision: SurvivalDecisionData) -> str | None:
    """Why ``posture`` forbids an entry of ``order``'s type (None when the type is allowed).

    APEX with taker allowed: MARKET and LIMIT; APEX without taker, and STALKER: only post-only
    LIMIT; TURTLE and HIBERNATE (or entries off): none. Other order types are never entries.
    """
    if posture <= Posture.TURTLE or not decision.entries_allowed:
        return f"{posture.name}: no new entries (exits must be reduce_only)"
    taker = posture == Posture.APEX and decision.taker_allowed
    if order.order_type == OrderType.MARKET:
        return None if taker else f"{posture.name}: market entries need APEX with taker allowed"
    if order.order_type == OrderType.LIMIT:
        return None if taker or order.is_post_only else f"{posture.name}: only post_only limit entries"
    return f"{posture.name}: entry order type {order.order_type.name} not allowed (MARKET or LIMIT)"


def size_refusal(posture: Posture, decision: SurvivalDecisionData, capital: float, base_fraction: float,
                 entry_notional: float, exposure: float) -> str | None:
    """Why an entry of ``entry_notional`` is too large (None when it fits).

    * the bet cap: ``capital × base_fraction × r_total × max_leverage`` (the largest bet
      :meth:`PostureGuard.entry_quantity` can size, at the posture's leverage cap);
    * the exposure cap: ``exposure + entry_notional ≤ capital × max_leverage`` (gross, for the
      whole account).
    """
    lev = decision.max_leverage
    cap = bet_notional(decision.r_total, lev, True, capital, base_fraction, lev)
    if entry_notional > cap * (1.0 + _TOLERANCE):
        return (f"{posture.name}: entry notional {entry_notional:.2f} above the bet cap {cap:.2f} "
                f"(capital {capital:.2f} × base_fraction {base_fraction:g} × r_total {decision.r_total:.4f} "
                f"× max_leverage {lev:g})")
    limit = capital * lev
    if exposure + entry_notional > limit * (1.0 + _TOLERANCE):
        return (f"{posture.name}: account exposure {exposure:.2f} + entry {entry_notional:.2f} above "
                f"capital {capital:.2f} × max_leverage {lev:g} = {limit:.2f}")
    return None


def account_capital(portfolio: Any, instrument: Instrument, price: float | None) -> float | None:
    """The account's balance at the instrument's venue, in the quote currency.

    The balance is taken in the instrument's settlement currency; a base-currency balance
    (inverse instruments) is converted at ``price``. None when there is no account, no such
    balance, or no price to convert with.
    """
    account = portfolio.account(instrument.id.venue)
    if account is None:
        return None
    currency = instrument.get_settlement_currency()
    balance = account.balance_total(currency)
    if balance is None:
        return None
    value = balance.as_double()
    if currency == instrument.quote_currency:
        return value
    if currency == instrument.get_base_currency() and price is not None and math.isfinite(price) and price > 0:
        return value * price
    return None


def cache_mark(cache: Any) -> Mark:
    """Mid of the latest quote in ``cache`` (None without a quote)."""
    def mark(instrument_id: InstrumentId) -> float | None:
        quote = cache.quote_tick(instrument_id)
        if quote is None:
            return None
        return (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2.0
    return mark


def gross_exposure(cache: Any, venue: Venue, quote_currency: Any, mark: Mark,
                   exclude: Iterable[str] = ()) -> float:
    """Gross notional of **every** open position and working entry at ``venue`` (the account,
    whichever strategy holds it) quoted in ``quote_currency``.

    Positions are valued at ``mark(instrument_id)`` (falling back to their average open price),
    working entries at their limit price (else the mark) for their unfilled quantity; entries
    already pending cancel and the client order ids in ``exclude`` are not counted.
    """
    skip = set(exclude)
    total = 0.0
    for position in cache.positions_open(venue=venue):
        instrument = cache.instrument(position.instrument_id)
        if instrument is None or instrument.quote_currency != quote_currency:
            continue
        price = mark(position.instrument_id) or position.avg_px_open
        total += quantity_notional(instrument, position.quantity.as_double(), price)
    for order in working_entries(cache, venue=venue):
        if order.client_order_id.value in skip or order.is_pending_cancel:
            continue
        instrument = cache.instrument(order.instrument_id)
        if instrument is None or instrument.quote_currency != quote_currency:
            continue
        price = order.price.as_double() if order.has_price else mark(order.instrument_id)
        if price:
            total += quantity_notional(instrument, order.leaves_qty.as_double(), price)
    return total


def working_entries(cache: Any, venue: Venue | None = None, strategy_id: StrategyId | None = None) -> list[Order]:
    """Open, in-flight (submitted, not yet accepted) and emulated orders that are not
    ``reduce_only`` — of one strategy, or of all — sorted by client order id."""
    orders = cache.orders_open(venue=venue, strategy_id=strategy_id)
    orders += cache.orders_inflight(venue=venue, strategy_id=strategy_id)
    orders += cache.orders_emulated(venue=venue, strategy_id=strategy_id)
    unique = {o.client_order_id.value: o for o in orders if not o.is_reduce_only and not o.is_closed}
    return [unique[k] for k in sorted(unique)]
