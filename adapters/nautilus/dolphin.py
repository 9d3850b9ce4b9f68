"""``DolphinStrategy``: DOLPHIN's trading logic (:mod:`trading`) as a guarded Nautilus strategy.

A thin driver, like the twin's agent: it keeps the books the logic needs (which assets are
entering, exiting, held since when), asks :mod:`trading.logic` what to send on every survival
decision, and sends it through its :class:`~adapters.nautilus.guard.PostureGuard` (the node-level
gate checks it again). Scans come from :meth:`scan` (the paper session calls it for every row of
the replay feed) through the shared :class:`~trading.scanner.EigenScanner`.

It acts on every survival decision and on every scan (with the latest decision). Execution by
posture, as the twin's agent: HIBERNATE cancels every working order of the strategy
(maker exits included: they are re-sent as taker exits), TURTLE (or entries off) cancels working
entries; maker entries time out after ``maker_timeout_s``, maker exits after ``exit_timeout_s``
(then the next exit takes); a rejected exit is retried after 5 s. Times are market seconds
(``market_time_s``: the replay's clock on a replay feed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderDenied, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument

from controller import Posture
from trading import EigenScanner, OrderIntent, Scan, TradingParams, bet_size, entry_intents, exit_intent

from .data import SurvivalDecisionData
from .errors import PaperNodeError
from .guard import PostureGuard
from .sizing import minimum_quantity
from .strategy import GuardedStrategy

__all__ = ["DolphinStrategy"]

_EXIT_RETRY_S = 5.0


class DolphinStrategy(GuardedStrategy):
    """The DOLPHIN strategy over ``instruments`` (asset ``i`` is ``instruments[i]``).

    ``instruments`` may be ``InstrumentId``s of instruments a data client loads when it connects
    (a live feed): they are looked up in the cache at start. ``live_quotes``: subscribe to the data
    client's quotes (a replay feed publishes its quotes itself)."""

    def __init__(self, instruments: Sequence[Instrument | InstrumentId], guard: PostureGuard,
                 params: TradingParams | None = None,
                 market_time_s: Callable[[], float] | None = None, windows: tuple[int, int] = (50, 750),
                 strategy_id: str = "DOLPHIN-001", on_intent: Callable[[float, OrderIntent], None] | None = None,
                 act_after_quotes: bool = False, live_quotes: bool = False) -> None:
        super().__init__(StrategyConfig(strategy_id=strategy_id, manage_contingent_orders=False), guard)
        self.instruments = list(instruments)
        self.live_quotes = live_quotes
        self.asset = {(i if isinstance(i, InstrumentId) else i.id): n for n, i in enumerate(self.instruments)}
        self.params = params or TradingParams()
        self.scanner = EigenScanner(len(self.instruments), *windows)
        self._market_time = market_time_s
        self.on_intent = on_intent
        self.last_scan: Scan | None = None
        self.used_scan_seq = 0
        self.entering: dict[int, Any] = {}
        self.exiting: dict[int, Any] = {}
        self.sent_t: dict[str, float] = {}
        self.opened_t: dict[int, float] = {}
        self.force_taker: set[int] = set()
        self.exit_retry_t: dict[int, float] = {}
        self.intents: list[tuple[float, OrderIntent]] = []
        self.act_after_quotes = act_after_quotes
        self._pending = False

    def now_s(self) -> float:
        return self._market_time() if self._market_time is not None else self.clock.timestamp_ns() / 1e9

    def on_start(self) -> None:
        super().on_start()
        ids = list(self.asset)
        resolved = [self.cache.instrument(i) for i in ids]
        missing = [str(i) for i, inst in zip(ids, resolved) if inst is None]
        if missing:   # a live feed's provider did not load them: no trading on instruments it cannot size
            raise PaperNodeError(f"DolphinStrategy: instruments {', '.join(missing)} are not in the cache "
                                 "(not loaded by the data client's instrument provider)")
        self.instruments = resolved
        for iid in ids:  # quotes reach the cache whether or not a data client serves them
            if self.live_quotes:
                self.subscribe_quote_ticks(iid)
            else:
                self.msgbus.subscribe(f"data.quotes.{iid.venue}.{iid.symbol.topic()}", self.handle_quote_tick)
        self.msgbus.subscribe(f"events.order.{self.id}", self._on_own_order_event)

    # -- scans and decisions -----------------------------------------------------------------

    def scan(self, prices: Sequence[float]) -> Scan:
        """One scan at these prices (asset order), then act on it with the latest decision (the
        twin's agent sees each scan at its next step; market time here may run faster than the
        decisions) — at once, or with ``act_after_quotes`` when the row's last quote has reached
        the cache (a live node's data engine queues the quotes)."""
        self.last_scan = self.scanner.scan(np.log(np.asarray(prices, dtype=np.float64)))
        if self.act_after_quotes:   # a live feed: the row's quotes reach the cache after this call
            self._pending = True
        elif self.guard.decision is not None:
            self.act(self.guard.decision)
        return self.last_scan

    def on_quote_tick(self, tick: Any) -> None:
        if self._pending and tick.instrument_id == self.instruments[-1].id and self.guard.decision is not None:
            self._pending = False   # the last instrument's quote of the scanned row is in the cache
            self.act(self.guard.decision)

    def on_decision(self, d: SurvivalDecisionData) -> None:
        self.act(d)

    def act(self, d: SurvivalDecisionData) -> None:
        """Cancel what the posture no longer allows, time out makers, exit, enter (the twin's order)."""
        now = self.now_s()
        posture = d.posture_level
        hibernate = posture == Posture.HIBERNATE
        if hibernate:
            for order in self._working():
                self._cancel(order)
        elif not d.entries_allowed or posture <= Posture.TURTLE:
            for cid in list(self.entering.values()):
                order = self.cache.order(cid)
                if order is not None and not order.is_closed:
                    self._cancel(order)
        self._timeouts(now)
        self._exits(now, hibernate)
        if d.entries_allowed and not hibernate:
            self._entries(now, d)

    # -- the logic's inputs ------------------------------------------------------------------

    def _touch(self, asset: int) -> tuple[float, float]:
        q = self.cache.quote_tick(self.instruments[asset].id)
        return (q.bid_price.as_double(), q.ask_price.as_double()) if q is not None else (math.nan, math.nan)

    def _mid(self, asset: int) -> float:
        bid, ask = self._touch(asset)
        return (bid + ask) / 2.0

    def equity(self) -> float:
        venue = self.instruments[0].id.venue
        account = self.portfolio.account(venue)
        if account is None:
            return math.nan
        cash = sum(m.as_double() for m in account.balances_total().values())
        return cash + sum(m.as_double() for m in self.portfolio.unrealized_pnls(venue).values())

    def _working(self) -> list:
        orders = self.cache.orders_open(strategy_id=self.id) + self.cache.orders_inflight(strategy_id=self.id)
        return sorted({o.client_order_id.value: o for o in orders if not o.is_pending_cancel}.values(),
                      key=lambda o: o.client_order_id.value)

    def _positions(self) -> dict[int, Any]:
        out = {}
        for p in self.cache.positions_open(strategy_id=self.id):
            if p.instrument_id in self.asset and p.quantity.as_double() > 0:
                out[self.asset[p.instrument_id]] = p
        return out

    # -- exits, entries, timeouts ------------------------------------------------------------

    def _exits(self, now: float, hibernate: bool) -> None:
        positions = self._positions()
        order = [a for a in self.opened_t if a in positions] + sorted(a for a in positions if a not in self.opened_t)
        for asset in order:   # the order the positions were opened in (the twin's ledger order)
            p = positions[asset]
            if asset in self.exiting or self.exit_retry_t.get(asset, -1.0) > now:
                continue
            qty = p.signed_qty
            intent = exit_intent(asset, qty, p.avg_px_open, self._mid(asset), now - self.opened_t.get(asset, now),
                                 self._touch, self.params, asset in self.force_taker, hibernate)
            if intent is not None:
                self.force_taker.discard(asset)
                self._send(now, intent, p.quantity)   # the whole position, exactly

    def _entries(self, now: float, d: SurvivalDecisionData) -> None:
        scan = self.last_scan
        if scan is None or scan.seq <= self.used_scan_seq:
            return
        self.used_scan_seq = scan.seq
        positions = self._positions()
        equity = self.equity()
        if not math.isfinite(equity):
            return
        room = equity * d.max_leverage - self.guard.rules.exposure(self.instruments[0])
        notional = bet_size(equity, self.params.base_fraction, d.r_total, self.params.leverage, d.max_leverage,
                            d.entries_allowed)
        busy = set(positions) | set(self.entering) | set(self.exiting)
        slots = self.params.max_positions - len(positions) - len(self.entering)
        for intent in entry_intents(scan.vel_div, len(self.instruments), scan.ranked, busy, slots, notional, room,
                                    d.taker_allowed, self._touch, self.params):
            self._send(now, intent)

    def _timeouts(self, now: float) -> None:
        for order in self._working():
            if not order.is_post_only:
                continue
            sent = self.sent_t.get(order.client_order_id.value, now)
            asset = self.asset.get(order.instrument_id)
            if not order.is_reduce_only and now - sent >= self.params.maker_timeout_s:
                self._cancel(order)
            elif order.is_reduce_only and now - sent >= self.params.exit_timeout_s:
                self.force_taker.add(asset)
                self._cancel(order)

    # -- I/O ---------------------------------------------------------------------------------

    def _send(self, now: float, intent: OrderIntent, exact_qty: Any = None) -> None:
        self.intents.append((now, intent))
        if self.on_intent is not None:
            self.on_intent(now, intent)
        inst = self.instruments[intent.asset]
        price = intent.price
        if not (math.isfinite(price) and price > 0):
            return
        qty = exact_qty if exact_qty is not None else (
            inst.make_qty(intent.qty, round_down=True) if intent.qty > 0 else None)
        if qty is None or qty.as_double() <= 0 or qty < minimum_quantity(inst, price):
            return
        side = OrderSide.BUY if intent.side > 0 else OrderSide.SELL
        exit_ = intent.intent == "exit"
        f = self.order_factory
        if intent.kind == "taker":
            order = f.market(inst.id, side, qty, reduce_only=exit_, tags=[intent.reason])
        else:
            order = f.limit(inst.id, side, qty, inst.make_price(price), post_only=True, reduce_only=exit_,
                            tags=[intent.reason])
        self.sent_t[order.client_order_id.value] = now
        (self.exiting if exit_ else self.entering)[intent.asset] = order.client_order_id
        if not self.submit_guarded(order).allowed:
            self._forget(intent.asset, order.client_order_id)

    def _cancel(self, order: Any) -> None:
        if not order.is_closed and not order.is_pending_cancel:
            self.cancel_order(order)

    def _forget(self, asset: int, cid: Any) -> None:
        for book in (self.entering, self.exiting):
            if asset in book and book[asset] == cid:
                del book[asset]

    def _on_own_order_event(self, event: Any) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None:
            return
        asset = self.asset.get(order.instrument_id)
        if isinstance(event, OrderFilled) and not order.is_reduce_only and asset not in self.opened_t:
            self.opened_t[asset] = self.now_s()
        if isinstance(event, OrderRejected) and order.is_reduce_only:
            self.exit_retry_t[asset] = self.now_s() + _EXIT_RETRY_S
        if order.is_closed:
            self._forget(asset, order.client_order_id)
            if order.is_reduce_only and not self._positions().get(asset):
                self.opened_t.pop(asset, None)
        if isinstance(event, OrderDenied):
            self._forget(asset, order.client_order_id)
