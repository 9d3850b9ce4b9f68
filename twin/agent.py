"""The trading agent: steps the controller, trades vel_div plunges, executes by posture.

The trading decisions (entries, exits, sizing) are :mod:`trading.logic`'s, shared with the
NautilusTrader ``DolphinStrategy``; this module drives them with the twin's books and I/O.

* Steps ``controller.step(now, signals)`` every ``step_interval_s`` and at once when an
  invariant flag (quorum, ledger, checksum) flips between ticks.
* Entries when a new scan's vel_div per asset (vel_div / N, so one threshold fits 50 or 400
  assets) is below ``-entry_threshold``, into the scanner's top-ranked
  assets, sized by ``decision.size`` and capped by ``max_leverage`` × equity.
* Posture-aware execution: taker or post-only maker entries when taker is allowed (APEX),
  post-only only otherwise (STALKER); when entries are not allowed (TURTLE) no entry is sent and
  every working entry is cancelled (working exits keep working); cancel every working order in
  HIBERNATE. Exits (take-profit, stop, max-hold) are never blocked.
* A rejected exit is retried after 5 s (never abandoned); a cancel that failed to reach the
  venue (its gateway down) is sent again at the next step.
* Reconciles its ledger with the exchange account, writes its journal to the grid and repairs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

from controller import Posture

from trading import OrderIntent, TradingParams, entry_intents, exit_intent, plunge

from .channel import Channel
from .cluster import Record
from .orders import Fill, Order
from .portfolio import Portfolio
from .wiring import JOURNAL_KEYS, Flow

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .context import Context
    from .exchange import Exchange
    from .trace import Recorder
    from .watchdog import Watchdog

__all__ = ["Agent", "trading_params"]

_FLAGS = ("hz.quorum", "ledger.consistent", "data.checksum_ok")
_EXIT_RETRY_S = 5.0


class _Busy:
    """Assets held, entering or exiting (a view; ``in`` only)."""

    __slots__ = ("books",)

    def __init__(self, *books: Any) -> None:
        self.books = books

    def __contains__(self, asset: object) -> bool:
        return any(asset in b for b in self.books)


def trading_params(cfg: Any) -> TradingParams:
    """The trading logic's settings from the ``[agent]`` config."""
    return TradingParams(base_fraction=cfg.base_fraction, leverage=cfg.leverage, entry_side=cfg.entry_side,
                         entry_threshold=cfg.entry_threshold, entries_per_signal=cfg.entries_per_signal,
                         max_positions=cfg.max_positions, take_profit_bps=cfg.take_profit_bps, stop_bps=cfg.stop_bps,
                         max_hold_s=cfg.max_hold_s, maker_timeout_s=cfg.maker_timeout_s,
                         exit_timeout_s=cfg.exit_timeout_s, flatten_on_hibernate=cfg.flatten_on_hibernate)


