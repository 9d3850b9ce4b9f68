"""The posture guard: what any DOLPHIN strategy may send, given the latest survival decision.

Rules (exits — ``reduce_only`` orders — are never blocked):

* APEX: market and limit entries (market only while the decision allows taker orders).
* STALKER (and APEX without taker): only ``post_only`` limit entries. Working entries that are
  not post-only are cancelled when the decision tightens to this (APEX → STALKER, taker lost).
* TURTLE: no entries; working entries are cancelled on entering TURTLE. Exits: **any**
  ``reduce_only`` order passes, whatever its size or type. This is a design decision: exits
  are never blocked ("one less engine is still flyable") and ``reduce_only`` cannot add
  exposure (the RiskEngine denies a reduce-only order that would increase its position;
  venues and Nautilus's matching engine honour the flag). TURTLE's "minimum size" is what
  :meth:`PostureGuard.exit_quantity` sizes (minimum-size clips): advice for the strategy,
  not a limit the guard enforces on exits.
* HIBERNATE: all working orders are cancelled at once on entering it; only ``reduce_only``
  exits; with ``flatten_on_hibernate`` every open position is closed (reduce-only).
* No decision yet, or a decision older than ``max_decision_age_s``: no entries.

Entry size is enforced, not only advised (the RiskEngine's REDUCING caps no quantity): an
entry is refused when its notional exceeds the bet cap ``capital × base_fraction × r_total ×
max_leverage`` or when the strategy's gross exposure (open positions plus working entries)
plus the entry would exceed ``capital × max_leverage``; ``capital`` is the strategy's account
balance at the venue (or a ``capital_source``). An entry whose capital, instrument or price is
unknown is refused (fail-safe), as is one below the instrument minimum.
:meth:`PostureGuard.entry_quantity` sizes entries inside both caps, rounded down to the
instrument. Postures are also mapped onto the RiskEngine's trading state (TURTLE and
HIBERNATE → REDUCING; HALTED only if asked for, since HALTED blocks exits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nautilus_trader.model.enums import TradingState, trading_state_from_str
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import Order

from controller import Posture

from .data import SurvivalDecisionData
from .errors import GuardConfigError, InterfaceError
from .limits import account_capital, entry_type_refusal, gross_exposure, size_refusal, working_entries
from .sizing import (
    bet_notional,
    minimum_quantity,
    notional_to_quantity,
    quantity_notional,
    round_quantity,
    trading_state_for,
)

__all__ = ["CapitalSource", "GuardConfig", "GuardStats", "GuardVerdict", "PostureGuard"]

CapitalSource = Callable[[Instrument], "float | None"]
"""Capital (in the instrument's quote currency) to size and cap entries with; None if unknown."""

_STATES = ("ACTIVE", "REDUCING", "HALTED")


@dataclass(frozen=True)
class GuardConfig:
    """Settings of the posture guard (validated on construction).

    base_fraction : fraction of capital per entry at ``r_total = 1`` and leverage 1, in (0, 1].
    flatten_on_hibernate : close every open position (reduce-only) on entering HIBERNATE.
    hibernate_trading_state : RiskEngine state in HIBERNATE: ``REDUCING`` (default) or
        ``HALTED`` (blocks exits: only for operators who accept that) or ``ACTIVE``.
    map_trading_state : set the RiskEngine's trading state on posture changes.
    max_decision_age_s : entries are refused when the latest decision is older than this.
    turtle_exit_clip : in TURTLE, :meth:`PostureGuard.exit_quantity` returns the instrument
        minimum (exits in minimum-size clips); False returns the whole position.
    """

    base_fraction: float = 0.02
    flatten_on_hibernate: bool = False
    hibernate_trading_state: str = "REDUCING"
    map_trading_state: bool = True
    max_decision_age_s: float = 5.0
    turtle_exit_clip: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.base_fraction, (int, float)) and 0.0 < self.base_fraction <= 1.0):
            raise GuardConfigError(f"GuardConfig.base_fraction: expected a number in (0, 1], got {self.base_fraction!r}")
        age = self.max_decision_age_s
        if not (isinstance(age, (int, float)) and math.isfinite(age) and age > 0.0):
            raise GuardConfigError(f"GuardConfig.max_decision_age_s: expected seconds > 0, got {age!r}")
        if self.hibernate_trading_state not in _STATES:
            raise GuardConfigError(
                f"GuardConfig.hibernate_trading_state: expected one of {', '.join(_STATES)}, "
                f"got {self.hibernate_trading_state!r}"
            )

    @property
    def hibernate_state(self) -> TradingState:
        return trading_state_from_str(self.hibernate_trading_state)


