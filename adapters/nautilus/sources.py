"""Where the survival Actor reads its signals from.

A :class:`StepSource` gives the Actor a reading ``(now_s, signals)`` for an engine time
and may ask for an immediate step (an invariant event). Two implementations:

* :class:`ReplaySignalSource` replays a twin trace's observed signals; its rows travel
  through the Nautilus engine as :class:`~adapters.nautilus.data.SignalRowData`, so a
  BacktestEngine sees them at their own times, in order with market data.
* :class:`LiveSignalFeed` wraps an ``adapters.source.SignalSource`` (the Hazelcast health
  grid): ``signals(now_s)`` for readings and ``on_invariant_change(callback)`` for events,
  marshalled onto the node's event loop when the callback fires on another thread.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from nautilus_trader.core.data import Data
from nautilus_trader.model.data import CustomData, DataType

from .data import SIGNAL_ROW_DATA_TYPE, SignalRowData
from .errors import InterfaceError, SourceError
from .trace import SignalTrace, is_same_value

__all__ = [
    "DEFAULT_ORIGIN_NS",
    "LiveSignalFeed",
    "off_grid_rows",
    "ReplaySignalSource",
    "SignalReading",
    "StepRequest",
    "StepSource",
]

DEFAULT_ORIGIN_NS = 1_704_067_200_000_000_000
"""2024-01-01T00:00:00Z: engine time of a replayed trace's ``t_s = 0`` (Nautilus needs ts > 0)."""

StepRequest = Callable[[str, "SignalReading | None"], None]
"""Asks the Actor to step now: ``(trigger, reading)``; the trigger names the cause (e.g.
``invariant:hz.quorum``); ``reading`` is what to step with, or None to read the source now."""


class SignalReading(NamedTuple):
    """What the controller is stepped with: its ``now_s`` and the signal mapping."""

    now_s: float
    signals: Mapping[str, float]


@runtime_checkable
class StepSource(Protocol):
    """The Actor's view of a signal source."""

    @property
    def subscriptions(self) -> tuple[DataType, ...]:
        """Custom data types the Actor must subscribe to and pass to :meth:`handle_data`."""
        ...

    def bind(self, request_step: StepRequest, invariant_signals: frozenset[str]) -> None:
        """Called once when the Actor starts: where to send immediate-step requests."""
        ...

    def handle_data(self, data: Data) -> None:
        """A subscribed data item arrived through the engine."""
        ...

    def read(self, ts_ns: int) -> SignalReading:
        """The controller's ``now_s`` and signals at engine time ``ts_ns``."""
        ...

    def after_timer(self, ts_ns: int) -> list[tuple[str, SignalReading | None]]:
        """Immediate steps that must follow the timer's step at ``ts_ns``: (trigger, reading),
        where a reading of None means read the source now."""
        ...

    def close(self) -> None:
        """The Actor stopped; release what :meth:`bind` set up."""
        ...


