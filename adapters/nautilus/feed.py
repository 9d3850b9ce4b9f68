"""A replay market-data feed for offline paper trading: a price file played into a running node.

:class:`ReplayFeed` is an Actor: on its own clock timer it publishes the row of the price file
that is due (row ``i`` at ``i × step_s / speed`` seconds of the node's clock) as one quote per
instrument into the node's data engine (``DataEngine.process``), as a data client would — and
re-publishes the current row at least every ``refresh_s`` (a live book keeps streaming while the
price stands still); between rows the quotes follow the twin's replay path (log prices
interpolated on a 1 s grid of market time), at rows they are the file's prices; strategies, the sandbox
venue (which fills against these quotes) and the health publishers see them like live quotes.
``ts_event`` is the time the feed's timer was due, ``ts_init`` the time the row entered the
node, so the book latency the publishers measure is the node's own scheduling delay. With ``loop`` the file
repeats, scaled so the path continues without a jump.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import numpy as np
import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.instruments import Instrument

from .errors import PaperNodeError
from .prices import PriceTable, quote_at

__all__ = ["QuoteSampler", "ReplayFeed"]

_TIMER = "nor-replay-feed"


class ReplayFeed(Actor):
    """Plays ``table`` into the node at ``speed`` × the file's pace (see the module docstring).

    ``on_row(index, t_s, prices)`` is called after each row is published (``t_s``: replay seconds).
    """

    def __init__(self, table: PriceTable, instruments: Sequence[Instrument], speed: float = 1.0,
                 loop: bool = True, spread_bps: float = 2.0, refresh_s: float = 0.25, start_delay_s: float = 0.5,
                 on_row: Callable[[int, float, Sequence[float]], None] | None = None) -> None:
        super().__init__(ActorConfig(component_id="ReplayFeed"))
        if not speed > 0.0:
            raise PaperNodeError(f"ReplayFeed.speed: expected a factor > 0, got {speed!r}")
        if len(instruments) != len(table.names):
            raise PaperNodeError(f"ReplayFeed: {len(instruments)} instruments for {len(table.names)} price columns")
        self.table, self.instruments, self.speed, self.loop = table, list(instruments), float(speed), loop
        self.spread_bps = spread_bps
        self.on_row = on_row
        self.refresh_s = refresh_s
        self.start_delay_s = start_delay_s
        self.rows_published = 0
        self._start_ns = 0
        self.finished = False

    @property
    def interval_s(self) -> float:
        """Seconds of the node's clock between timer ticks."""
        return min(self.table.step_s / self.speed, self.refresh_s)

    def on_start(self) -> None:
        # begin once the node has finished starting (its start-up would read as feed latency)
        self.clock.set_time_alert(f"{_TIMER}.begin", self.clock.utc_now() + pd.Timedelta(
            timedelta(seconds=self.start_delay_s)), callback=self._begin)

    def _begin(self, _event) -> None:
        self._start_ns = self.clock.timestamp_ns()
        self._publish(None)
        self.clock.set_timer(_TIMER, pd.Timedelta(timedelta(seconds=self.interval_s)), callback=self._publish)

    def on_stop(self) -> None:
        if _TIMER in self.clock.timer_names:
            self.clock.cancel_timer(_TIMER)

    def row(self, index: int) -> tuple[float, list[float]]:
        """Replay time and prices of row ``index`` (past the end: the file again, scaled to continue)."""
        n = len(self.table.t_s)
        lap, j = divmod(index, n - 1)
        t_s = lap * self.table.span_s + float(self.table.t_s[j])
        first, last = self.table.prices[0], self.table.prices[-1]
        scale = (last / first) ** lap
        return t_s, [float(p) for p in self.table.prices[j] * scale]

    def _between(self, i: int, t_s: float, prices: list[float], market_t_s: float) -> list[float]:
        t_next, nxt = self.row(i + 1)
        g = min(float(int(market_t_s)), t_next)
        if g <= t_s:
            return prices
        w = (g - t_s) / (t_next - t_s)
        return [float(np.exp((1.0 - w) * np.log(a) + w * np.log(b))) for a, b in zip(prices, nxt)]

    def _publish(self, event) -> None:
        now_ns = self.clock.timestamp_ns()
        due = int((now_ns - self._start_ns) / 1e9 * self.speed / self.table.step_s + 1e-9)
        new_row = due >= self.rows_published
        i = self.rows_published if new_row else self.rows_published - 1
        if not self.loop and i >= len(self.table.t_s):
            if not self.finished:
                self.finished = True
                self.log.info("replay feed: end of the price file")
            return
        t_s, prices = self.row(i)
        if not new_row:   # between rows: the twin's path, log prices interpolated on a 1 s grid
            prices = self._between(i, t_s, prices, (now_ns - self._start_ns) / 1e9 * self.speed)
        due_ns = event.ts_event if event is not None else now_ns
        for instrument, price in zip(self.instruments, prices):
            self.msgbus.send("DataEngine.process", quote_at(instrument, price, min(due_ns, now_ns), now_ns,
                                                            self.spread_bps))
        if new_row:
            self.rows_published += 1
            if self.on_row is not None:
                self.on_row(i, t_s, prices)


class QuoteSampler(Actor):
    """The scanner's rows on a live feed: every ``interval_s`` of the node's clock, the mid prices of
    ``instrument_ids`` from the node's cache (quotes a data client streams) → ``on_row(index, t_s,
    prices)``, ``t_s`` the node seconds since the sampler started. A row is taken only once every
    instrument has a quote (until then the scanner's age grows, as a stalled scanner's would)."""

    def __init__(self, instrument_ids: Sequence, interval_s: float = 5.0,
                 on_row: Callable[[int, float, Sequence[float]], None] | None = None) -> None:
        super().__init__(ActorConfig(component_id="QuoteSampler"))
        if not interval_s > 0.0:
            raise PaperNodeError(f"QuoteSampler.interval_s: expected seconds > 0, got {interval_s!r}")
        self.instrument_ids, self.interval_s, self.on_row = list(instrument_ids), interval_s, on_row
        self.rows_published = 0
        self._start_ns = 0

    def on_start(self) -> None:
        self._start_ns = self.clock.timestamp_ns()
        self.clock.set_timer(f"{_TIMER}.sample", pd.Timedelta(timedelta(seconds=self.interval_s)),
                             callback=self._sample)

    def on_stop(self) -> None:
        if f"{_TIMER}.sample" in self.clock.timer_names:
            self.clock.cancel_timer(f"{_TIMER}.sample")

    def prices(self) -> list[float] | None:
        """Mid prices in instrument order, or None while an instrument has no quote yet."""
        quotes = [self.cache.quote_tick(i) for i in self.instrument_ids]
        if any(q is None for q in quotes):
            return None
        return [(q.bid_price.as_double() + q.ask_price.as_double()) / 2.0 for q in quotes]

    def _sample(self, event) -> None:
        prices = self.prices()
        if prices is None:
            return
        t_s = (event.ts_event - self._start_ns) / 1e9
        if self.on_row is not None:
            self.on_row(self.rows_published, t_s, prices)
        self.rows_published += 1