class Agent:
    """The trading node around the controller: a driver of :mod:`trading.logic`."""

    def __init__(self, ctx: "Context", controller: Any, watchdog: "Watchdog", client: "Client",
                 exchange: "Exchange", recorder: "Recorder") -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.agent
        self.params = trading_params(self.cfg)
        self.controller = controller
        self.watchdog = watchdog
        self.client = client
        self.exchange = exchange
        self.recorder = recorder
        self.portfolio = Portfolio(self.cfg.capital)
        self.to_exchange = Channel(ctx, ctx.links["agent<->exchange"], "agent", "exchange")
        self.journal_link = ctx.links["cluster<->agent"]
        self._journal_draw = ctx.streams.buffer("agent.journal")
        self.orders: list[Order] = []
        recorder.bind_orders(self.orders)      # decision rows record how many orders preceded them
        self.working: dict[int, Order] = {}
        self.cancel_sent: set[int] = set()
        self.entering: dict[int, int] = {}
        self.exiting: dict[int, int] = {}
        self.force_taker: set[int] = set()
        self.last_scan_seq = 0
        self.ledger_consistent = True
        self.journal_damaged = False
        self._repair_pending = False
        invariant = getattr(controller, "invariant_signals", frozenset(_FLAGS))
        self.flags = tuple(n for n in _FLAGS if n in invariant)
        self._last_flags: tuple[float, ...] | None = None
        self.decision = None
        self.steps = 0
        self._ex_peak = self.cfg.capital
        self._exit_retry_s: dict[int, float] = {}
        self._marks_t = -1.0
        self._marks: dict[int, float] = {}
        self.n_assets = ctx.market.n_assets
        self.side = self.params.side          # the entry side (+1 long, -1 short), for subclasses and tools
        exchange.on_report = self.on_report
        watchdog.agent = self

    # -- stepping ---------------------------------------------------------------------------
    def process(self) -> Generator:
        env = self.ctx.env
        while True:
            self.tick(env.now, "tick")
            yield env.timeout(self.cfg.step_interval_s)

    def tick(self, now: float, trigger: str) -> None:
        if trigger == "tick":
            self.client.check(now)
        signals = self.watchdog.observe(now)
        truth = self.watchdog.truth(now) if self.recorder.keep_signals else None
        d = self.controller.step(now, signals)
        self.decision = d
        self.steps += 1
        self._last_flags = tuple(signals[n] for n in self.flags)
        self.recorder.step(now, trigger, d, signals, truth)
        if not self.watchdog.checksum_ok:
            self._schedule_repair()
        self.act(now, d)

    def on_invariant_event(self) -> None:
        """A membership, lifecycle, reconciliation or checksum event: step now if a flag flipped."""
        now = self.ctx.now()
        signals = self.watchdog.observe(now)
        if tuple(signals[n] for n in self.flags) != self._last_flags:
            self.tick(now, "invariant")

    # -- execution --------------------------------------------------------------------------
    def act(self, now: float, d: Any) -> None:
        hibernate = int(d.posture) == Posture.HIBERNATE
        if hibernate:
            for oid in list(self.working):
                self._cancel(oid)
        elif not d.entries_allowed or int(d.posture) <= Posture.TURTLE:   # entries go, exits stay
            for oid in list(self.entering.values()):
                if oid in self.working:
                    self._cancel(oid)
        self._timeouts(now)
        self._exits(now, hibernate)
        if d.entries_allowed and not hibernate:
            self._entries(now, d)

    def _mark(self, asset: int) -> float:
        """Mid price now (cached for the current instant)."""
        now = self.ctx.env.now
        if now != self._marks_t:
            self._marks_t = now
            self._marks = {}
        price = self._marks.get(asset)
        if price is None:
            price = self._marks[asset] = self.exchange.mid(asset, now)
        return price

    def _submit(self, now: float, asset: int, side: int, kind: str, intent: str, qty: float, price: float,
                reason: str) -> Order:
        d = self.decision
        order = Order(len(self.orders) + 1, now, asset, side, kind, intent, qty, price,
                      d.posture.name if d is not None else "NONE", d.r_total if d is not None else 0.0, reason)
        self.orders.append(order)
        self.working[order.id] = order
        (self.entering if intent == "entry" else self.exiting)[asset] = order.id
        self.to_exchange.send(lambda: self.exchange.receive(order))
        return order

    def _cancel(self, oid: int) -> None:
        if oid in self.cancel_sent:
            return
        self.cancel_sent.add(oid)
        order = self.working.get(oid)
        if order is not None and order.t_cancel_s != order.t_cancel_s:    # NaN: the first cancel
            order.t_cancel_s = self.ctx.now()
        self.to_exchange.send(lambda: self.exchange.cancel(oid))

    def _timeouts(self, now: float) -> None:
        for oid, o in list(self.working.items()):
            if o.kind != "maker" or oid in self.cancel_sent:
                continue
            if o.intent == "entry" and now - o.t_s >= self.cfg.maker_timeout_s:
                self._cancel(oid)
            elif o.intent == "exit" and now - o.t_s >= self.cfg.exit_timeout_s:
                self.force_taker.add(o.asset)
                self._cancel(oid)

    def _exits(self, now: float, hibernate: bool) -> None:
        pf = self.portfolio
        for asset, qty in list(pf.positions.items()):
            if asset in self.exiting or self._exit_retry_s.get(asset, -1.0) > now:
                continue
            intent = exit_intent(asset, qty, pf.avg_price[asset], self._mark(asset), now - pf.opened_t[asset],
                                 lambda a: self.exchange.touch(a, now), self.params, asset in self.force_taker,
                                 hibernate)
            if intent is None:
                continue
            self.force_taker.discard(asset)
            self._send(now, intent)

    def _entries(self, now: float, d: Any) -> None:
        rec = self.watchdog.last_valid.get("scan")
        if rec is None or rec.payload[0] <= self.last_scan_seq:
            return
        seq, _, _, vel_div, ranked = rec.payload
        self.last_scan_seq = seq
        if not plunge(vel_div, self.n_assets, self.params):
            return
        pf = self.portfolio
        equity = pf.equity(self._mark)
        room = equity * d.max_leverage - pf.gross_exposure(self._mark) - sum(
            self.working[o].qty * self.working[o].price for o in self.entering.values() if o in self.working)
        busy = _Busy(pf.positions, self.entering, self.exiting)
        slots = self.cfg.max_positions - len(pf.positions) - len(self.entering)
        for intent in entry_intents(vel_div, self.n_assets, ranked, busy, slots,
                                    d.size(equity, self.cfg.base_fraction, self.cfg.leverage), room,
                                    d.taker_allowed, lambda a: self.exchange.touch(a, now), self.params):
            self._send(now, intent)

    def _send(self, now: float, intent: OrderIntent) -> None:
        self._submit(now, intent.asset, intent.side, intent.kind, intent.intent, intent.qty, intent.price,
                     intent.reason)

    # -- reports, ledger, journal ------------------------------------------------------------
    def on_report(self, kind: str, order: Order, fill: Fill | None) -> None:
        now = self.ctx.now()
        if kind == "fill" and fill is not None:
            self.book(fill, now)
            return
        if kind == "cancel_failed":      # the cancel never reached the venue: send it again at the next step
            self.cancel_sent.discard(order.id)
            self.ctx.record("cancel_failed", "agent", {"order": order.id})
            return
        self.working.pop(order.id, None)
        if order.status == "rejected" and order.intent == "exit":
            self._exit_retry_s[order.asset] = now + _EXIT_RETRY_S
        if self.entering.get(order.asset) == order.id:
            del self.entering[order.asset]
        if self.exiting.get(order.asset) == order.id:
            del self.exiting[order.asset]

    def book(self, fill: Fill, now: float) -> None:
        """Book a fill once and write its journal entry to the grid."""
        if not self.portfolio.book(fill, now):
            return
        seq, key, h = self.portfolio.journal[-1]
        rec = Record(now + self.ctx.clocks.offset("agent"), (seq, h), "journal")
        self.ctx.cluster.write(key, "agent", self.journal_link, rec, now, draw=self._journal_draw,
                               on_fail=self._journal_write_failed)

    def _journal_write_failed(self) -> None:
        """A journal put was refused or timed out (the client gave up retrying it)."""
        self.journal_damaged = True

    def _schedule_repair(self) -> None:
        if self._repair_pending:
            return
        self._repair_pending = True
        self.ctx.call_later(self.cfg.journal_repair_s, self._repair)

    def _repair(self) -> None:
        """Rewrite every journal entry the agent cannot read back from the grid (a read needs the link
        up and the key's owner reachable: an entry it cannot confirm is written again)."""
        self._repair_pending = False
        now = self.ctx.now()
        cluster = self.ctx.cluster
        readable = self.journal_link.is_up
        rewritten = failed = 0
        self.journal_damaged = False
        for seq, key, h in self.portfolio.journal:
            if readable and cluster.present(key, now, "agent"):
                continue
            rec = Record(now + self.ctx.clocks.offset("agent"), (seq, h), "journal")
            if cluster.write(key, "agent", self.journal_link, rec, now, draw=self._journal_draw,
                             on_fail=self._journal_write_failed):
                rewritten += 1
            else:
                failed += 1
        self.ctx.record("journal_repair", "agent", {"rewritten": rewritten, "failed": failed})

    def reconcile_process(self) -> Generator:
        env = self.ctx.env
        while True:
            yield env.timeout(self.cfg.reconcile_interval_s)
            self.to_exchange.send(self._snapshot_at_exchange)

    def _snapshot_at_exchange(self) -> None:
        snap = self.exchange.snapshot()
        self.exchange.reports.send(lambda: self._reconciled(snap))

    def _reconciled(self, snap: tuple[int, float, dict[int, float], int]) -> None:
        n_fills, cash, positions, n_adj = snap
        pf = self.portfolio
        tol = 1e-9 * max(1.0, abs(cash))
        ok = (len(pf.booked) == n_fills and len(pf.adjustments) == n_adj and abs(cash - pf.cash) <= tol
              and all(abs(positions.get(a, 0.0) - pf.positions.get(a, 0.0)) <= 1e-9
                      for a in set(positions) | set(pf.positions)))
        if ok != self.ledger_consistent:
            self.ledger_consistent = ok
            self.ctx.record("ledger_consistent" if ok else "ledger_inconsistent", "agent", {})
            self.on_invariant_event()

    def resync(self, fills: list[Fill], adjustments: list[tuple[int, float, float]]) -> None:
        """Book what the agent missed while desynchronised (each fill and adjustment once)."""
        now = self.ctx.now()
        for fill in fills:
            self.book(fill, now)
        for adj_id, _t, amount in adjustments:
            self.portfolio.book_adjustment(adj_id, amount)

    def true_ledger_consistent(self) -> bool:
        ex = self.exchange
        return not ex.undelivered and len(ex.adjustments) == len(self.portfolio.adjustments)

    # -- equity -----------------------------------------------------------------------------
    def flows(self) -> list[Flow]:
        """For :mod:`twin.wiring`: reconciliation crosses the exchange session both ways and compares with
        the account; journal entries cross the agent's grid link; equity is marked at the market's mids."""
        ledger = [Flow(p, "agent.ledger") for p in self.to_exchange.parts() + self.exchange.reports.parts()]
        journal = [Flow(p, JOURNAL_KEYS) for p in ("agent.journal", f"link.{self.journal_link.name}", "node.agent")]
        held = [Flow(f"member.{m}", JOURNAL_KEYS) for m in self.ctx.cluster.names]   # entries on every partition
        return ledger + journal + held + [Flow("exchange.account", "agent.ledger"), Flow("market", "agent.equity")]

    def drawdown(self, now: float) -> float:
        return self.portfolio.drawdown(self.portfolio.equity(self._mark))

    def exchange_equity(self) -> float:
        ex = self.exchange
        return ex.cash + sum(q * self._mark(a) for a, q in ex.positions.items())

    def true_drawdown(self, now: float) -> float:
        eq = self.exchange_equity()
        self._ex_peak = max(self._ex_peak, eq)
        return max(0.0, 1.0 - eq / self._ex_peak)

    def equity_process(self) -> Generator:
        env = self.ctx.env
        while True:
            self.record_equity(env.now)
            yield env.timeout(self.cfg.equity_interval_s)

    def record_equity(self, now: float) -> None:
        pf = self.portfolio
        equity = pf.equity(self._mark)
        self.recorder.equity(now, equity, pf.cash, pf.gross_exposure(self._mark), self.drawdown(now),
                             len(pf.positions), pf.realized, pf.fees, self.exchange_equity(),
                             pf.unrealized(self._mark))

