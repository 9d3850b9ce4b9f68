"""The sensor services: eigenvalue scanner, order-book streamer, MC-Forewarner, ExF, EsoF,
ledger checksum publisher and the agent heartbeat."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from trading import EigenScanner
from trading.scanner import RANKED_ASSETS

from .market import DVOL_BASE
from .sensor_base import Sensor
from .wiring import JOURNAL_KEYS

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Scanner", "OrderBookStreamer", "MCForewarner", "ExF", "EsoF", "LedgerChecksum", "Heartbeat",
           "RANKED_ASSETS"]


class Scanner(Sensor):
    """Every scan: returns since the last scan, λ_max over the short and long windows, vel_div.

    Payload: ``(seq, v50, v750, vel_div, ranked)`` where v50 and v750 are λ_max of the
    correlation matrices over the short and long windows (between 1 and N), vel_div is the short
    window's velocity minus the long one's (λ units per scan), and ranked lists the assets most
    loaded on the short window's leading eigenvector.
    """

    def __init__(self, ctx: "Context") -> None:
        s = ctx.cfg.sensors
        super().__init__("scan", ctx, s.scan_interval_s)
        n = ctx.market.n_assets
        self.n = n
        self.eigen = EigenScanner(n, s.scan_short_window, s.scan_long_window, RANKED_ASSETS)
        self.eigen.seed(ctx.market.history_returns(s.scan_long_window, s.scan_interval_s),
                        ctx.market.history_returns(s.scan_short_window, s.scan_interval_s),
                        ctx.market.log_prices(0.0))
        self.seq = 0
        self.last = (0.0, 0.0, 0.0)

    @property
    def short(self):
        return self.eigen.short

    @property
    def long(self):
        return self.eigen.long

    def captures(self) -> tuple[str, ...]:
        return ("market",)

    def on_restart(self) -> None:
        self.eigen.restart(self.ctx.market.log_prices(self.ctx.now()))

    def capture(self, t: float) -> tuple:
        _, v50, v750, vel_div, ranked = self.eigen.scan(self.ctx.market.log_prices(t))
        self.seq += 1
        self.last = (v50, v750, vel_div)
        self.ctx.market.on_scan(t, vel_div / self.n, ranked)
        return (self.seq, v50, v750, vel_div, ranked)


class OrderBookStreamer(Sensor):
    """~10 Hz: the freshest book received from the exchange (its timestamp), feed latency, depth.

    Payload: ``(book_ts, latency_ms, depth_ratio)``. The book arrives over
    ``exchange->sensor.ob``; while that link is down or lossy, or the exchange is out, the
    book timestamp stops advancing and ``ob.age_s`` grows.
    """

    def __init__(self, ctx: "Context") -> None:
        super().__init__("ob", ctx, ctx.cfg.sensors.ob_interval_s)
        self.feed = ctx.links["exchange->sensor.ob"]
        self.book = (0.0, self.feed.mean_latency_ms, 1.0)   # (true book ts, latency_ms, depth_ratio)
        self._books: dict[float, tuple[float, float, float]] = {}

    def captures(self) -> tuple[str, ...]:
        """The exchange's book, over its feed link, from the exchange's network node."""
        return ("exchange.book", f"link.{self.feed.name}", "node.exchange")

    def capture(self, t: float) -> tuple:
        ctx = self.ctx
        ex = ctx.exchange
        book = self.book
        if not ex.is_out and ctx.network.can_reach("exchange", self.node):
            d = self.feed.delay_s()
            if d is not None and t - d > book[0]:
                book = self.book = (t - d, d * 1000.0, ex.depth_ratio(t))
        books = self._books
        if len(books) > 64:
            books = self._books = {k: v for k, v in books.items() if k >= t - 2.0}
        books[t] = book
        return (book[0] + ctx.clocks.offset(self.name), book[1], book[2])

    def capture_batch(self, times: list[float]) -> tuple[list[tuple], list[list[tuple]]] | None:
        ctx = self.ctx
        ex, feed, n = ctx.exchange, self.feed, len(times)
        delays, marks = None, [feed.draw.mark()] * n
        if not ex.is_out and ctx.network.can_reach("exchange", self.node) and feed.is_up:
            drawn = feed.transits(None, n)
            if drawn is None:                 # a lossy feed: capture one by one
                return None
            delays, marks = drawn
        skew = ctx.clocks.offset(self.name)
        book, books, payloads = self.book, self._books, []
        for i, t in enumerate(times):
            if delays is not None:
                d = delays[i]
                if t - d > book[0]:
                    book = (t - d, d * 1000.0, ex.depth_ratio(t))
            if len(books) > 64:
                books = {k: v for k, v in books.items() if k >= t - 2.0}
            books[t] = book
            payloads.append((book[0] + skew, book[1], book[2]))
        self.book, self._books = book, books
        return payloads, [[m] for m in marks]

    def draw_buffers(self) -> list:
        return super().draw_buffers() + [self.feed.draw]

    def on_replan(self, now: float) -> None:
        self.book = self._books.get(self.last_capture(now), self.book)

    def true_book_ts(self, now: float) -> float:
        return self._books.get(self.last_capture(now), self.book)[0]


class MCForewarner(Sensor):
    """Every 60 s: the Monte-Carlo envelope score (1 = inside the envelope). Payload ``(score,)``."""

    def __init__(self, ctx: "Context") -> None:
        super().__init__("mc_forewarner", ctx, ctx.cfg.sensors.mc_interval_s)

    def captures(self) -> tuple[str, ...]:
        return ("market",)

    def capture(self, t: float) -> tuple:
        dvol = self.ctx.market.exf_state(t)[0]
        return (max(0.0, min(1.0, 2.0 - dvol / DVOL_BASE)),)


class ExF(Sensor):
    """Every 60 s: DVOL, funding, taker ratio and the shock magnitude they imply.

    Payload ``(dvol, funding, taker_ratio, shock)``; shock = max of the DVOL jump over its slow
    baseline and the taker-selling imbalance, clipped to [0, 1].
    """

    def __init__(self, ctx: "Context") -> None:
        super().__init__("exf", ctx, ctx.cfg.sensors.exf_interval_s)
        self.baseline = ctx.market.exf_state(0.0)[0]

    def captures(self) -> tuple[str, ...]:
        return ("market",)

    def on_restart(self) -> None:
        self.baseline = self.ctx.market.exf_state(self.ctx.now())[0]

    def _shock(self, dvol: float, taker: float) -> float:
        jump = (dvol / self.baseline - 1.0) / 1.5
        imbalance = (0.5 - taker) / 0.35
        return max(0.0, min(1.0, max(jump, imbalance)))

    def true_shock(self, t: float) -> float:
        """The shock a perfect, always-fresh ExF would report at ``t``."""
        dvol, _, taker = self.ctx.market.exf_state(t)
        return self._shock(dvol, taker)

    def capture(self, t: float) -> tuple:
        dvol, funding, taker = self.ctx.market.exf_state(t)
        shock = self._shock(dvol, taker)
        alpha = min(1.0, self.period_s / 21600.0)
        self.baseline = self.baseline * (1.0 - alpha) + dvol * alpha
        return (dvol, funding, taker, shock)


class EsoF(Sensor):
    """Every 5 min: esoteric factors (time-of-day phase). Payload ``(phase,)``."""

    def __init__(self, ctx: "Context") -> None:
        super().__init__("esof", ctx, ctx.cfg.sensors.esof_interval_s)

    def capture(self, t: float) -> tuple:
        return (math.sin(2.0 * math.pi * (t % 86400.0) / 86400.0),)


class LedgerChecksum(Sensor):
    """Every 10 s: the checksum of the ledger journal entries it can read in the grid.

    Payload ``(count, max_seq, digest)``; the watchdog compares it with the agent's local journal.
    Entries that are gone from the grid are missing from the checksum; if an entry's partition
    is unavailable (owner down, not yet detected, or unreachable) the run fails and nothing is
    published.
    """

    def __init__(self, ctx: "Context") -> None:
        super().__init__("ledger_checksum", ctx, ctx.cfg.sensors.checksum_interval_s)
        self.journal: list[tuple[int, str, int]] = []   # (seq, key, entry hash) as written by the agent
        self._pids: list[int] = []                       # the partition of each journal entry's key

    def captures(self) -> tuple[str, ...]:
        """The agent's journal entries in the grid."""
        return (JOURNAL_KEYS,)

    def capture(self, t: float) -> tuple | None:
        """None (no publish this round) if some entry's partition cannot be read right now."""
        cluster = self.ctx.cluster
        journal, pids = self.journal, self._pids
        if len(pids) < len(journal):        # a key's partition never changes: computed once per entry
            pids.extend(cluster.partition_id(key) for _, key, _ in journal[len(pids):])
        get, owner = cluster.data.get, cluster.owner
        takes = cluster.writable_members(self.node)     # per member: it takes a read from here now
        count = max_seq = digest = 0
        for (seq, key, h), p in zip(journal, pids):     # in seq order (the journal is appended to)
            item = get(key)
            if item is None or item[0] > t:
                continue
            m = owner[p]
            if m < 0 or not takes[m]:       # (as :meth:`Cluster.writable_owner` is None)
                return None
            count += 1
            max_seq = seq
            digest ^= h
        return (count, max_seq, digest)


class Heartbeat(Sensor):
    """Every 1 s the agent's keepalive, written from the agent's node. Payload ``(seq,)``."""

    node_name = "agent"

    def __init__(self, ctx: "Context") -> None:
        super().__init__("heartbeat", ctx, ctx.cfg.sensors.heartbeat_interval_s)
        self.seq = 0

    def capture(self, t: float) -> tuple:
        self.seq += 1
        return (self.seq,)
