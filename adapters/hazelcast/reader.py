"""Agent-side reader: near-cached map reads, entry listener, membership listener, liveness probe.

One reader per client. Everything it observes goes into a shared :class:`GridState`; events from
a client that has since been replaced are ignored (the ``alive`` check).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

import hazelcast

from .futures import wait_result
from .state import GridState

__all__ = ["HealthReader", "PROBE_KEY"]

PROBE_KEY = "__nor.probe__"


class HealthReader:
    """Attach ``state`` to ``client``'s view of the health grid.

    Args:
        client: a started client (near cache configured for ``map_name`` when wanted).
        state: the shared observed state.
        map_name: the health grid's IMap name.
        alive: returns False once this reader's client has been replaced; its events are dropped.
    """

    def __init__(self, client: hazelcast.HazelcastClient, state: GridState, map_name: str,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self._client = client
        self._state = state
        self._alive = alive
        self._map = client.get_map(map_name)
        self._smart = bool(getattr(getattr(client, "_config", None), "smart_routing", True))
        self._probe_lock = threading.Lock()
        self._probe_outstanding = False
        self._refresh_outstanding = False
        client.cluster_service.add_listener(
            member_added=lambda m: self._alive() and state.on_member_added(m.uuid),
            member_removed=self._on_member_removed,
            fire_for_existing=True,
        )
        self._registration = self._map.add_entry_listener(
            include_value=True, added_func=self._on_entry, updated_func=self._on_entry,
            removed_func=self._on_removed,
        )

    @property
    def listening(self) -> bool:
        """The entry listener is registered on every member in view (smart routing) or on the one
        connection (unisocket). Until then some members' entry events — and so sequence checks on
        their partitions — are not seen. The pinned client registers on connections opened after
        the listener was added in the background and exposes no public view of that, so this reads
        its listener registry (hazelcast-python-client 5.7.0)."""
        if not (self._registration.done() and self._registration.is_success()):
            return False
        registry = getattr(self._client, "_listener_service", None)
        reg = getattr(registry, "_active_registrations", {}).get(self._registration.result())
        if reg is None:
            return False
        registered = {getattr(c, "remote_uuid", None) for c in list(reg.connection_registrations)}
        if not self._smart:
            return bool(registered)
        members = {m.uuid for m in self._client.cluster_service.get_members()}
        return bool(members) and members <= registered

    def _on_member_removed(self, member) -> None:
        """A member left: entries it owned may be lost (owner and backups gone). The pinned client's
        near cache has no repair for that (no partition-UUID check, unlike the Java client), so it
        is dropped and the next read asks the cluster; keys it no longer has become missing."""
        if not self._alive():
            return
        manager = getattr(self._client, "_near_cache_manager", None)
        if manager is not None:
            manager.clear_near_caches()
        self._state.on_member_removed(member.uuid)

    def _on_entry(self, event) -> None:
        if not self._alive() or event.key == PROBE_KEY:
            return
        self._state.contact()
        self._state.accept(event.key, event.value)

    def _on_removed(self, event) -> None:
        if self._alive():
            self._state.contact()
            self._state.forget(event.key)

    def refresh(self, keys: Iterable[str], timeout_s: float) -> int:
        """Read ``keys`` through the near cache and wait (bounded); returns the entries found.

        Raises HazelcastAdapterError when the cluster does not answer within ``timeout_s``.
        """
        wanted = [k for k in keys if k != PROBE_KEY]
        before = self._state.orders()
        found = wait_result(self._map.get_all(wanted), timeout_s, "reading the health grid")
        self._accept_all(found, wanted, before)
        return len(found)

    def refresh_async(self, keys: Iterable[str]) -> bool:
        """Start a near-cache read of ``keys`` unless one is in flight; results arrive in ``state``."""
        with self._probe_lock:
            if self._refresh_outstanding:
                return False
            self._refresh_outstanding = True
        wanted = [k for k in keys if k != PROBE_KEY]
        before = self._state.orders()
        try:
            future = self._map.get_all(wanted)
        except Exception:  # client offline
            with self._probe_lock:
                self._refresh_outstanding = False
            return False
        future.add_done_callback(lambda f: self._on_refresh_reply(f, wanted, before))
        return True

    def _on_refresh_reply(self, future, wanted: list[str], before: dict) -> None:
        with self._probe_lock:
            self._refresh_outstanding = False
        if future.is_success():
            self._accept_all(future.result(), wanted, before)

    def _accept_all(self, found, wanted: list[str], before: dict) -> None:
        if self._alive():
            for key, value in found.items():
                self._state.accept(key, value, from_read=True)
            self._state.forget_missing(wanted, found.keys(), before)

    def probe(self) -> bool:
        """Send one liveness probe unless one is already in flight; returns True if sent."""
        with self._probe_lock:
            if self._probe_outstanding:
                return False
            self._probe_outstanding = True
        try:
            future = self._map.contains_key(PROBE_KEY)
        except Exception:  # client offline: no probe, the heartbeat age keeps growing
            with self._probe_lock:
                self._probe_outstanding = False
            return False
        future.add_done_callback(self._on_probe_reply)
        return True

    def _on_probe_reply(self, future) -> None:
        with self._probe_lock:
            self._probe_outstanding = False
        if future.is_success() and self._alive():
            self._state.contact()
