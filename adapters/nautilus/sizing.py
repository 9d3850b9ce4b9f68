"""Order quantities from the survival decision, and the posture → RiskEngine state map.

Quantities are rounded *down* to the instrument's size increment; a quantity that rounds
to zero or below the instrument's minimum is reported as ``None`` (no order), never sent
to be rejected by the venue.
"""

from __future__ import annotations

import math

from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity

from controller import Posture

__all__ = [
    "bet_notional",
    "minimum_quantity",
    "notional_to_quantity",
    "quantity_notional",
    "round_quantity",
    "trading_state_for",
]


def bet_notional(r_total: float, max_leverage: float, entries_allowed: bool,
                 capital: float, base_fraction: float, leverage: float) -> float:
    """``capital × base_fraction × r_total × min(leverage, posture cap)``; 0 when entries are off."""
    if not entries_allowed:
        return 0.0
    notional = capital * base_fraction * r_total * min(leverage, max_leverage)
    return notional if math.isfinite(notional) and notional > 0.0 else 0.0


def minimum_quantity(instrument: Instrument, price: float | None = None) -> Quantity:
    """The smallest quantity the instrument accepts: its minimum quantity (at least one size
    increment) and, when ``price`` is given, enough to reach its minimum notional (the
    RiskEngine denies orders below it), rounded up to the size increment."""
    increment = instrument.size_increment
    minimum = instrument.min_quantity
    if minimum is None or minimum < increment:
        minimum = increment
    min_notional = instrument.min_notional
    if (price is None or min_notional is None or instrument.is_inverse
            or min_notional.currency != instrument.quote_currency or not (math.isfinite(price) and price > 0.0)):
        return minimum
    step = increment.as_double()
    raw = min_notional.as_double() / (price * instrument.multiplier.as_double())
    needed = instrument.make_qty(math.ceil(raw / step - 1e-9) * step)
    return needed if needed > minimum else minimum


def round_quantity(instrument: Instrument, raw: float, price: float | None = None) -> Quantity | None:
    """``raw`` rounded down to the size increment and capped at the instrument maximum.

    Returns ``None`` when the result would be zero or below the instrument minimum
    (including its minimum notional at ``price``, when given).
    """
    if not math.isfinite(raw) or raw <= 0.0:
        return None
    maximum = instrument.max_quantity
    if maximum is not None and raw > maximum.as_double():
        raw = maximum.as_double()
    try:
        qty = instrument.make_qty(raw, round_down=True)
    except ValueError:  # rounded to zero by the size increment
        return None
    if qty.as_double() <= 0.0 or qty < minimum_quantity(instrument, price):
        return None
    return qty


def notional_to_quantity(instrument: Instrument, notional: float, price: float) -> Quantity | None:
    """Quantity worth ``notional`` (quote currency) at ``price``; ``None`` below the minimum.

    Linear instruments: ``notional / (price × multiplier)``. Inverse instruments are sized in
    contracts of quote value: ``notional / multiplier``.
    """
    if not (math.isfinite(price) and price > 0.0):
        return None
    multiplier = instrument.multiplier.as_double()
    if instrument.is_inverse:
        return round_quantity(instrument, notional / multiplier)
    return round_quantity(instrument, notional / (price * multiplier), price)


def quantity_notional(instrument: Instrument, quantity: float, price: float) -> float:
    """Quote-currency notional of ``quantity`` at ``price`` (the inverse of
    :func:`notional_to_quantity`): linear ``quantity × price × multiplier``; inverse
    instruments (contracts of quote value) ``quantity × multiplier``."""
    multiplier = instrument.multiplier.as_double()
    if instrument.is_inverse:
        return float(quantity) * multiplier
    return float(quantity) * float(price) * multiplier


def trading_state_for(posture: Posture, hibernate_state: TradingState = TradingState.REDUCING) -> TradingState:
    """RiskEngine trading state for a posture: APEX/STALKER → ACTIVE, TURTLE → REDUCING,
    HIBERNATE → ``hibernate_state`` (REDUCING by default: HALTED would block exits)."""
    if posture >= Posture.STALKER:
        return TradingState.ACTIVE
    if posture == Posture.TURTLE:
        return TradingState.REDUCING
    return hibernate_state
