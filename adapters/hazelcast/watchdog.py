"""The watchdog: turns the observed grid state into the controller's signal mapping.

It implements :class:`adapters.source.SignalSource`, so the NautilusTrader actor can use it as its
signal source. Rules (``now_s`` from the same clock the writers stamp records with):

* ``hz.quorum``: 1.0 while the client is connected *and* its member view has at least
  ``min_members`` members; 0.0 from the moment the lifecycle reports DISCONNECTED (with one member
  ``member_removed`` never fires on a fault, so the member count alone would stay 1). This is
  what the twin's client reports (``twin/client.py``: connected and quorate). The flip is an
  invariant change, so subscribers step the controller at once.
* ``heartbeat.age_s``, by ``heartbeat``:

  - ``"contact"`` (default): seconds since the cluster last answered (probe reply or entry event);
    while DISCONNECTED nothing answers, so it grows from the moment of the disconnect;
  - ``"record"``: the age of the agent's own keepalive record (published age plus the time since its
    source timestamp), as the twin's watchdog and DOLPHIN read it: the agent writes a heartbeat into
    the grid and reads it back, so it grows when the agent's heartbeat stops *or* when its round trip
    through the grid fails (no entry event arrives while disconnected); a missing record reads NaN.
* ``data.checksum_ok``: 0.0 while any grid entry failed its checksum or went backwards in
  sequence in the entry events (see :meth:`GridState.accept`), else the published value if a
  sensor publishes it, else 1.0.
* any other ``*.age_s``: published age at the source plus the time since the source timestamp.
* any other signal: the published value. A missing entry reads NaN (the controller's worst case).
"""

from __future__ import annotations

import math
import threading
from typing import Callable, Iterable, Mapping

from .errors import HazelcastAdapterError
from .state import GridSnapshot, GridState

__all__ = ["HealthWatchdog", "DEFAULT_SIGNALS", "DEFAULT_INVARIANTS", "HEARTBEAT_MODES"]

DEFAULT_SIGNALS = (
    "hz.quorum", "ledger.consistent", "data.checksum_ok", "heartbeat.age_s", "mc_forewarner.age_s",
    "scan.age_s", "ob.age_s", "ob.latency_ms", "ob.depth_ratio", "exf.age_s", "exf.shock",
    "esof.age_s", "portfolio.drawdown",
)
DEFAULT_INVARIANTS = frozenset({"hz.quorum", "ledger.consistent", "data.checksum_ok", "heartbeat.age_s"})
HEARTBEAT_MODES = ("contact", "record")
_NAN = float("nan")


class HealthWatchdog:
    """A :class:`~adapters.source.SignalSource` over a :class:`GridState`.

    Args:
        state: the observed grid state.
        signal_names: the signals the controller reads (``controller.signal_names``).
        invariant_signals: signals whose flip triggers an immediate step (``controller.invariant_signals``).
        clock: the wall clock used by :meth:`check` (``signals`` takes ``now_s`` explicitly).
        age_limits_s: optional limits for age invariants (e.g. ``{"heartbeat.age_s": 10.0}``);
            :meth:`check` reports their crossing as an invariant flip.
        heartbeat: ``"contact"`` or ``"record"`` — what ``heartbeat.age_s`` measures (module docstring).
    """

    def __init__(self, state: GridState, signal_names: Iterable[str] = DEFAULT_SIGNALS,
                 invariant_signals: Iterable[str] = DEFAULT_INVARIANTS, *,
                 clock: Callable[[], float], age_limits_s: Mapping[str, float] | None = None,
                 heartbeat: str = "contact") -> None:
        if heartbeat not in HEARTBEAT_MODES:
            raise HazelcastAdapterError(f"heartbeat: expected one of {', '.join(HEARTBEAT_MODES)}, got {heartbeat!r}")
        self.heartbeat = heartbeat
        self._state = state
        self.signal_names = tuple(signal_names)
        self.invariant_signals = frozenset(invariant_signals)
        self._clock = clock
        self._age_limits = dict(age_limits_s or {})
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._last_key: tuple | None = None
        state.subscribe(self.check)

    def on_invariant_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def signals(self, now_s: float) -> Mapping[str, float]:
        snap = self._state.snapshot()
        return {name: self._value(name, snap, now_s) for name in self.signal_names}

    def snapshot(self) -> GridSnapshot:
        return self._state.snapshot()

    def _value(self, name: str, snap: GridSnapshot, now_s: float) -> float:
        if name == "hz.quorum":
            return 1.0 if snap.connected and snap.quorum_ok else 0.0
        if name == "heartbeat.age_s" and self.heartbeat == "contact":
            if snap.last_contact_s is None:
                return _NAN
            since = snap.last_contact_s if snap.connected else min(snap.last_contact_s, snap.disconnected_since_s or now_s)
            return max(0.0, now_s - since)
        rec = snap.records.get(name)
        if name == "data.checksum_ok":
            if not snap.integrity_ok:
                return 0.0
            return 1.0 if rec is None else rec.value
        if rec is None:
            return _NAN
        if name.endswith(".age_s"):
            return rec.value + max(0.0, now_s - rec.source_ts_s)
        return rec.value

    def check(self) -> bool:
        """Re-evaluate the invariants; call the callbacks at once if any flipped. Returns True if so."""
        now_s = self._clock()
        snap = self._state.snapshot()
        key = tuple(self._invariant_ok(name, snap, now_s) for name in sorted(self.invariant_signals))
        key += (snap.connected,)
        with self._lock:
            flipped = self._last_key is not None and key != self._last_key
            self._last_key = key
        if flipped:
            for cb in list(self._callbacks):
                cb()
        return flipped

    def _invariant_ok(self, name: str, snap: GridSnapshot, now_s: float) -> bool:
        value = self._value(name, snap, now_s)
        if math.isnan(value):
            return False
        limit = self._age_limits.get(name)
        if limit is not None:
            return value <= limit
        if name.endswith(".age_s"):
            return True  # no configured limit: only the connection state (in the key) counts
        return value > 0.5
