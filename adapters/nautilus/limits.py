"""What a posture allows an entry to be: its order type.

Pure rules over Nautilus objects, used by :class:`~adapters.nautilus.guard.PostureGuard` both to
check a new entry and to find working entries a stricter decision no longer allows.
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.model.enums import OrderType
from nautilus_trader.model.orders import Order

from controller import Posture

from .data import SurvivalDecisionData

__all__ = ["entry_type_refusal", "working_entries"]

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


def working_entries(strategy: Any) -> list[Order]:
    """The strategy's open, in-flight and emulated orders that are not ``reduce_only``, by id."""
    cache, sid = strategy.cache, strategy.id
    orders = cache.orders_open(strategy_id=sid) + cache.orders_inflight(strategy_id=sid)
    orders += cache.orders_emulated(strategy_id=sid)
    unique = {o.client_order_id.value: o for o in orders if not o.is_reduce_only}
    return [unique[k] for k in sorted(unique)]
