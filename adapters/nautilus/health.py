"""Health the paper node computes itself, written into the grid through a ``HealthWriter``.

:class:`HealthPublisher` is an Actor with one timer per publisher (cadences in seconds of the
node's clock):

* ``book`` (1 s): ``ob.age_s`` (age of the newest quote the node received), ``ob.latency_ms``
  (mean ``ts_init − ts_event`` of each instrument's latest quote: the feed's delivery delay),
  ``ob.depth_ratio`` (top-of-book size now / when first seen), from the quotes in the node's cache;
* ``heartbeat`` (1 s): the agent's keepalive record (``heartbeat.age_s`` = 0 at the source);
* ``drawdown`` (1 s): ``portfolio.drawdown`` = 1 − equity / peak of the paper account (balance
  plus unrealised PnL at the venue);
* ``ledger`` (10 s): ``ledger.consistent`` — the strategies' ledger (every fill event booked once,
  a duplicated fill id counts as a break) against the paper account's net positions;
* ``scan``: ``scan.age_s`` = 0 and the scan's features, published by :meth:`scan_published` on
  every scan (every 5 s of market time);
* stand-ins for the external DOLPHIN services, only when asked for (``stand_ins``):
  ``mc_forewarner`` (60 s), ``exf`` (60 s, shock 0), ``esof`` (300 s) — healthy records, labelled
  in the grid with ``<name>.stand_in`` = 1 and in the log.

Writes go through a background thread (:class:`QueuedWriter`), so a slow or lost cluster never
blocks the node's event loop; a write that fails is counted, not retried. ``pause(name)`` /
``resume(name)`` stop and restart one publisher (scripted faults).
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import Venue

from .errors import PaperNodeError

__all__ = ["HealthPublisher", "QueuedWriter", "STAND_INS", "CADENCES_S"]

STAND_INS = ("mc_forewarner", "exf", "esof")
CADENCES_S = {"book": 1.0, "heartbeat": 1.0, "drawdown": 1.0, "ledger": 10.0,
              "mc_forewarner": 60.0, "exf": 60.0, "esof": 300.0}
_STAND_IN_VALUES = {"mc_forewarner": {"mc_forewarner.age_s": 0.0},
                    "exf": {"exf.age_s": 0.0, "exf.shock": 0.0},
                    "esof": {"esof.age_s": 0.0}}


class QueuedWriter:
    """Hands ``publish_many`` calls to a daemon thread that writes them through ``writer``."""

    def __init__(self, writer: Any, maxsize: int = 1000) -> None:
        self.writer = writer
        self.failures = 0
        self.written = 0
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="nor-health-writer", daemon=True)
        self._thread.start()

    def publish_many(self, values: Mapping[str, float], source_ts_s: float) -> None:
        try:
            self._queue.put_nowait((dict(values), source_ts_s))
        except queue.Full:
            self.failures += 1

    def close(self, timeout_s: float = 2.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.writer.publish_many(*item)
                self.written += 1
            except Exception:  # noqa: BLE001 - a lost cluster is a health fact, not a crash
                self.failures += 1


class HealthPublisher(Actor):
    """Publishes the node's own health (see the module docstring)."""

    def __init__(self, writer: Any, venue: str, instrument_ids: Iterable[Any], stand_ins: Iterable[str] = (),
                 cadences_s: Mapping[str, float] | None = None,
                 on_publish: Callable[[str, Mapping[str, float]], None] | None = None) -> None:
        super().__init__(ActorConfig(component_id="HealthPublisher"))
        unknown = sorted(set(stand_ins) - set(STAND_INS))
        if unknown:
            raise PaperNodeError(f"stand-ins: {', '.join(unknown)} not known (expected some of {', '.join(STAND_INS)})")
        self.writer = writer
        self.venue = Venue(venue)
        self.instrument_ids = list(instrument_ids)
        self.stand_ins = tuple(s for s in STAND_INS if s in set(stand_ins))
        self.cadences_s = {**CADENCES_S, **(cadences_s or {})}
        self.on_publish = on_publish
        self.paused: set[str] = set()
        self._depth0: dict[Any, float] = {}
        self._peak = 0.0
        self.ledger: dict[Any, float] = {}
        self._fill_ids: set[str] = set()
        self.duplicate_fills = 0

    @property
    def publishers(self) -> tuple[str, ...]:
        return ("book", "heartbeat", "drawdown", "ledger", *self.stand_ins)

    def on_start(self) -> None:
        self.msgbus.subscribe("events.order.*", self._on_order_event)
        for name in self.stand_ins:
            self.log.warning(f"STAND-IN {name}: publishing healthy records every {self.cadences_s[name]:g} s "
                             "(not the real DOLPHIN service)")
        for name in self.publishers:
            self._fire(name)
            self.clock.set_timer(f"nor-health-{name}", pd.Timedelta(timedelta(seconds=self.cadences_s[name])),
                                 callback=lambda _e, n=name: self._fire(n))

    def on_stop(self) -> None:
        for name in self.publishers:
            if f"nor-health-{name}" in self.clock.timer_names:
                self.clock.cancel_timer(f"nor-health-{name}")

    def pause(self, name: str) -> None:
        self.paused.add(name)

    def resume(self, name: str) -> None:
        self.paused.discard(name)
        self._fire(name)

    def scan_published(self, scan: Any = None) -> None:
        """The scanner scanned: its health record and its features (``scan.v50``, ``scan.v750``,
        ``scan.vel_div``, ``scan.seq``) when given a :class:`trading.Scan`."""
        values = {"scan.age_s": 0.0}
        if scan is not None:
            values.update({"scan.seq": float(scan.seq), "scan.v50": scan.v50, "scan.v750": scan.v750,
                           "scan.vel_div": scan.vel_div})
        self._write("scan", values)

    # -- publishers ------------------------------------------------------------------------

    def _fire(self, name: str) -> None:
        if name in self.paused:
            return
        if name in _STAND_IN_VALUES:
            self._write(name, {**_STAND_IN_VALUES[name], f"{name}.stand_in": 1.0})
        elif name == "book":
            self._write(name, self.book())
        elif name == "heartbeat":
            self._write(name, {"heartbeat.age_s": 0.0})
        elif name == "drawdown":
            self._write(name, {"portfolio.drawdown": self.drawdown()})
        elif name == "ledger":
            self._write(name, {"ledger.consistent": 1.0 if self.ledger_consistent() else 0.0})

    def _write(self, name: str, values: Mapping[str, float]) -> None:
        values = {k: v for k, v in values.items() if not (isinstance(v, float) and math.isnan(v))}
        if not values:
            return
        self.writer.publish_many(values, self.clock.timestamp_ns() / 1e9)
        if self.on_publish is not None:
            self.on_publish(name, values)

    def book(self) -> dict[str, float]:
        """Book age, latency and depth from the node's own quotes (NaN when none arrived)."""
        quotes = [q for q in (self.cache.quote_tick(i) for i in self.instrument_ids) if q is not None]
        if not quotes:
            return {}
        now = self.clock.timestamp_ns()
        latency_ms = sum((q.ts_init - q.ts_event) / 1e6 for q in quotes) / len(quotes)
        ratios = []
        for q in quotes:
            depth = q.bid_size.as_double() + q.ask_size.as_double()
            ref = self._depth0.setdefault(q.instrument_id, depth)
            ratios.append(depth / ref if ref > 0 else 0.0)
        return {"ob.age_s": max(0.0, (now - max(q.ts_init for q in quotes)) / 1e9),
                "ob.latency_ms": max(0.0, latency_ms), "ob.depth_ratio": min(ratios)}

    def equity(self) -> float:
        """Paper account equity at the venue: balances plus unrealised PnL (quote currency)."""
        account = self.portfolio.account(self.venue)
        if account is None:
            return math.nan
        total = sum(m.as_double() for m in account.balances_total().values())
        pnls = self.portfolio.unrealized_pnls(self.venue)
        return total + sum(m.as_double() for m in pnls.values())

    def drawdown(self) -> float:
        equity = self.equity()
        if not math.isfinite(equity):
            return math.nan
        self._peak = max(self._peak, equity)
        return max(0.0, 1.0 - equity / self._peak) if self._peak > 0 else math.nan

    def _on_order_event(self, event: Any) -> None:
        if not isinstance(event, OrderFilled):
            return
        key = event.trade_id.value + "/" + event.client_order_id.value
        if key in self._fill_ids:
            self.duplicate_fills += 1
            return
        self._fill_ids.add(key)
        sign = 1.0 if event.order_side == OrderSide.BUY else -1.0
        self.ledger[event.instrument_id] = self.ledger.get(event.instrument_id, 0.0) + sign * event.last_qty.as_double()

    def ledger_consistent(self) -> bool:
        """Every fill booked once, and the booked net position per instrument equals the account's."""
        if self.duplicate_fills:
            return False
        for instrument_id in set(self.ledger) | set(self.instrument_ids):
            net = float(self.portfolio.net_position(instrument_id))
            if abs(net - self.ledger.get(instrument_id, 0.0)) > 1e-9 * max(1.0, abs(net)):
                return False
        return True