class ReplaySignalSource:
    """Replays a :class:`SignalTrace` through a Nautilus engine.

    Row ``i`` is due at engine time ``origin_ns + round(t_s[i]·1e9)``. ``read(ts_ns)`` (the
    timer's reading) returns the latest row due at or before ``ts_ns`` — among rows due exactly
    at ``ts_ns``, the last one that is not an event row — with ``now_s`` equal to that row's
    exact ``t_s`` when the times coincide (so the controller sees the twin's float times bit
    for bit); before the first row it returns no signals (the controller's worst case).

    Which delivered rows request an immediate step (with their own signals):

    * ``event_rows=None``: a row whose invariant signals changed from the previous row;
    * ``event_rows=mask``: exactly the rows flagged True — e.g. :func:`off_grid_rows` for a
      twin trace, which holds one row per agent step: the rows off the 1 s tick grid are
      the agent's immediate steps on invariant events.
    """

    def __init__(self, trace: SignalTrace, origin_ns: int = DEFAULT_ORIGIN_NS,
                 event_rows: Sequence[bool] | np.ndarray | None = None) -> None:
        if origin_ns <= 0:
            raise SourceError(f"ReplaySignalSource.origin_ns: expected > 0 (Nautilus engine time), got {origin_ns}")
        self.trace = trace
        self.origin_ns = int(origin_ns)
        self._ts_ns: list[int] = trace.ts_ns(self.origin_ns).tolist()
        self._t_s: list[float] = trace.t_s.tolist()
        if event_rows is not None and len(event_rows) != len(trace):
            raise SourceError(f"ReplaySignalSource.event_rows: has {len(event_rows)} entries; "
                              f"expected one per trace row ({len(trace)})")
        self._events: list[bool] | None = None if event_rows is None else [bool(e) for e in event_rows]
        self._request: StepRequest | None = None
        self._watch: tuple[int, ...] = ()
        self._last_index = -1
        self._deferred: list[int] = []

    @property
    def subscriptions(self) -> tuple[DataType, ...]:
        return (SIGNAL_ROW_DATA_TYPE,)

    def events(self) -> list[CustomData]:
        """The rows as engine data, for ``BacktestEngine.add_data(..., client_id=...)``."""
        dt = SIGNAL_ROW_DATA_TYPE
        return [CustomData(dt, SignalRowData(i, ts)) for i, ts in enumerate(self._ts_ns)]

    def bind(self, request_step: StepRequest, invariant_signals: frozenset[str]) -> None:
        self._request = request_step
        names = self.trace.names
        self._watch = tuple(j for j, n in enumerate(names) if n in invariant_signals)
        self._last_index = -1

    def handle_data(self, data: Data) -> None:
        if not isinstance(data, SignalRowData):
            return
        index = data.index
        previous, self._last_index = self._last_index, index
        if self._request is None:
            return
        if self._events is None:
            changed = self._changed_invariant(previous, index) if previous >= 0 else None
            if changed is not None:
                self._request(f"invariant:{changed}", self._reading(index))
        elif self._events[index]:
            if self._follows_tick_row(index):
                self._deferred.append(index)  # the tick at this instant came first: after the timer
            else:
                self._request("event", self._reading(index))

    def _follows_tick_row(self, index: int) -> bool:
        ts, events, j = self._ts_ns, self._events, index - 1
        while j >= 0 and ts[j] == ts[index]:
            if not events[j]:
                return True
            j -= 1
        return False

    def after_timer(self, ts_ns: int) -> list[tuple[str, SignalReading]]:
        due = [i for i in self._deferred if self._ts_ns[i] <= ts_ns]
        self._deferred = [i for i in self._deferred if self._ts_ns[i] > ts_ns]
        return [("event", self._reading(i)) for i in due]

    def _changed_invariant(self, previous: int, index: int) -> str | None:
        values = self.trace.values
        for j in self._watch:
            if not is_same_value(float(values[previous, j]), float(values[index, j])):
                return self.trace.names[j]
        return None

    def _reading(self, index: int) -> SignalReading:
        return SignalReading(self._t_s[index], self.trace.row(index))

    def read(self, ts_ns: int) -> SignalReading:
        ts = self._ts_ns
        i = bisect.bisect_right(ts, ts_ns) - 1
        if i < 0:
            return SignalReading((ts_ns - self.origin_ns) / 1e9, {})
        if ts[i] != ts_ns:
            return SignalReading((ts_ns - self.origin_ns) / 1e9, self.trace.row(i))
        events = self._events
        j = i
        while events is not None and j >= 0 and ts[j] == ts_ns and events[j]:
            j -= 1
        return self._reading(j if j >= 0 and ts[j] == ts_ns else i)

    def close(self) -> None:
        self._request = None
        self._deferred = []


def off_grid_rows(trace: SignalTrace, interval_s: float = 1.0) -> np.ndarray:
    """Rows that are not the last row at a tick ``t_s[0] + k·interval_s`` (exact to the ns).

    For a twin trace without its ``decisions.parquet`` (one row per agent step, ticks every
    ``interval_s``) these are the agent's immediate steps on invariant events; at a tick
    instant the event step comes first. Prefer :func:`~adapters.nautilus.trace.load_event_rows`
    when the decisions file is at hand: it is exact.
    """
    ns = np.rint(trace.t_s * 1e9).astype(np.int64)
    step = int(round(interval_s * 1e9))
    on_grid = (ns - ns[0]) % step == 0
    repeated = np.zeros(ns.shape, dtype=bool)
    repeated[:-1] = ns[:-1] == ns[1:]
    return ~on_grid | repeated


