"""What the agent has observed of the health grid: records, integrity, connection, membership.

Fed from the hazelcast client's threads (entry listener, lifecycle, membership, probe replies);
read by the watchdog. Every mutation notifies subscribers after the lock is released.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from .record import HealthRecord

__all__ = ["GridState", "GridSnapshot"]

CONNECTED, DISCONNECTED, SHUTDOWN = "CONNECTED", "DISCONNECTED", "SHUTDOWN"


@dataclass(frozen=True)
class GridSnapshot:
    """An immutable copy of the observed state at one instant (times from the injected clock)."""

    records: Mapping[str, HealthRecord]
    integrity_faults: Mapping[str, str]
    connected: bool
    disconnected_since_s: float | None
    last_contact_s: float | None
    member_count: int
    min_members: int
    cluster_restarts: int

    @property
    def integrity_ok(self) -> bool:
        return not self.integrity_faults

    @property
    def quorum_ok(self) -> bool:
        """The member view alone is large enough (``hz.quorum`` also needs ``connected``)."""
        return self.member_count >= self.min_members


class GridState:
    """Thread-safe observed state of the grid, as seen by one agent."""

    def __init__(self, clock: Callable[[], float], min_members: int = 1) -> None:
        self._clock = clock
        self._min_members = min_members
        self._lock = threading.Lock()
        self._records: dict[str, HealthRecord] = {}
        self._order: dict[str, tuple[int, int]] = {}
        self._faults: dict[str, str] = {}
        self._connected = False
        self._disconnected_since: float | None = clock()
        self._last_contact: float | None = None
        self._members: set[uuid.UUID] = set()
        self._last_members: frozenset[uuid.UUID] = frozenset()
        self._restarts = 0
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.append(callback)

    def _notify(self) -> None:
        for cb in list(self._subscribers):
            cb()

    # ------------------------------------------------------------ grid entries
    def accept(self, key: str, record: object, *, from_read: bool = False) -> None:
        """Judge one value seen in the grid; a bad one marks ``key`` as an integrity fault.

        ``from_read``: the value came from a (near-cached) read, not from the entry listener.
        A read may legitimately be stale — the near cache is invalidated by a separate event
        that can arrive after the entry event carrying the newer record — so an older intact
        record from a read is ignored. A sequence going backwards is judged on entry events
        only: they are the grid's own per-key write order. A checksum mismatch is a fault
        whichever way it arrives, except a read of one whose (epoch, seq) an intact record from the
        grid has already reached: that is the same stale read of a superseded write (its entry event
        was judged when it came), and flagging it again would hold the fault until the next write.
        """
        with self._lock:
            self._judge(key, record, from_read)
        self._notify()

    def _judge(self, key: str, record: object, from_read: bool) -> None:
        if not isinstance(record, HealthRecord):
            self._faults[key] = f"value of type {type(record).__name__} is not a HealthRecord"
            return
        if record.signal != key:
            self._faults[key] = f"record names signal {record.signal!r} under key {key!r}"
            return
        order = (record.epoch, record.seq)
        last = self._order.get(key)
        if not record.intact:
            if from_read and last is not None and order <= last:
                return      # a stale read of a write an intact record with this order has superseded
            self._faults[key] = f"checksum mismatch (seq {record.seq})"
            return
        if last is not None and order < last:
            if not from_read:
                self._faults[key] = f"sequence went backwards: {order} after {last}"
            return
        if last is None or order > last:
            self._records[key] = record
            self._order[key] = order
            self._faults.pop(key, None)

    def forget(self, key: str) -> None:
        """The entry was removed from the grid: the signal becomes missing (worst case)."""
        with self._lock:
            self._records.pop(key, None)
        self._notify()

    def orders(self) -> dict[str, tuple[int, int]]:
        """The (epoch, seq) of the record held per key (to compare before and after a read)."""
        with self._lock:
            return dict(self._order)

    def forget_missing(self, keys: Iterable[str], found: Iterable[str], before: dict[str, tuple[int, int]]) -> None:
        """A read of ``keys`` returned only ``found``: every other key has no entry in the grid
        (data lost with its owner and backups, or never written) and becomes missing (worst case)
        — unless a newer record arrived while the read was in flight."""
        found = set(found)
        dropped = False
        with self._lock:
            for key in keys:
                if key not in found and key in self._records and self._order.get(key) == before.get(key):
                    del self._records[key]
                    dropped = True
        if dropped:
            self._notify()

    # ------------------------------------------------------------ connection and contact
    def contact(self) -> None:
        """The cluster answered (probe reply or entry event)."""
        with self._lock:
            self._last_contact = self._clock()

    def on_lifecycle(self, state: str) -> None:
        with self._lock:
            if state == CONNECTED:
                self._connected = True
                self._disconnected_since = None
                self._last_contact = self._clock()
            elif state in (DISCONNECTED, SHUTDOWN) and self._connected:
                self._connected = False
                self._disconnected_since = self._clock()
            else:
                return
        self._notify()

    def disconnected_for(self) -> float | None:
        """Seconds since the connection was lost (or since start when never connected)."""
        with self._lock:
            return None if self._disconnected_since is None else self._clock() - self._disconnected_since

    # ------------------------------------------------------------ membership
    def on_member_added(self, member_uuid: uuid.UUID) -> None:
        with self._lock:
            self._members.add(member_uuid)
            self._track_restart()
        self._notify()

    def on_member_removed(self, member_uuid: uuid.UUID) -> None:
        with self._lock:
            self._members.discard(member_uuid)
        self._notify()

    def reset_members(self) -> None:
        """A new client replaces the old one: no membership view until it reports one."""
        with self._lock:
            self._members.clear()
        self._notify()

    def _track_restart(self) -> None:
        current = frozenset(self._members)
        if self._last_members and current.isdisjoint(self._last_members):
            self._restarts += 1
        self._last_members = current

    # ------------------------------------------------------------ reading
    def snapshot(self) -> GridSnapshot:
        with self._lock:
            return GridSnapshot(
                records=dict(self._records),
                integrity_faults=dict(self._faults),
                connected=self._connected,
                disconnected_since_s=self._disconnected_since,
                last_contact_s=self._last_contact,
                member_count=len(self._members),
                min_members=self._min_members,
                cluster_restarts=self._restarts,
            )
