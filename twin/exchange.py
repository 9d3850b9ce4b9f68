"""The exchange: books derived from the market, taker and post-only maker execution, the account.

* Books: mid from the market, ``spread_bps`` wide, touch depth ``depth_notional`` × the regime's
  liquidity × the depth factor (``ob_depth_decay``).
* Taker: fills at the touch plus impact ``impact_bps`` × notional / depth, taker fee; anything
  beyond the touch depth is cancelled (IOC partial fill).
* Post-only maker: rejected if it would cross; otherwise it joins the queue of its price level
  and fills by the queue model of :mod:`twin.queue` (queue position, traded volume at the level,
  fills only when the price touches or crosses it, partial fills), at its limit, maker fee.
* Friction: only ``entry_fill_ratio`` / ``exit_fill_ratio`` of maker orders can ever fill (the
  rest sit behind liquidity that is never exhausted); ``set_friction_mode("hell")`` is the
  spec's HELL test.
* Exits are reduce-only: an exit trades at most the position it closes at the exchange; one that
  would open or grow a position is rejected (or its rest cancelled) with reason ``reduce_only``.
* Rejects (``reject_ratio``).
* Two outages. **Matching halted** (``outage``, fault ``exchange_outage``): new orders are
  rejected, resting orders do not fill, cancels are accepted but queued (confirmed when matching
  resumes), the book feed stops. **Gateway down** (``gateway_down``, fault
  ``exchange_gateway_down``): orders and cancels cannot reach the venue — a new order is refused
  (``gateway_down``), a cancel fails and the agent is told so (it retries) — while the venue runs
  on: resting orders keep filling, fills are reported, the book feed goes on.
Execution reports travel back over ``agent<->exchange``. Its fault port is
:class:`twin.ports.ExchangePort`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .channel import Channel
from .config import FRICTION_MODES
from .errors import TwinError
from .orders import Fill, Order
from .queue import MakerQueue
from .validate import flag, number
from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Exchange"]


class Exchange:
    """Matching and the exchange-side account (the ledger's source of truth)."""

    PARTS = ("exchange.book", "exchange.orders", "exchange.account")
    """Its parts in :mod:`twin.wiring`: the books (and their feed), order handling, the account."""

    def __init__(self, ctx: "Context") -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.exchange
        self._reject_draw = ctx.streams.buffer("exchange.rejects")
        self._friction_draw = ctx.streams.buffer("exchange.friction")
        self.queue = MakerQueue(ctx, self.depth_ratio, self._maker_fill)
        self.reports = Channel(ctx, ctx.links["agent<->exchange"], "exchange", "agent")
        self.is_out = False
        self.gateway_is_down = False
        self._queued_cancels: list[int] = []
        self.reject_ratio = self.cfg.reject_ratio
        self.entry_fill_ratio, self.exit_fill_ratio = self.cfg.fill_ratios
        self.friction_mode = self.cfg.friction
        self.depth_factor = 1.0
        self.cash = ctx.cfg.agent.capital
        self.positions: dict[int, float] = {}
        self.fills: list[Fill] = []
        self.adjustments: list[tuple[int, float, float]] = []  # (id, t_s, cash amount)
        self.working: dict[int, Order] = {}
        self.drop_reports = False
        self.undelivered: list[Fill] = []
        self.on_report: Callable[[str, Order, Fill | None], None] = lambda kind, o, f: None

    # -- fault port -------------------------------------------------------------------------
    def outage(self, on: bool = True) -> None:
        """Matching halted: new orders rejected, no fills, cancels queued until it resumes, no book feed."""
        self.is_out = flag("exchange.outage", "on", on)
        self.queue.halted = self.is_out
        self.ctx.changed("exchange_outage", "exchange", {"on": self.is_out})
        if not self.is_out:
            queued, self._queued_cancels = self._queued_cancels, []
            for oid in queued:
                self.cancel(oid)

    def gateway_down(self, on: bool = True) -> None:
        """The order gateway is down: orders and cancels cannot reach the venue; resting orders keep filling."""
        self.gateway_is_down = flag("exchange.gateway_down", "on", on)
        self.ctx.changed("exchange_gateway_down", "exchange", {"on": self.gateway_is_down})

    def set_reject_ratio(self, ratio: float) -> None:
        self.reject_ratio = number("exchange.set_reject_ratio", "ratio", ratio, 0.0, 1.0)
        self.ctx.changed("order_rejects", "exchange", {"reject_ratio": self.reject_ratio})

    def set_friction(self, entry_fill: float, exit_fill: float) -> None:
        """Only these fractions of maker entry / exit orders ever fill (1, 1 = no friction)."""
        entry = number("exchange.set_friction", "entry_fill", entry_fill, 0.0, 1.0)
        exit_ = number("exchange.set_friction", "exit_fill", exit_fill, 0.0, 1.0)
        self._set_fill_ratios(entry, exit_, "custom" if (entry, exit_) != (1.0, 1.0) else "none")

    def set_friction_mode(self, mode: str) -> None:
        """A named friction mode of :data:`twin.config.FRICTION_MODES`: ``"hell"`` (the spec's HELL
        test: 48 % of maker entries and 35 % of maker exits fill) or ``"none"``."""
        if not isinstance(mode, str) or mode not in FRICTION_MODES:
            raise TwinError(f"exchange.set_friction_mode: mode must be one of {', '.join(FRICTION_MODES)}, "
                            f"got {mode!r}")
        self._set_fill_ratios(*FRICTION_MODES[mode], mode)

    def _set_fill_ratios(self, entry: float, exit_: float, mode: str) -> None:
        self.entry_fill_ratio, self.exit_fill_ratio, self.friction_mode = entry, exit_, mode
        self.ctx.changed("fill_friction", "exchange", {"entry_fill": entry, "exit_fill": exit_, "mode": mode})

    def set_depth_factor(self, factor: float) -> None:
        """Scale the touch depth of every book (``ob_depth_decay``; 1 restores)."""
        self.depth_factor = number("exchange.set_depth_factor", "factor", factor, 0.0, 10.0, lo_open=True)
        self.ctx.changed("ob_depth_decay", "exchange", {"factor": self.depth_factor})

    # -- books ------------------------------------------------------------------------------
    def flows(self) -> list[Flow]:
        """For :mod:`twin.wiring`: the books follow the market (order handling and the account move no
        signal but the ledger's, see :meth:`twin.agent.Agent.flows`)."""
        return [Flow("market", "exchange.book")]

    def mid(self, asset: int, t_s: float) -> float:
        return self.ctx.market.price(asset, t_s)

    def depth_ratio(self, t_s: float) -> float:
        return self.ctx.market.liquidity(t_s) * self.depth_factor

    def touch(self, asset: int, t_s: float) -> tuple[float, float]:
        mid = self.mid(asset, t_s)
        half = mid * self.cfg.spread_bps * 0.5e-4
        return mid - half, mid + half

    # -- orders -----------------------------------------------------------------------------
    def receive(self, order: Order) -> None:
        """An order arrives (called at its arrival time)."""
        now = self.ctx.now()
        if self.gateway_is_down:                     # refused at the gateway: it never reached the venue
            return self._reject(order, "gateway_down")
        order.t_arrive_s = now
        if self.is_out:
            return self._reject(order, "exchange_outage")
        if self.reject_ratio > 0 and self._reject_draw.uniform() < self.reject_ratio:
            return self._reject(order, "rejected_by_exchange")
        if self._reducible(order) <= 1e-9 * order.qty:
            return self._reject(order, "reduce_only")
        if order.kind == "taker":
            return self._take(order, now)
        bid, ask = self.touch(order.asset, now)
        if (order.side > 0 and order.price >= ask) or (order.side < 0 and order.price <= bid):
            return self._reject(order, "post_only_would_cross")
        order.status = "working"
        self.working[order.id] = order
        ratio = self.entry_fill_ratio if order.intent == "entry" else self.exit_fill_ratio
        if ratio < 1.0 and self._friction_draw.uniform() >= ratio:
            return                                   # blocked by friction: rests, never fills
        self.queue.join(order, now)

    def cancel(self, order_id: int) -> None:
        """A cancel request arrives (refused while the gateway is down, queued while matching is halted)."""
        if self.gateway_is_down:
            order = self.working.get(order_id)
            if order is not None:
                self.reports.send(lambda: self.on_report("cancel_failed", order, None))
            return
        if self.is_out:
            if order_id in self.working and order_id not in self._queued_cancels:
                self._queued_cancels.append(order_id)
            return
        order = self.working.pop(order_id, None)
        if order is None:
            return
        self.queue.leave(order_id)
        order.status = "partially_filled" if order.filled_qty > 0 else "cancelled"
        order.t_done_s = self.ctx.now()
        self._report("done", order, None)

    def _reducible(self, order: Order) -> float:
        """What an order may still trade: an exit (reduce-only) no more than the position it closes."""
        if order.intent != "exit":
            return order.remaining
        return min(order.remaining, max(0.0, -order.side * self.positions.get(order.asset, 0.0)))

    def _reject(self, order: Order, reason: str) -> None:
        order.status = "rejected"
        order.reason = reason
        order.t_done_s = self.ctx.now()
        self._report("done", order, None)

    def _take(self, order: Order, now: float) -> None:
        bid, ask = self.touch(order.asset, now)
        touch = ask if order.side > 0 else bid
        depth = self.cfg.depth_notional * self.depth_ratio(now)
        qty = min(self._reducible(order), depth / touch)
        impact = self.cfg.impact_bps * 1e-4 * (qty * touch) / depth
        price = touch * (1.0 + order.side * impact)
        self._fill(order, qty, price, self.cfg.taker_fee_bps, "taker", now)
        order.status = "filled" if qty >= order.qty else "partially_filled"
        order.t_done_s = now
        self._report("done", order, None)

    def _maker_fill(self, order: Order, qty: float) -> None:
        """The queue model executes ``qty`` of a resting maker order at its limit."""
        if self.working.get(order.id) is not order:
            return
        now = self.ctx.now()
        qty = min(qty, self._reducible(order))
        if qty > 0.0:
            self._fill(order, qty, order.price, self.cfg.maker_fee_bps, "maker", now)
        if order.remaining <= 1e-9 * order.qty:
            order.status = "filled"
        elif self._reducible(order) <= 1e-9 * order.qty:     # its position is gone: nothing left to reduce
            order.status = "partially_filled" if order.filled_qty > 0 else "cancelled"
            order.reason = "reduce_only"
        else:
            return
        del self.working[order.id]
        self.queue.leave(order.id)
        order.t_done_s = now
        self._report("done", order, None)

    def _fill(self, order: Order, qty: float, price: float, fee_bps: float, liquidity: str, now: float) -> None:
        fee = abs(qty * price) * fee_bps * 1e-4
        fill = Fill(len(self.fills) + 1, order, now, qty, price, fee, liquidity)
        self.fills.append(fill)
        order.filled_qty += qty
        order.fill_notional += qty * price
        order.fee += fee
        self.cash += fill.cash_flow
        pos = self.positions.get(order.asset, 0.0) + order.side * qty
        if abs(pos) <= 1e-12:
            self.positions.pop(order.asset, None)
        else:
            self.positions[order.asset] = pos
        if self.drop_reports:
            self.undelivered.append(fill)
        else:
            self._report("fill", order, fill)

    # -- reports ----------------------------------------------------------------------------
    def _report(self, kind: str, order: Order, fill: Fill | None) -> None:
        """Send an execution report to the agent (in order, resent until it gets through)."""
        self.reports.send(lambda: self.on_report(kind, order, fill))

    def snapshot(self) -> tuple[int, float, dict[int, float], int]:
        """(fill count, cash, positions, adjustment count) of the exchange-side account."""
        return len(self.fills), self.cash, dict(self.positions), len(self.adjustments)

    def adjust(self, amount: float) -> None:
        """An account cash adjustment the agent is not told about (used by ``ledger.desync``)."""
        self.adjustments.append((len(self.adjustments) + 1, self.ctx.now(), amount))
        self.cash += amount
