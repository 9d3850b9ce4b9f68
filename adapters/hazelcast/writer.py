"""Sensor-side writer: publish signals to ``DOLPHIN_HEALTH_GRID`` as checksummed compact records."""

from __future__ import annotations

import threading
import time
from typing import Callable, Mapping

import hazelcast

from .config import DEFAULT_MAP_NAME
from .futures import wait_result
from .record import HealthRecord, make_record

__all__ = ["HealthWriter"]


class HealthWriter:
    """Publishes one grid entry per signal; sequence numbers increase per signal.

    Args:
        client: a started ``HazelcastClient`` (the writer does not own it).
        map_name: the health grid's IMap name.
        clock: wall-clock seconds used for source timestamps (injected; default ``time.time``).
        epoch: this writer incarnation's id; a restarted writer must use a larger one (default: the
            clock in microseconds at construction), so readers accept its sequence restarting at 0.
        timeout_s: bound on each blocking publish.
    """

    def __init__(self, client: hazelcast.HazelcastClient, map_name: str = DEFAULT_MAP_NAME,
                 clock: Callable[[], float] = time.time, epoch: int | None = None,
                 timeout_s: float = 5.0) -> None:
        self._map = client.get_map(map_name)
        self._clock = clock
        self.epoch = int(clock() * 1e6) if epoch is None else int(epoch)
        self._timeout_s = timeout_s
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, signal: str, value: float, source_ts_s: float | None = None) -> HealthRecord:
        """Build the next checksummed record for ``signal`` (advances its sequence number)."""
        with self._lock:
            seq = self._seq.get(signal, 0) + 1
            rec = make_record(signal, value, self._clock() if source_ts_s is None else source_ts_s, seq, self.epoch)
            self._seq[signal] = seq
        return rec

    def publish(self, signal: str, value: float, source_ts_s: float | None = None) -> HealthRecord:
        """Write one signal and wait for the member's acknowledgement."""
        rec = self.record(signal, value, source_ts_s)
        self._wait(self._map.set(signal, rec), f"publishing {signal!r}")
        return rec

    def publish_many(self, values: Mapping[str, float], source_ts_s: float | None = None) -> list[HealthRecord]:
        """Write several signals in one ``put_all`` (one round trip per partition owner)."""
        ts = self._clock() if source_ts_s is None else source_ts_s
        recs = [self.record(name, value, ts) for name, value in values.items()]
        self._wait(self._map.put_all({r.signal: r for r in recs}), f"publishing {sorted(values)}")
        return recs

    def put_raw(self, record: HealthRecord) -> None:
        """Write a record as given, without checksumming it (fault injection and tests only)."""
        self._wait(self._map.set(record.signal, record), f"writing raw record {record.signal!r}")

    def _wait(self, future, what: str) -> None:
        wait_result(future, self._timeout_s, f"{what} to the health grid")
