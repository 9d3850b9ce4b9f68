"""The agent-side health service: client ownership, reader, watchdog and our own reconnect watchdog.

The hazelcast client can stay DISCONNECTED forever when an authentication reply is swallowed on a
live TCP connection (its pending invocations have no timer), and it shuts itself down when its
``cluster_connect_timeout`` runs out. So the service checks on every tick: if the client has been
disconnected for longer than ``reconnect_bound_s`` (or has shut itself down), it is shut down and a
new client is created. State (records, sequences, integrity) survives the replacement.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable, Mapping

import hazelcast

from .client import build_client
from .config import HzConfig
from .errors import HazelcastAdapterError
from .reader import NO_CONNECTION, PENDING, HealthReader
from .state import GridState
from .watchdog import DEFAULT_INVARIANTS, DEFAULT_SIGNALS, HealthWatchdog

__all__ = ["HazelcastHealthService", "health_source_from_env"]

_log = logging.getLogger(__name__)


class HazelcastHealthService:
    """Owns one (replaceable) client and exposes :attr:`watchdog`, a ``SignalSource``.

    Args:
        cfg: adapter configuration.
        signal_names, invariant_signals: from the controller (``ctl.signal_names``, ``ctl.invariant_signals``).
        clock: wall-clock seconds (injected; default ``time.time``).
        tick_s: period of the probe / refresh / reconnect check (default ``cfg.probe_interval_s``).
        age_limits_s: optional age-invariant limits passed to the watchdog.
        heartbeat: what ``heartbeat.age_s`` measures, ``"contact"`` (the cluster's answers) or
            ``"record"`` (the agent's keepalive record in the grid; see :mod:`.watchdog`).
    """

    def __init__(self, cfg: HzConfig, signal_names: Iterable[str] = DEFAULT_SIGNALS,
                 invariant_signals: Iterable[str] = DEFAULT_INVARIANTS, *,
                 clock: Callable[[], float] = time.time, tick_s: float | None = None,
                 age_limits_s: Mapping[str, float] | None = None, heartbeat: str = "contact") -> None:
        self.cfg = cfg
        self._clock = clock
        self._tick_s = cfg.probe_interval_s if tick_s is None else tick_s
        self.state = GridState(clock, cfg.min_members)
        self.watchdog = HealthWatchdog(self.state, signal_names, invariant_signals,
                                       clock=clock, age_limits_s=age_limits_s, heartbeat=heartbeat)
        derived = ("hz.quorum",) if heartbeat == "record" else ("hz.quorum", "heartbeat.age_s")
        self._keys = [n for n in self.watchdog.signal_names if n not in derived]
        self._generation = 0
        self._client: hazelcast.HazelcastClient | None = None
        self._reader: HealthReader | None = None
        self._created_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attaching = False
        self._alive: Callable[[], bool] = lambda: False
        self._swap_lock = threading.Lock()
        self.recreations = 0
        self.relistens = 0
        self.renewals = 0
        self.renew_attempts = 0
        self._renewing = False
        self._deaf_since: float | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "HazelcastHealthService":
        self._connect()
        self._thread = threading.Thread(target=self._run, name="nor-hz-health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._swap_lock:
            self._generation += 1
            client, self._client, self._reader = self._client, None, None
        if client is not None:
            client.shutdown()

    def __enter__(self) -> "HazelcastHealthService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client(self) -> hazelcast.HazelcastClient:
        if self._client is None:
            raise HazelcastAdapterError("the health service is not started")
        return self._client

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected with a member view (bounded); returns False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            snap = self.state.snapshot()
            if snap.connected and snap.quorum_ok:
                return True
            time.sleep(0.01)
        return False

    @property
    def listening(self) -> bool:
        """The current client's entry listener is registered (see ``HealthReader.listening``)."""
        return self.deaf_to() == ""

    def deaf_to(self) -> str:
        """Why the entry listener is not registered everywhere yet, or "" when it is."""
        reader = self._reader
        return "no reader attached yet" if reader is None else reader.deaf_to()

    # ------------------------------------------------------------ SignalSource
    def signals(self, now_s: float) -> Mapping[str, float]:
        """The controller's signal mapping (delegates to :attr:`watchdog`)."""
        return self.watchdog.signals(now_s)

    def on_invariant_change(self, callback: Callable[[], None]) -> None:
        self.watchdog.on_invariant_change(callback)

    # ------------------------------------------------------------ client ownership
    def _connect(self) -> None:
        with self._swap_lock:
            self._generation += 1
            gen = self._generation
            alive = lambda: self._generation == gen  # noqa: E731
            self.state.reset_members()
            self._created_at = self._clock()
            client = build_client(self.cfg, lifecycle_listeners=[
                lambda s: alive() and self.state.on_lifecycle(s)])
            self._client = client
            self._reader = None
            self._attaching = False
            self._alive = alive
            self._deaf_since = None

    def _attach_reader(self) -> None:
        """Attach a reader once connected, off the tick thread: proxy creation blocks unboundedly."""
        if self._reader is not None or self._attaching or self._client is None:
            return
        self._attaching = True
        client, alive = self._client, self._alive

        def attach() -> None:
            try:
                reader = HealthReader(client, self.state, self.cfg.map_name, alive)
            except Exception as exc:  # the client went away meanwhile; the next tick retries
                _log.info("attaching the health reader failed: %s", exc)
                reader = None
            with self._swap_lock:
                if alive():
                    self._reader = reader
                    self._attaching = False

        threading.Thread(target=attach, name="nor-hz-attach", daemon=True).start()

    def _replace_client(self, reason: str) -> None:
        _log.warning("replacing the hazelcast client: %s", reason)
        with self._swap_lock:
            self._generation += 1  # old client's events are ignored from here on
            old = self._client
        if old is not None:
            threading.Thread(target=old.shutdown, name="nor-hz-old-client-shutdown", daemon=True).start()
        self.state.on_lifecycle("DISCONNECTED")
        self._connect()
        self.recreations += 1

    def _renew_client(self, reason: str) -> None:
        """Make before break, for a client that works but cannot reach every member: a second client
        connects in the background and takes over once its listener is registered on every member it
        sees; the old one is then shut down. No DISCONNECTED and no gap in the member view (the same
        members), so no quorum step. A second client that does not get there within
        ``reconnect_bound_s`` of connecting is dropped; the next deaf spell tries again."""
        with self._swap_lock:
            if self._renewing:
                return
            self._renewing = True
            self.renew_attempts += 1
        _log.warning("renewing the hazelcast client: %s", reason)
        threading.Thread(target=self._renew, name="nor-hz-renew", daemon=True).start()

    def _renew(self) -> None:
        with self._swap_lock:
            gen = self._generation + 1   # the generation it owns once it takes over
        alive = lambda: self._generation == gen  # noqa: E731
        client = None
        try:
            client = build_client(self.cfg, async_start=False, lifecycle_listeners=[
                lambda s: alive() and self.state.on_lifecycle(s)])
            reader = HealthReader(client, self.state, self.cfg.map_name, alive)
            deadline = time.monotonic() + self.cfg.reconnect_bound_s
            while reader.deaf_to() and time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(0.05)
            why = reader.deaf_to()
            with self._swap_lock:
                if why or self._stop.is_set() or self._generation != gen - 1:
                    _log.warning("the renewed hazelcast client is dropped: %s", why or "stopped or replaced meanwhile")
                else:
                    self._generation = gen
                    old, self._client, self._reader, self._alive = self._client, client, reader, alive
                    self._attaching, self._deaf_since, self._created_at = False, None, self._clock()
                    client = old
                    self.renewals += 1
        except Exception as exc:  # cluster unreachable, stopped meanwhile: the next deaf spell retries
            _log.warning("renewing the hazelcast client failed: %s", exc)
        finally:
            if client is not None:   # the old client after a take-over, else the dropped new one
                threading.Thread(target=client.shutdown, name="nor-hz-old-client-shutdown", daemon=True).start()
            with self._swap_lock:
                self._renewing = False

    def _needs_replacement(self) -> str | None:
        client = self._client
        if client is not None and not client.lifecycle_service.is_running():
            return "the client shut itself down"
        down_s = self.state.disconnected_for()
        since_created = self._clock() - self._created_at
        if down_s is not None and down_s > self.cfg.reconnect_bound_s and since_created > self.cfg.reconnect_bound_s:
            return f"disconnected for {down_s:.1f} s > bound {self.cfg.reconnect_bound_s:g} s"
        return None

    # ------------------------------------------------------------ periodic work
    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception:  # the watchdog thread must survive any client failure
                _log.exception("health service tick failed")

    def tick(self) -> None:
        """One probe, one near-cache refresh, one reconnect check, one invariant check."""
        reason = self._needs_replacement()
        if reason is not None:
            self._replace_client(reason)
        connected = self.state.snapshot().connected
        if connected:
            self._attach_reader()
        reader = self._reader
        if reader is not None and connected:
            reader.probe()
            reader.refresh_async(self._keys)
            self._keep_listening(reader)
        self.watchdog.check()

    def _keep_listening(self, reader: HealthReader) -> None:
        """Re-register the entry listener once it has been off for ``reconnect_bound_s`` while
        connected (the pinned client never retries a failed registration; see ``relisten``), or
        renew the client (:meth:`_renew_client`) when a member in view has had no connection for that
        long: the pinned client waits forever on an authentication that is never answered, so that
        member's events (and its share of the sequence checks) would stay unseen."""
        why = reader.deaf_to()
        if not why or why == PENDING:   # a pending registration ends by the invocation timeout
            self._deaf_since = None
            return
        now = self._clock()
        if self._deaf_since is None:
            self._deaf_since = now
            return
        deaf_s = now - self._deaf_since
        if deaf_s <= self.cfg.reconnect_bound_s:
            return
        self._deaf_since = None
        if why.startswith(NO_CONNECTION):
            self._renew_client(f"{why} for {deaf_s:.1f} s")
            return
        _log.warning("re-registering the entry listener: %s for %.1f s", why, deaf_s)
        reader.relisten()
        self.relistens += 1


def health_source_from_env(env: Mapping[str, str] | None = None, **kwargs) -> HazelcastHealthService:
    """A started health service configured from ``NOR_HZ_*`` (and the TOML file ``NOR_HZ_CONFIG``).

    The returned service is a ``SignalSource``; call ``stop()`` when done.
    """
    import os

    from .config import load_hz_config

    env = os.environ if env is None else env
    cfg = load_hz_config(env.get("NOR_HZ_CONFIG") or None, env)
    return HazelcastHealthService(cfg, **kwargs).start()
