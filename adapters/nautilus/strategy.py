"""A Strategy base class with the posture guard wired in.

Subclasses call ``super().on_start()`` (it subscribes to survival decisions), send orders
with :meth:`GuardedStrategy.submit_guarded` and size them with ``self.guard``. Decisions
reach ``self.guard`` before :meth:`GuardedStrategy.on_decision` is called.
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.config import StrategyConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy

from .data import DECISION_DATA_TYPE, SurvivalDecisionData
from .guard import GuardVerdict, PostureGuard

__all__ = ["GuardedStrategy"]


class GuardedStrategy(Strategy):
    """A ``Strategy`` whose orders pass through a :class:`PostureGuard`."""

    def __init__(self, config: StrategyConfig | None = None, guard: PostureGuard | None = None) -> None:
        super().__init__(config)
        self.guard = guard or PostureGuard()
        self.guard.attach(self)

    def on_start(self) -> None:
        self.subscribe_data(DECISION_DATA_TYPE)

    def on_data(self, data: Data) -> None:
        if isinstance(data, SurvivalDecisionData):
            self.guard.on_decision(data)
            self.on_decision(data)

    def on_decision(self, decision: SurvivalDecisionData) -> None:
        """Hook: a new survival decision was adopted by the guard."""

    def submit_guarded(self, order: Order, **kwargs: Any) -> GuardVerdict:
        """Send ``order`` if the guard allows it; log the refusal otherwise."""
        verdict = self.guard.submit(order, **kwargs)
        if not verdict.allowed:
            self.log.info(f"guard refused {order.client_order_id}: {verdict.reason}")
        return verdict
