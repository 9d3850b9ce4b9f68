"""The posture rules one account's orders are held to, shared by the per-strategy
:class:`~adapters.nautilus.guard.PostureGuard` and the node-level
:class:`~adapters.nautilus.gate.PostureGate`.

:class:`PostureRules` holds the latest survival decision and answers, from Nautilus's cache,
portfolio and clock: may this order be submitted, this modification applied, this order list
sent; which working entries must go when a decision tightens; how large an entry may be.
Exits — ``reduce_only`` orders — always pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from nautilus_trader.model.enums import TradingState, trading_state_from_str
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.model.orders import Order

from controller import Posture

from .data import SurvivalDecisionData
from .errors import GuardConfigError
from .limits import account_capital, cache_mark, entry_type_refusal, gross_exposure, size_refusal, working_entries
from .sizing import bet_notional, minimum_quantity, notional_to_quantity, quantity_notional, round_quantity

__all__ = ["CapitalSource", "GuardConfig", "GuardVerdict", "PostureRules"]

CapitalSource = Callable[[Instrument], "float | None"]
"""Capital (in the instrument's quote currency) to size and cap entries with; None if unknown."""

_STATES = ("ACTIVE", "REDUCING", "HALTED")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GuardConfig:
    """Settings of the posture guard and gate (validated on construction).

    base_fraction : fraction of capital per entry at ``r_total = 1`` and leverage 1, in (0, 1].
    flatten_on_hibernate : close every open position (reduce-only) on entering HIBERNATE.
    hibernate_trading_state : RiskEngine state in HIBERNATE: ``REDUCING`` (default) or
        ``HALTED`` (blocks exits: only for operators who accept that) or ``ACTIVE``.
    map_trading_state : set the RiskEngine's trading state on posture changes.
    max_decision_age_s : entries are refused when the latest decision is older than this.
    turtle_exit_clip : in TURTLE, :meth:`PostureRules.exit_quantity` returns the instrument
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


class PostureRules:
    """The latest decision and the rules it implies, read against one node's cache.

    ``context`` is anything with ``cache``, ``portfolio`` and ``clock`` (a registered Strategy or
    Actor); None until attached — entries are refused until then.
    """

    def __init__(self, config: GuardConfig | None = None, capital_source: CapitalSource | None = None) -> None:
        self.config = config or GuardConfig()
        self.capital_source = capital_source
        self.context: Any = None
        self.decision: SurvivalDecisionData | None = None
        self.posture: Posture | None = None

    def adopt(self, data: SurvivalDecisionData) -> tuple[Posture | None, SurvivalDecisionData | None]:
        """Take ``data`` as the latest decision; returns the previous (posture, decision)."""
        previous = self.posture, self.decision
        self.decision, self.posture = data, data.posture_level
        return previous

    # -- checks ----------------------------------------------------------------------------

    def check(self, order: Order, pending_notional: float = 0.0) -> GuardVerdict:
        """May ``order`` be submitted now? ``pending_notional``: entries ahead of it in the same
        order list, not yet in the cache."""
        if order.is_reduce_only:
            return GuardVerdict(True, "exit (reduce_only)")
        refusal = self.entry_refusal(order, pending_notional=pending_notional)
        if refusal is not None:
            return GuardVerdict(False, refusal)
        return GuardVerdict(True, f"{self.posture.name} entry")

    def check_list(self, orders: Sequence[Order]) -> GuardVerdict:
        """May this order list (e.g. a bracket) be sent? Its entries are checked together: the
        exposure cap counts the entries ahead of each one."""
        pending = 0.0
        for order in orders:
            verdict = self.check(order, pending)
            if not verdict.allowed:
                return GuardVerdict(False, f"{order.client_order_id}: {verdict.reason}")
            if not order.is_reduce_only:
                pending += self._notional(order, None, None) or 0.0
        return GuardVerdict(True, "order list")

    def check_modify(self, order: Order, quantity: Quantity | None, price: Price | None) -> GuardVerdict:
        """May ``order`` be modified to ``quantity``/``price``? Exits always; an entry that only
        shrinks at the same price always; otherwise the entry as modified must pass like a
        new submission (its current working size not counted twice)."""
        if order.is_reduce_only:
            return GuardVerdict(True, "exit (reduce_only)")
        same_price = price is None or not order.has_price or price == order.price
        if same_price and (quantity is None or quantity <= order.quantity):
            return GuardVerdict(True, "entry shrinks")
        refusal = self.entry_refusal(order, quantity=quantity, price=price, exclude=(order.client_order_id.value,))
        return GuardVerdict(False, refusal) if refusal is not None else GuardVerdict(True, "modified entry")

    def entry_refusal(self, order: Order, quantity: Quantity | None = None, price: Price | None = None,
                      exclude: tuple[str, ...] = (), pending_notional: float = 0.0) -> str | None:
        """Why ``order`` (with ``quantity``/``price`` if given) may not be an entry now, or None."""
        d, posture = self.decision, self.posture
        if d is None or posture is None:
            return "no survival decision yet: no entries"
        age_s = self.decision_age_s()
        if age_s > self.config.max_decision_age_s:
            return f"survival decision is {age_s:.1f} s old (> {self.config.max_decision_age_s} s): no entries"
        refusal = entry_type_refusal(order, posture, d)
        if refusal is not None:
            return refusal
        if self.context is None:
            return f"{posture.name}: no strategy attached (no node): entries cannot be sized or capped"
        instrument = self.context.cache.instrument(order.instrument_id)
        px = self._price(order, price)
        if instrument is None or px is None:
            what = "instrument" if instrument is None else "price (no limit price, no quote)"
            return f"{posture.name}: no {what} for {order.instrument_id}: entries cannot be sized or capped"
        qty = quantity if quantity is not None else order.quantity
        minimum = minimum_quantity(instrument, px)
        if qty < minimum:
            return f"{posture.name}: quantity {qty} below instrument minimum {minimum}"
        capital = self.capital(instrument, px)
        if capital is None:
            return f"{posture.name}: capital unknown for {order.instrument_id}: entries cannot be capped"
        notional = quantity_notional(instrument, qty.as_double(), px)
        exposure = self.exposure(instrument, exclude) + pending_notional
        return size_refusal(posture, d, capital, self.config.base_fraction, notional, exposure)

    # -- what a tighter decision cancels ---------------------------------------------------

    def entries_to_cancel(self, previous: Posture | None, previous_decision: SurvivalDecisionData | None,
                          strategy_id: Any = None) -> list[Order]:
        """Working entries (of one strategy, or all) the latest decision no longer allows:
        all of them in HIBERNATE and TURTLE, in any state (also submitted, not yet accepted);
        on a tightening, those of a type no longer allowed, then the newest ones until positions
        plus working entries fit the new ``capital × max_leverage``. Positions are never reduced."""
        d, posture = self.decision, self.posture
        if self.context is None or d is None or posture is None:
            return []
        live = [o for o in working_entries(self.context.cache, strategy_id=strategy_id) if not o.is_pending_cancel]
        tightened = previous is None or posture < previous or (
            previous_decision is not None and (d.max_leverage < previous_decision.max_leverage
                                               or (previous_decision.taker_allowed and not d.taker_allowed)))
        if not tightened and posture > Posture.TURTLE:
            return []
        out = [o for o in live if entry_type_refusal(o, posture, d) is not None]
        return out + self._over_cap([o for o in live if o not in out])

    def _over_cap(self, candidates: list[Order]) -> list[Order]:
        """The newest of ``candidates`` to cancel until the account fits its exposure cap."""
        out: list[Order] = []
        cancelled: set[str] = set()
        for order in sorted(candidates, key=lambda o: (o.ts_init, o.client_order_id.value), reverse=True):
            instrument = self.context.cache.instrument(order.instrument_id)
            price = self._price(order, None)
            capital = self.capital(instrument, price) if instrument is not None else None
            if capital is None:
                out.append(order)
                continue
            cancelled_ids = tuple(cancelled)
            if self.exposure(instrument, cancelled_ids) <= capital * self.decision.max_leverage * (1 + _TOLERANCE):
                break
            out.append(order)
            cancelled.add(order.client_order_id.value)
        return out

    # -- sizing ----------------------------------------------------------------------------

    def capital(self, instrument: Instrument, price: float | None = None) -> float | None:
        """Capital to size and cap entries in ``instrument`` with (quote currency), or None."""
        if self.capital_source is not None:
            value = self.capital_source(instrument)
        elif self.context is not None:
            value = account_capital(self.context.portfolio, instrument, price)
        else:
            value = None
        return float(value) if value is not None and math.isfinite(value) and value > 0.0 else None

    def exposure(self, instrument: Instrument, exclude: tuple[str, ...] = ()) -> float:
        """The account's gross exposure at ``instrument``'s venue (quote currency)."""
        if self.context is None:
            return 0.0
        cache = self.context.cache
        return gross_exposure(cache, instrument.id.venue, instrument.quote_currency, cache_mark(cache), exclude)

    def entry_quantity(self, instrument: Instrument, capital: float | None, price: float,
                       leverage: float = 1.0) -> Quantity | None:
        """``capital × base_fraction × r_total × min(leverage, posture cap)``, never more than
        the account's headroom ``capital × posture cap − exposure``; None when nothing fits."""
        d = self.decision
        if d is None:
            return None
        capital = self.capital(instrument, price) if capital is None else capital
        if capital is None:
            return None
        notional = bet_notional(d.r_total, d.max_leverage, d.entries_allowed, capital, self.config.base_fraction,
                                leverage)
        if self.context is not None:
            notional = min(notional, capital * d.max_leverage - self.exposure(instrument))
        return notional_to_quantity(instrument, notional, price)

    def exit_quantity(self, instrument: Instrument, position_quantity: Quantity | float,
                      price: float | None = None) -> Quantity | None:
        """The whole position, or in TURTLE (with ``turtle_exit_clip``) the instrument minimum;
        None below the instrument minimum. Advisory: any ``reduce_only`` exit passes."""
        held = float(position_quantity)
        if self.posture == Posture.TURTLE and self.config.turtle_exit_clip:
            held = min(held, minimum_quantity(instrument, price).as_double())
        return round_quantity(instrument, held, price)

    # -- helpers ---------------------------------------------------------------------------

    def decision_age_s(self) -> float:
        if self.context is None or self.decision is None:
            return 0.0
        return (self.context.clock.timestamp_ns() - self.decision.ts_event) / 1e9

    def _price(self, order: Order, price: Price | None) -> float | None:
        if price is not None:
            return price.as_double()
        if order.has_price:
            return order.price.as_double()
        return cache_mark(self.context.cache)(order.instrument_id) if self.context is not None else None

    def _notional(self, order: Order, quantity: Quantity | None, price: Price | None) -> float | None:
        instrument = self.context.cache.instrument(order.instrument_id) if self.context is not None else None
        px = self._price(order, price)
        if instrument is None or px is None:
            return None
        return quantity_notional(instrument, (quantity or order.quantity).as_double(), px)