class LiveSignalFeed:
    """Adapts an ``adapters.source.SignalSource`` (e.g. the Hazelcast health grid) to the Actor.

    ``now_s`` is ``(ts_ns - origin_ns) / 1e9``: with the default ``origin_ns = 0`` it is Unix
    time in seconds, the clock the live source stamps its observations with.

    Invariant callbacks never step the Actor on a foreign thread (the Hazelcast client's
    reactor): on the Actor's own thread they step at once; from another thread they are
    handed to ``loop`` with ``call_soon_threadsafe``. ``loop=None`` means the event loop
    running when the Actor starts (a live ``TradingNode``'s); with no loop at all (a
    backtest, or a closed loop) a foreign-thread event is deferred to the next timer tick,
    where it is stepped on the Actor's thread with the trigger ``deferred:invariant:...``.
    A source that raises while being read yields no signals: the controller's worst case.
    With ``owns_source`` the feed calls the source's ``start()`` when the Actor starts and its
    ``stop()`` when the Actor stops (so building a node connects nothing).
    """

    def __init__(self, source: Any, origin_ns: int = 0, loop: asyncio.AbstractEventLoop | None = None,
                 owns_source: bool = False) -> None:
        for method in ("signals", "on_invariant_change"):
            if not callable(getattr(source, method, None)):
                raise InterfaceError(f"LiveSignalFeed: {type(source).__name__} is not a SignalSource: "
                                     f"it has no {method}()")
        self.source = source
        self.origin_ns = int(origin_ns)
        self.loop = loop
        self.owns_source = owns_source
        self._request: StepRequest | None = None
        self._thread_id: int | None = None
        self._lock = threading.Lock()
        self._deferred: list[str] = []
        self._subscribed = False
        self.read_errors = 0

    @property
    def subscriptions(self) -> tuple[DataType, ...]:
        return ()

    def bind(self, request_step: StepRequest, invariant_signals: frozenset[str]) -> None:
        self._request = request_step
        self._thread_id = threading.get_ident()
        if self.loop is None:
            try:
                self.loop = asyncio.get_running_loop()
            except RuntimeError:  # no running loop: foreign-thread events wait for the next tick
                pass
        if self.owns_source and callable(getattr(self.source, "start", None)):
            self.source.start()
        if not self._subscribed:  # a restarted Actor binds again; subscribe once
            self.source.on_invariant_change(self._on_invariant)
            self._subscribed = True

    def _on_invariant(self, *event: Any) -> None:
        request = self._request
        if request is None:
            return
        reason = "invariant:" + (str(event[0]) if event else "event")
        if threading.get_ident() == self._thread_id:
            request(reason, None)
            return
        loop = self.loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(request, reason, None)
                return
            except RuntimeError:  # the loop is closed: defer like the no-loop case
                pass
        with self._lock:
            self._deferred.append(reason)

    @property
    def deferred_events(self) -> int:
        """Foreign-thread events waiting for the next timer tick (no loop to hand them to)."""
        with self._lock:
            return len(self._deferred)

    def handle_data(self, data: Data) -> None:
        return None

    def after_timer(self, ts_ns: int) -> list[tuple[str, SignalReading | None]]:
        """One step for the deferred foreign-thread events, if any (read from the source now)."""
        with self._lock:
            deferred, self._deferred = self._deferred, []
        return [("deferred:" + deferred[0], None)] if deferred else []

    def read(self, ts_ns: int) -> SignalReading:
        now_s = (ts_ns - self.origin_ns) / 1e9
        try:
            signals = self.source.signals(now_s)
        except Exception:  # noqa: BLE001 - a failing source must not stop the controller
            self.read_errors += 1
            signals = {}
        return SignalReading(now_s, signals)

    def close(self) -> None:
        self._request = None
        with self._lock:
            self._deferred = []
        if self.owns_source and callable(getattr(self.source, "stop", None)):
            self.source.stop()

