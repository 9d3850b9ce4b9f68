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

__all__ = ["HealthReader", "NO_CONNECTION", "PENDING", "PROBE_KEY"]

PROBE_KEY = "__nor.probe__"
NO_CONNECTION = "no connection to"
PENDING = "the registration is pending"
"""How :meth:`HealthReader.deaf_to` starts when the client has a member in view but no connection to it."""


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
        self._listen_gen = 0
        self._registration = self._register()

    def _register(self):
        """Add the entry listener; events of any earlier registration of this reader are dropped
        from here on (two live registrations would deliver a key's events out of order)."""
        self._listen_gen += 1
        gen = self._listen_gen
        current = lambda: self._listen_gen == gen  # noqa: E731
        return self._map.add_entry_listener(
            include_value=True, added_func=lambda e: current() and self._on_entry(e),
            updated_func=lambda e: current() and self._on_entry(e),
            removed_func=lambda e: current() and self._on_removed(e),
        )

    @property
    def registration_id(self) -> str | None:
        """The client's id of the current entry-listener registration (None until it succeeded)."""
        reg = self._registration
        return reg.result() if reg.done() and reg.is_success() else None

    def relisten(self) -> None:
        """Register the entry listener afresh and drop the old registration.

        The pinned client registers a listener on each connection once: a registration that fails
        (say, on a connection that dies while the cluster heals) fails the whole listener, and one
        that fails on a live connection is logged and never retried, so that member's events would
        stay unseen for the client's lifetime. The service calls this when :attr:`listening` has
        stayed false past its bound; the near-cache refresh covers the events in between."""
        old = self._registration
        self._registration = self._register()
        if old.done() and old.is_success():
            try:
                self._map.remove_entry_listener(old.result())
            except Exception:  # client offline: the server drops it with the connection
                pass

    @property
    def listening(self) -> bool:
        """The entry listener is registered on every member in view (smart routing) or on the one
        connection (unisocket). Until then some members' entry events — and so sequence checks on
        their partitions — are not seen. The pinned client registers on connections opened after
        the listener was added in the background and exposes no public view of that, so this reads
        its listener registry (hazelcast-python-client 5.7.0)."""
        return self.deaf_to() == ""

    def deaf_to(self) -> str:
        """Why the listener is not (yet) registered everywhere, or "" when it is."""
        registration = self._registration
        if not registration.done():
            return PENDING
        if not registration.is_success():
            return f"the registration failed: {registration.exception()}"
        registry = getattr(self._client, "_listener_service", None)
        reg = getattr(registry, "_active_registrations", {}).get(registration.result())
        if reg is None:
            return "the client holds no such registration"
        registered = {getattr(c, "remote_uuid", None) for c in list(reg.connection_registrations)}
        if not self._smart:
            return "" if registered else "not registered on the connection"
        members = {m.uuid for m in self._client.cluster_service.get_members()}
        if not members:
            return "no member in view"
        manager = getattr(self._client, "_connection_manager", None)
        connected = set(getattr(manager, "active_connections", {}) or ())
        unconnected = members - connected
        if manager is not None and unconnected:
            return f"{NO_CONNECTION} member(s) {sorted(map(str, unconnected))}"
        missing = members - registered
        return f"not registered on member(s) {sorted(map(str, missing))}" if missing else ""

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
