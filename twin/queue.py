"""The post-only maker queue model: queue position, traded volume at the level, touch and cross.

A maker order at limit ``p`` joins the queue of its price level behind ``queue_ahead`` units:
the level's depth when it joins (touch depth ``depth_notional`` × regime liquidity × depth
factor, in units at ``p``, times a U(0.5, 1.5) draw for the level's own size). An order priced
better than the same-side touch is alone at its level (nothing ahead).

At every market step ``k`` (the market's price grid) each resting order looks at the book
(mid ± half spread) and, for a buy (a sell is the mirror image):

* **crossed** — the ask is at or below ``p``, or the bid fell through the level (more than half a
  tick below ``p``): the market traded through the order, which fills at once at its limit.
  With probability ``partial_fill_ratio`` a fall of the bid through the level was the level
  being pulled rather than traded: the order is then alone at the best bid and only the
  step's sell volume reaches it (a partial fill, the rest keeps resting).
* **touched** — the bid is within half a tick of ``p``: the step's traded volume at the level
  drains the queue ahead first, and what is left of it fills the order (partial fills).
* **away** — the bid is above the level: nothing trades at ``p``; the queue does not move.

The traded volume at the level comes from the market's own move: sell volume hitting a bid is
``depth × step_s / maker_mean_fill_s × (0.5 + max(0, -z))`` where ``z`` is the asset's step
return in units of its volatility (buy volume lifting an ask uses ``max(0, z)``). So fills come
when the price comes to the order or moves through it — adverse selection is not added, it
is what the model does. Orders that friction blocks (``set_friction``) never fill.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .orders import Order

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context
    from .market import Market

__all__ = ["MakerQueue", "Resting"]


class Resting:
    """One working maker order's queue state."""

    __slots__ = ("order", "queue_ahead", "prev_log_mid", "alone")

    def __init__(self, order: Order, queue_ahead: float, log_mid: float, alone: bool) -> None:
        self.order = order
        self.queue_ahead = queue_ahead
        self.prev_log_mid = log_mid
        self.alone = alone


class MakerQueue:
    """Resting maker orders, matched once per market step while any rests.

    ``fill(order, qty)`` is called for every execution; ``touched`` / ``crossed`` count the
    order-steps at the level and the crossings.
    """

    def __init__(self, ctx: "Context", depth_ratio: Callable[[float], float],
                 fill: Callable[[Order, float], None]) -> None:
        self.ctx = ctx
        cfg = ctx.cfg.exchange
        self._half = cfg.spread_bps * 0.5e-4
        self._tol = cfg.tick_bps * 0.5e-4
        self._depth_notional = cfg.depth_notional
        self._rate = ctx.cfg.market.step_s / cfg.maker_mean_fill_s
        self._pull = cfg.partial_fill_ratio
        self._depth_ratio = depth_ratio
        self._fill = fill
        self._draw = ctx.streams.buffer("exchange.queue")
        self._sigma: list[float] = ctx.market.sigma.tolist()     # per-step volatility of each asset
        self.resting: dict[int, Resting] = {}
        self._next_step = -1
        self.halted = False     # matching halted (exchange_outage): nothing trades, the queue stands still
        self.touched = 0        # order-steps at the level (for tests and benchmarks)
        self.crossed = 0

    # -- joining and leaving ----------------------------------------------------------------
    def join(self, order: Order, now: float) -> None:
        """``order`` (not crossing: checked by the exchange) joins its level's queue now."""
        market = self.ctx.market
        log_mid = math.log(market.price(order.asset, now))
        touch = math.exp(log_mid) * (1.0 - order.side * self._half)   # bid for a buy, ask for a sell
        alone = (order.price - touch) * order.side > touch * self._tol
        ahead = 0.0
        if not alone:
            depth = self._depth_notional * self._depth_ratio(now) / order.price
            ahead = depth * (0.5 + self._draw.uniform())
        self.resting[order.id] = Resting(order, ahead, log_mid, alone)
        self._schedule(now)

    def leave(self, order_id: int) -> None:
        self.resting.pop(order_id, None)

    def _schedule(self, now: float) -> None:
        market = self.ctx.market
        step = market.step_of(now) + 1
        if self._next_step >= step:
            return
        self._next_step = step
        self.ctx.call_later(step * market.step_s - now, self._match)

    # -- matching ---------------------------------------------------------------------------
    def _match(self) -> None:
        now = self.ctx.now()
        self._next_step = -1
        if not self.resting:
            return
        if self.halted:                  # prices move on; each order meets the move when matching resumes
            self._schedule(now)
            return
        market = self.ctx.market
        depth_notional = self._depth_notional * self._depth_ratio(now)
        for state in list(self.resting.values()):
            self._match_one(state, market, depth_notional, now)
        if self.resting:
            self._schedule(now)

    def _match_one(self, state: Resting, market: "Market", depth_notional: float, now: float) -> None:
        order = state.order
        side, p = order.side, order.price
        log_mid = math.log(market.price(order.asset, now))
        z = (log_mid - state.prev_log_mid) / self._sigma[order.asset]
        state.prev_log_mid = log_mid
        mid = math.exp(log_mid)
        far = mid * (1.0 + side * self._half)        # the other side's touch (ask for a buy)
        near = mid * (1.0 - side * self._half)       # our side's touch (bid for a buy)
        if (p - far) * side >= 0.0:                  # the other side reached the limit: a cross
            self.crossed += 1
            return self._fill(order, order.remaining)
        gap = (near - p) * side                      # > 0: the market's bid is above a buy's level
        tol = p * self._tol
        if gap > tol:                                # away: nothing trades at the level
            state.alone = False
            return None
        if gap < -tol and not state.alone:           # the level went: traded through, or pulled
            if self._pull <= 0.0 or self._draw.uniform() >= self._pull:
                self.crossed += 1
                return self._fill(order, order.remaining)
            state.queue_ahead = 0.0
            state.alone = True
        elif gap >= -tol:
            state.alone = False
        self.touched += 1
        volume = depth_notional / p * self._rate * (0.5 + max(0.0, -side * z))
        left = volume - state.queue_ahead
        if left <= 0.0:
            state.queue_ahead = -left
            return None
        state.queue_ahead = 0.0
        return self._fill(order, min(left, order.remaining))
