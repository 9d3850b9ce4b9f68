"""Orders and fills exchanged between the agent and the exchange."""

from __future__ import annotations

__all__ = ["Order", "Fill", "BUY", "SELL"]

BUY, SELL = 1, -1


class Order:
    """One order. The agent creates it; the exchange sets its status and fills."""

    __slots__ = ("id", "t_s", "asset", "side", "kind", "intent", "qty", "price", "status", "posture",
                 "r_total", "filled_qty", "fill_notional", "fee", "reason", "t_done_s", "t_arrive_s", "t_cancel_s")

    def __init__(self, oid: int, t_s: float, asset: int, side: int, kind: str, intent: str, qty: float,
                 price: float, posture: str, r_total: float, reason: str) -> None:
        self.id = oid
        self.t_s = t_s
        self.asset = asset
        self.side = side
        self.kind = kind
        self.intent = intent
        self.qty = qty
        self.price = price
        self.status = "sent"
        self.posture = posture
        self.r_total = r_total
        self.filled_qty = 0.0
        self.fill_notional = 0.0
        self.fee = 0.0
        self.reason = reason
        self.t_done_s = float("nan")
        self.t_arrive_s = float("nan")
        self.t_cancel_s = float("nan")      # when the agent first sent a cancel for it

    @property
    def remaining(self) -> float:
        return self.qty - self.filled_qty

    @property
    def done(self) -> bool:
        return self.status in ("filled", "partially_filled", "cancelled", "rejected")


class Fill:
    """One execution at the exchange."""

    __slots__ = ("id", "order_id", "t_s", "asset", "side", "qty", "price", "fee", "liquidity", "intent",
                 "t_booked_s")

    def __init__(self, fid: int, order: Order, t_s: float, qty: float, price: float, fee: float,
                 liquidity: str) -> None:
        self.id = fid
        self.order_id = order.id
        self.t_s = t_s
        self.asset = order.asset
        self.side = order.side
        self.qty = qty
        self.price = price
        self.fee = fee
        self.liquidity = liquidity
        self.intent = order.intent
        self.t_booked_s = float("nan")

    @property
    def cash_flow(self) -> float:
        """Cash change of the account: -side × qty × price - fee."""
        return -self.side * self.qty * self.price - self.fee
