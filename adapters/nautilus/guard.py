"""The posture guard: what one DOLPHIN strategy may send, given the latest survival decision.

Rules (exits — ``reduce_only`` orders — are never blocked; :mod:`adapters.nautilus.rules`):

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
* HIBERNATE: every working **entry** is cancelled at once, whatever its state (open, submitted
  and not yet accepted, emulated); **reduce-only orders keep working** (a protective stop at
  the venue is the one protection that does not depend on the grid whose loss caused
  HIBERNATE); with ``flatten_on_hibernate`` every open position is closed (reduce-only).
* A lower leverage cap cancels working entries beyond it (newest first) but never reduces a
  position: positions run off through their own exits.
* No decision yet, or a decision older than ``max_decision_age_s``: no entries.

Entry size is enforced, not only advised (the RiskEngine's REDUCING caps no quantity): an
entry is refused above the bet cap ``capital × base_fraction × r_total × max_leverage`` or
when the **account's** gross exposure (every strategy's positions plus working entries at the
venue) plus the entry would exceed ``capital × max_leverage``. This guard is the strategy's
own early check and sizing advice; the node-level :class:`~adapters.nautilus.gate.PostureGate`
enforces the same rules on every order any component sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import Order

from controller import Posture

from .data import SurvivalDecisionData
from .errors import InterfaceError
from .rules import CapitalSource, GuardConfig, GuardVerdict, PostureRules
from .sizing import trading_state_for

__all__ = ["CapitalSource", "GuardConfig", "GuardStats", "GuardVerdict", "PostureGuard"]


@dataclass
class GuardStats:
    """Counters of what the guard did (for reports and tests)."""

    submitted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    cancel_all_calls: int = 0   # HIBERNATE sweeps
    entry_cancels: int = 0
    flattens: int = 0


class PostureGuard:
    """Enforces posture limits for one strategy (see the module docstring).

    Parameters
    ----------
    config : GuardConfig
    trading_state_sink : called with the RiskEngine ``TradingState`` on posture changes,
        e.g. ``engine.kernel.risk_engine.set_trading_state``; None to leave it alone.
    capital_source : capital for sizing and the caps; default the account balance at the
        instrument's venue (:func:`~adapters.nautilus.limits.account_capital`).
    """

    def __init__(self, config: GuardConfig | None = None,
                 trading_state_sink: Callable[[TradingState], None] | None = None,
                 capital_source: CapitalSource | None = None) -> None:
        self.rules = PostureRules(config, capital_source)
        self.config = self.rules.config
        self._sink = trading_state_sink
        self._strategy: Any = None
        self.stats = GuardStats()

    @property
    def decision(self) -> SurvivalDecisionData | None:
        return self.rules.decision

    @property
    def posture(self) -> Posture | None:
        return self.rules.posture

    def attach(self, strategy: Any) -> None:
        """The strategy whose orders the guard checks, cancels and sends."""
        self._strategy = strategy
        self.rules.context = strategy

    # -- decisions -------------------------------------------------------------------------

    def on_decision(self, data: SurvivalDecisionData) -> None:
        """Adopt a new decision; act on posture transitions and on tightened limits."""
        previous, previous_decision = self.rules.adopt(data)
        posture = data.posture_level
        if posture != previous and self.config.map_trading_state and self._sink is not None:
            self._sink(trading_state_for(posture, self.config.hibernate_state))
        if self._strategy is None:
            return
        hibernating = posture == Posture.HIBERNATE and previous != Posture.HIBERNATE
        for order in self.rules.entries_to_cancel(previous, previous_decision, self._strategy.id):
            self._strategy.cancel_order(order)
            self.stats.entry_cancels += 1
        if hibernating:
            self.stats.cancel_all_calls += 1
            if self.config.flatten_on_hibernate:
                self._flatten()

    def _flatten(self) -> None:
        strategy = self._strategy
        positions = strategy.cache.positions_open(strategy_id=strategy.id)
        for instrument_id in sorted({p.instrument_id for p in positions}, key=str):
            strategy.close_all_positions(instrument_id, reduce_only=True)
            self.stats.flattens += 1

    # -- checks ----------------------------------------------------------------------------

    def check(self, order: Order) -> GuardVerdict:
        """May ``order`` be sent now? Exits (``reduce_only``) always may, at any size."""
        return self.rules.check(order)

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
        return self.rules.capital(instrument, price)

    def entry_quantity(self, instrument: Instrument, capital: float | None, price: float,
                       leverage: float = 1.0) -> Quantity | None:
        """Entry size for the latest decision, or ``None`` (entries off, below the minimum, or
        no headroom): ``capital × base_fraction × r_total × min(leverage, posture cap)``, and
        never more than the account's headroom ``capital × posture cap − exposure``.
        ``capital=None`` uses :meth:`capital`."""
        return self.rules.entry_quantity(instrument, capital, price, leverage)

    def exit_quantity(self, instrument: Instrument, position_quantity: Quantity | float,
                      price: float | None = None) -> Quantity | None:
        """Exit size: the whole position, or in TURTLE (with ``turtle_exit_clip``) the
        instrument minimum at ``price``, never more than the position; ``None`` when what is
        held is below the instrument minimum (the venue would refuse it). Advisory: the guard
        passes any ``reduce_only`` exit."""
        return self.rules.exit_quantity(instrument, position_quantity, price)