class GuardVerdict(NamedTuple):
    """Whether an order may be sent, and why."""

    allowed: bool
    reason: str


@dataclass
class GuardStats:
    """Counters of what the guard did (for reports and tests)."""

    submitted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    cancel_all_calls: int = 0
    entry_cancels: int = 0
    flattens: int = 0


class PostureGuard:
    """Enforces posture limits for one strategy (see the module docstring).

    Parameters
    ----------
    config : GuardConfig
    trading_state_sink : called with the RiskEngine ``TradingState`` on posture changes,
        e.g. ``engine.kernel.risk_engine.set_trading_state``; None to leave it alone.
    capital_source : capital for sizing and the caps; default the strategy's account balance
        at the instrument's venue (:func:`~adapters.nautilus.limits.account_capital`).
    """

    def __init__(self, config: GuardConfig | None = None,
                 trading_state_sink: Callable[[TradingState], None] | None = None,
                 capital_source: CapitalSource | None = None) -> None:
        self.config = config or GuardConfig()
        self._sink = trading_state_sink
        self._capital_source = capital_source
        self._strategy: Any = None
        self.decision: SurvivalDecisionData | None = None
        self.posture: Posture | None = None
        self.stats = GuardStats()

    def attach(self, strategy: Any) -> None:
        """The strategy whose orders the guard checks, cancels and sends."""
        self._strategy = strategy

    # -- decisions -------------------------------------------------------------------------

    def on_decision(self, data: SurvivalDecisionData) -> None:
        """Adopt a new decision; act on posture transitions and on tightened limits."""
        previous, previous_decision = self.posture, self.decision
        posture = data.posture_level
        self.decision = data
        self.posture = posture
        if posture != previous and self.config.map_trading_state and self._sink is not None:
            self._sink(trading_state_for(posture, self.config.hibernate_state))
        if self._strategy is None:
            return
        if posture == Posture.HIBERNATE:
            if previous != Posture.HIBERNATE:
                self._hibernate()
        elif previous is None or posture < previous or (
                previous_decision is not None and previous_decision.taker_allowed and not data.taker_allowed):
            self._cancel_disallowed_entries(posture, data)

    def _hibernate(self) -> None:
        strategy = self._strategy
        for instrument_id in self._working_instruments():
            strategy.cancel_all_orders(instrument_id)
            self.stats.cancel_all_calls += 1
        if self.config.flatten_on_hibernate:
            positions = strategy.cache.positions_open(strategy_id=strategy.id)
            for instrument_id in sorted({p.instrument_id for p in positions}, key=str):
                strategy.close_all_positions(instrument_id, reduce_only=True)
                self.stats.flattens += 1

    def _working_instruments(self) -> list[InstrumentId]:
        cache, sid = self._strategy.cache, self._strategy.id
        orders = cache.orders_open(strategy_id=sid) + cache.orders_inflight(strategy_id=sid)
        orders += cache.orders_emulated(strategy_id=sid)
        return sorted({o.instrument_id for o in orders}, key=str)

    def _cancel_disallowed_entries(self, posture: Posture, decision: SurvivalDecisionData) -> None:
        """Cancel working entries whose type the new decision no longer allows (all of them in
        TURTLE; those that are not post-only in STALKER or in APEX without taker)."""
        for order in working_entries(self._strategy):
            if order.is_pending_cancel or order.is_closed:
                continue
            if entry_type_refusal(order, posture, decision) is not None:
                self._strategy.cancel_order(order)
                self.stats.entry_cancels += 1

    # -- checks ----------------------------------------------------------------------------

    def check(self, order: Order) -> GuardVerdict:
        """May ``order`` be sent now? Exits (``reduce_only``) always may, at any size."""
        if order.is_reduce_only:
            return GuardVerdict(True, "exit (reduce_only)")
        refusal = self._entry_refusal(order)
        if refusal is not None:
            return GuardVerdict(False, refusal)
        return GuardVerdict(True, f"{self.posture.name} entry")

    def _entry_refusal(self, order: Order) -> str | None:
        d, posture = self.decision, self.posture
        if d is None or posture is None:
            return "no survival decision yet: no entries"
        age_s = self._decision_age_s()
        if age_s > self.config.max_decision_age_s:
            return f"survival decision is {age_s:.1f} s old (> {self.config.max_decision_age_s} s): no entries"
        refusal = entry_type_refusal(order, posture, d)
        if refusal is not None:
            return refusal
        if self._strategy is None:
            return f"{posture.name}: no strategy attached: entries cannot be sized or capped"
        instrument = self._instrument(order.instrument_id)
        price = self._reference_price(order)
        if instrument is None or price is None:
            what = "instrument" if instrument is None else "price (no limit price, no quote)"
            return f"{posture.name}: no {what} for {order.instrument_id}: entries cannot be sized or capped"
        minimum = minimum_quantity(instrument, price)
        if order.quantity < minimum:
            return f"{posture.name}: quantity {order.quantity} below instrument minimum {minimum}"
        capital = self.capital(instrument, price)
        if capital is None:
            return f"{posture.name}: capital unknown for {order.instrument_id}: entries cannot be capped"
        notional = quantity_notional(instrument, order.quantity.as_double(), price)
        exposure = gross_exposure(self._strategy, instrument.quote_currency, self._mark)
        return size_refusal(posture, d, capital, self.config.base_fraction, notional, exposure)

    def _reference_price(self, order: Order) -> float | None:
        if order.has_price:
            return order.price.as_double()
        return self._mark(order.instrument_id)

    def _mark(self, instrument_id: InstrumentId) -> float | None:
        """Mid of the latest quote in the cache, or None."""
        if self._strategy is None:
            return None
        quote = self._strategy.cache.quote_tick(instrument_id)
        if quote is None:
            return None
        return (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2.0

    def _decision_age_s(self) -> float:
        if self._strategy is None or self.decision is None:
            return 0.0
        return (self._strategy.clock.timestamp_ns() - self.decision.ts_event) / 1e9

    def _instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        if self._strategy is None:
            return None
        return self._strategy.cache.instrument(instrument_id)

    def submit(self, order: Order, **kwargs: Any) -> GuardVerdict:
        """Check ``order`` and, if allowed, ``strategy.submit_order(order, **kwargs)``.

        Raises InterfaceError when no strategy is attached.
        """
        if self._strategy is None:
            raise InterfaceError("PostureGuard.submit: no strategy attached (use GuardedStrategy or attach())")
        verdict = self.check(order)
        if verdict.allowed:
            self._strategy.submit_order(order, **kwargs)
            self.stats.submitted += 1
        else:
            key = verdict.reason.split(":")[0]
            self.stats.refused[key] = self.stats.refused.get(key, 0) + 1
        return verdict

    # -- sizing ----------------------------------------------------------------------------

    def capital(self, instrument: Instrument, price: float | None = None) -> float | None:
        """Capital to size and cap entries in ``instrument`` with (quote currency), or None."""
        if self._capital_source is not None:
            value = self._capital_source(instrument)
        elif self._strategy is not None:
            value = account_capital(self._strategy, instrument, price)
        else:
            value = None
        return float(value) if value is not None and math.isfinite(value) and value > 0.0 else None

    def entry_quantity(self, instrument: Instrument, capital: float | None, price: float,
                       leverage: float = 1.0) -> Quantity | None:
        """Entry size for the latest decision, or ``None`` (entries off, below the minimum, or
        no headroom): ``capital × base_fraction × r_total × min(leverage, posture cap)``, and
        never more than the exposure headroom ``capital × posture cap − exposure``.
        ``capital=None`` uses :meth:`capital`."""
        d = self.decision
        if d is None:
            return None
        capital = self.capital(instrument, price) if capital is None else capital
        if capital is None:
            return None
        notional = bet_notional(d.r_total, d.max_leverage, d.entries_allowed,
                                capital, self.config.base_fraction, leverage)
        if self._strategy is not None:
            headroom = capital * d.max_leverage - gross_exposure(self._strategy, instrument.quote_currency, self._mark)
            notional = min(notional, headroom)
        return notional_to_quantity(instrument, notional, price)

    def exit_quantity(self, instrument: Instrument, position_quantity: Quantity | float,
                      price: float | None = None) -> Quantity | None:
        """Exit size: the whole position, or in TURTLE (with ``turtle_exit_clip``) the
        instrument minimum at ``price``, never more than the position; ``None`` when what is
        held is below the instrument minimum (the venue would refuse it). Advisory: the guard
        passes any ``reduce_only`` exit."""
        held = float(position_quantity)
        if self.posture == Posture.TURTLE and self.config.turtle_exit_clip:
            held = min(held, minimum_quantity(instrument, price).as_double())
        return round_quantity(instrument, held, price)
