"""The Hazelcast model: members, partitions, replicas, failure detection, migration, quorum.

* 271 partitions (configurable), each with an owner and ``backup_count`` backups placed on a ring.
* Crash is not silence. A member killed (SIGKILL) loses its replicas at once and its TCP
  connections are reset, so its peers notice after ``crash_detection_s`` (connection closed, a
  few failed reconnects); a member that falls silent — cut off by a partition (or paused) — is
  noticed only after ``detection_delay_s`` without heartbeats (``max.no.heartbeat``). A crash
  detection acts on the crashes only: a partition not yet noticed stays unnoticed. A detection
  only splits sides; the sides of a healed partition find each other at the split-brain merge
  rounds of :mod:`twin.merge` (a side's master merges it into a larger side at its next round). At each
  detection backups are promoted, partitions with no surviving replica lose their data (a
  partition-lost event invalidates the client's near cache), and backups are re-created after
  ``migration_s``. A restarted member joins after ``restart_join_s``.
* Split-brain protection: the primary side is the largest reachable group of live members; it is
  quorate with at least ``quorum`` members. Writes are rejected unless the key's owner is live,
  reachable from the writer and on a quorate primary side.
* Entry listeners: ``entry_listeners[key]`` fires when any write of ``key`` becomes visible to
  the agent; ``integrity_listeners[key]`` only when a corrupt record, or the first sound record
  after corrupt ones, does.
* The agent sees a write when the owner's entry event (which carries the value, as the Hazelcast
  adapter reads it) crosses ``cluster<->agent`` after the write reached the owner — only if the
  owner can reach the agent then (nothing crosses a cut: a record written while the path is cut
  never reaches the agent, the next one after the heal does), and only while the client is
  connected. A lost event is resent on the client's pause until its invocation timeout, never
  faster than a delivered one. (The near cache's own invalidation, measured slower than the event
  by ``benchmarks/fidelity_bench.py``, is not on this path.)
* Writes that find no owner (dead but not yet detected, unreachable, migrating, link down) are
  retried by the writer's client until its invocation timeout (:mod:`twin.invocation`); a
  write the owner refuses (its side has no quorum) fails at once.
* Each member knows the live members on its side (``member_view``) from its last detection, or,
  while its side's mastership claim runs (:mod:`twin.merge`), its list from before: the new master
  publishes the new list at the claim's end; ``membership_hooks`` are called at every detection and
  claim end (the agent's client hears of it over the link, see :mod:`twin.client`).
Its fault port is :class:`twin.ports.ClusterPort`.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Callable

from .config import ClusterConfig
from .errors import TwinError
from .invocation import ROUTE_OK, ROUTE_REFUSED, ROUTE_RETRY, Retries
from .merge import MergeRounds
from .network import Link, Network
from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .rng import DrawBuffer, Streams

__all__ = ["Cluster", "Record"]


class Record:
    """One value written to the grid by a service: its timestamp (service clock) and payload."""

    __slots__ = ("ts", "payload", "crc", "source", "corrupted", "valid")

    def __init__(self, ts: float, payload: tuple, source: str, corrupt: bool = False) -> None:
        self.ts = ts
        self.source = source
        self.crc = hash(payload)
        if not corrupt:
            self.corrupted = False
            self.payload = payload
            self.valid = True           # the payload is the one its checksum was taken of
            return
        self.corrupted = True
        self.payload = tuple(-v if isinstance(v, float) else v for v in payload)
        if self.payload == payload:
            self.payload = payload + (0.0,)
        self.valid = hash(self.payload) == self.crc     # (payloads are tuples of numbers: immutable)


class Cluster:
    """Member, partition-table and data model of the health grid."""

    def __init__(self, cfg: ClusterConfig, network: Network, agent_link: Link, now: Callable[[], float],
                 call_later: Callable[[float, Callable[[], None]], None],
                 record: Callable[..., None], streams: "Streams | None" = None) -> None:
        self.cfg = cfg
        self._streams = streams
        self._fetch_draws: dict[str, "DrawBuffer | None"] = {}
        self.names = tuple(f"hz{i}" for i in range(cfg.members))
        self.alive = [True] * cfg.members
        self.quorum = cfg.effective_quorum
        self._net = network
        self._agent_link = agent_link
        self._now = now
        self._later = call_later
        self._record = record
        n = cfg.members
        self.replicas = [self._ring(p, list(range(n))) for p in range(cfg.partitions)]
        self.owner = [r[0] for r in self.replicas]
        self.view: tuple[int, ...] = tuple(range(n))
        self._view_set = set(self.view)
        self.quorate = n >= self.quorum
        self._member_views: list[tuple[int, ...]] = [self.view] * n
        self._seen_groups = [0] * n     # each member's side, as the members have noticed it
        self._claim_timers: dict[int, float] = {}   # member -> the end of its side's mastership claim
        self._pid: dict[str, int] = {}
        self.pending: dict[str, list[tuple[float, float, float, Any]]] = {}
        self.data: dict[str, tuple[float, Record]] = {}
        self.near: dict[str, Record | None] = {}
        self._near_arrival: dict[str, float] = {}
        self.lost_keys: list[str] = []
        self.membership_hooks: list[Callable[[], None]] = []
        self.entry_listeners: dict[str, Callable[[], None]] = {}
        self.integrity_listeners: dict[str, Callable[[], None]] = {}
        self._key_corrupt: dict[str, bool] = {}
        self.state_hooks: list[Callable[[], None]] = []
        self.loss_hooks: list[Callable[[list[str]], None]] = []
        self.client_connected = True
        self._epoch = 0
        self.retries = Retries(self, now, call_later)
        self.merges = MergeRounds(cfg, self, now, call_later, record, streams)

    def _ring(self, p: int, members: list[int]) -> list[int]:
        if not members:
            return []
        k = min(len(members), 1 + self.cfg.backup_count)
        start = p % len(members)
        return [members[(start + i) % len(members)] for i in range(k)]

    def partition_id(self, key: str) -> int:
        p = self._pid.get(key)
        if p is None:
            p = self._pid[key] = zlib.crc32(key.encode()) % self.cfg.partitions
        return p

    # -- writes -----------------------------------------------------------------------------
    def writable_owner(self, key: str, src_node: str) -> str | None:
        """The owner member name a write from ``src_node`` would reach now, or None if rejected."""
        owner = self.owner[self.partition_id(key)]
        if owner < 0 or not self.alive[owner] or not self.quorate or owner not in self._view_set:
            return None
        name = self.names[owner]
        return name if self._net.can_reach(src_node, name) else None

    def writable_members(self, src_node: str) -> list[bool]:
        """Per member index: a write from ``src_node`` to a partition it owns reaches it now (what
        :meth:`writable_owner` says of each key whose owner it is, for many keys at once)."""
        if not self.quorate:
            return [False] * len(self.names)
        view, net = self._view_set, self._net
        return [alive and m in view and net.can_reach(src_node, name)
                for m, (alive, name) in enumerate(zip(self.alive, self.names))]

    def route(self, key: str, src_node: str, link: Link) -> int:
        """What a put of ``key`` sent now from ``src_node`` meets: ROUTE_OK (an owner takes it),
        ROUTE_REFUSED (the owner answers with a split-brain-protection refusal) or ROUTE_RETRY (no
        answer: owner dead, unreachable or unknown, or the link down — the client retries)."""
        owner = self.owner[self.partition_id(key)]
        if owner < 0 or not self.alive[owner] or not link.is_up or not self._net.can_reach(src_node, self.names[owner]):
            return ROUTE_RETRY
        if not self.quorate or owner not in self._view_set:
            return ROUTE_REFUSED
        return ROUTE_OK

    def write(self, key: str, src_node: str, link: Link, record: Record, send_t: float,
              origin_t: float | None = None, draw: "DrawBuffer | None" = None,
              on_fail: Callable[[], None] | None = None) -> bool:
        """Send ``record`` for ``key`` at ``send_t`` (now) over ``link``, retried as the client retries.

        Returns False if the owner refuses it (split-brain protection); otherwise the put is in
        flight and ``on_fail`` is called if it is still undelivered at the invocation timeout.
        ``origin_t`` (default ``send_t``) is the capture time that :meth:`retract` compares;
        ``draw`` the writer's own random stream on a shared link (default: the link's).
        """
        origin = send_t if origin_t is None else origin_t
        route = self.route(key, src_node, link)
        if route == ROUTE_REFUSED:
            if on_fail is not None:
                on_fail()
            return False
        if route == ROUTE_RETRY:
            self.retries.add(key, src_node, link, record, send_t, origin, draw, on_fail)
            return True
        d = link.invoke_s(draw, self.cfg.invocation_timeout_s, self.cfg.invocation_retry_pause_s)
        if d is None:
            if on_fail is not None:
                self._later(send_t + self.cfg.invocation_timeout_s - self._now(), on_fail)
            return True
        self.store(key, send_t + d, origin, record)
        return True

    def _to_agent_s(self, key: str, record: Record | None) -> float | None:
        """Entry-event transit for a change of ``key`` now, None if it cannot reach the agent (link
        down, or the owner cut from the agent) or it is still lost at the invocation timeout."""
        link = self._agent_link
        if not link.is_up or self._owner_cut_off(key):
            return None
        source = record.source if record is not None else "<lost>"
        draw = self._fetch_draws.get(source)
        if draw is None:
            draw = self.fetch_draw(source)
        cfg = self.cfg
        return link.invoke_s(draw, cfg.invocation_timeout_s, cfg.invocation_retry_pause_s)

    def store(self, key: str, arrival: float, origin_t: float, record: Record | None) -> None:
        """Apply a write that reaches its owner at ``arrival`` (the agent sees it later, if anything
        of it reaches the agent)."""
        if record is not None:
            self.data[key] = (arrival, record)
        to_agent = self._to_agent_s(key, record)
        if to_agent is None:
            return
        visible = arrival + to_agent
        lst = self.pending.get(key)
        if lst is None:
            lst = self.pending[key] = []
        lst.append((visible, arrival, origin_t, record))
        listener = self.entry_listeners.get(key)
        if listener is None and record is not None and key in self.integrity_listeners:
            # an entry listener that fires only on integrity flips: the first corrupt record and
            # the first sound one after it (every write would cost an event at 10 Hz)
            if record.corrupted or self._key_corrupt.get(key, False):
                self._key_corrupt[key] = record.corrupted
                listener = self.integrity_listeners[key]
        if listener is not None:
            self._later(visible - self._now(), listener)

    def near_path(self, key: str, source: str) -> "tuple[Link, DrawBuffer | None] | None | bool":
        """How sound writes of ``key`` by ``source`` sent now reach the agent, for :meth:`store_batch`:
        ``(link, fetch stream)`` if every one does (a lossless link, the owner reachable), None if none
        does (link down, owner cut off), False if they must be stored one by one (:meth:`store`: a lossy
        link, or a listener that may fire)."""
        if self.entry_listeners.get(key) is not None or self._key_corrupt.get(key, False):
            return False
        link = self._agent_link
        if not link.is_up or self._owner_cut_off(key):
            return None
        if link.loss_ratio > 0.0:
            return False
        return link, self.fetch_draw(source)

    def store_batch(self, key: str, arrivals: list[float], origins: list[float], records: list[Record],
                    fetches: list[float] | None) -> None:
        """:meth:`store` of sound records of ``key`` sent at one instant, on the :meth:`near_path` found for
        them: ``fetches`` are the near-cache fetch times drawn on it (None: nothing reaches the agent)."""
        self.data[key] = (arrivals[-1], records[-1])
        if fetches is None:
            return
        lst = self.pending.get(key)
        if lst is None:
            lst = self.pending[key] = []
        lst.extend([(a + f, a, o, r) for a, o, r, f in zip(arrivals, origins, records, fetches)])

    def _owner_cut_off(self, key: str) -> bool:
        """The owner of ``key``'s partition is on the far side of a partition from the agent."""
        net = self._net
        if not net.partitioned:
            return False
        owner = self.owner[self.partition_id(key)]
        return owner >= 0 and not net.can_reach("agent", self.names[owner])

    def _fetch_draw(self, record: Record | None) -> "DrawBuffer | None":
        return self.fetch_draw(record.source if record is not None else "<lost>")

    def fetch_draw(self, source: str) -> "DrawBuffer | None":
        """The near-cache fetch stream of a record source (one per service, one for the journal)."""
        if source not in self._fetch_draws:
            self._fetch_draws[source] = (self._streams.buffer(f"near_cache.{source}")
                                         if self._streams is not None else None)
        return self._fetch_draws[source]

    def preload(self, key: str, record: Record) -> None:
        """A value already in the grid and in the near cache when the world starts."""
        self.data[key] = (0.0, record)
        self.near[key] = record
        self._near_arrival[key] = 0.0

    def retract(self, key: str, after_t: float) -> None:
        """Forget planned writes of ``key`` captured after ``after_t`` (a batched publisher re-plans)."""
        lst = self.pending.get(key)
        if lst:
            self.pending[key] = [e for e in lst if e[2] <= after_t]
        self.retries.retract(key, after_t)

    # -- near-cache reads ---------------------------------------------------------------------
    def read(self, key: str, now: float) -> Record | None:
        """What the agent's near cache holds for ``key`` at ``now``."""
        lst = self.pending.get(key)
        if lst and self.client_connected:
            arrival = self._near_arrival.get(key, -1e300)
            best = None
            keep = None
            for e in lst:
                if e[0] <= now:
                    if e[1] >= arrival:
                        arrival, best = e[1], e
                else:
                    if keep is None:
                        keep = []
                    keep.append(e)
            if best is not None:
                self.near[key] = best[3]
                self._near_arrival[key] = arrival
            self.pending[key] = keep or []
        return self.near.get(key)

    def present(self, key: str, now: float, reader: str) -> bool:
        """True if ``key`` holds a value at its owner that ``reader`` can read now."""
        item = self.data.get(key)
        if item is None or item[0] > now:
            return False
        return self.writable_owner(key, reader) is not None

    # -- membership -----------------------------------------------------------------------------
    def flows(self) -> list[Flow]:
        """For :mod:`twin.wiring`: each member runs on its network node and tells the client's view about
        membership (the entries it holds are declared by their writers, see :meth:`holders`)."""
        out = []
        for name in self.names:
            out += [Flow(f"node.{name}", f"member.{name}"), Flow(f"member.{name}", "client.view")]
        return out

    def holders(self, key: str) -> tuple[str, ...]:
        """The members holding a copy of ``key``'s partition now (owner first): a write waits for the owner
        (until its loss is detected and a backup takes over) and the entry is lost with all of them."""
        return tuple(self.names[m] for m in self.replicas[self.partition_id(key)])

    def member_index(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.names):
            raise TwinError(f"cluster: member index must be in 0..{len(self.names) - 1}, got {i!r}")
        return i

    def kill_member(self, i: int) -> None:
        """The member process dies now; its replicas are gone and its connections reset: detected
        after ``crash_detection_s``."""
        i = self.member_index(i)
        if not self.alive[i]:
            return
        self.alive[i] = False
        self._record("node_loss", self.names[i], {})
        self._later(self.cfg.crash_detection_s, lambda: self._detect(silence=False))

    def restart_member(self, i: int) -> None:
        """The member starts again, empty; it joins after ``restart_join_s`` (its start-up)."""
        i = self.member_index(i)
        if self.alive[i]:
            return
        self.alive[i] = True
        for reps in self.replicas:
            if i in reps:
                reps.remove(i)
        self._record("node_restart", self.names[i], {})
        self.merges.restarted(i)
        self._later(self.cfg.restart_join_s, lambda: self._join_restarted(i))

    def _join_restarted(self, i: int) -> None:
        """Restarted member ``i`` has started: it joins the side of the first live member it reaches."""
        if not self.alive[i]:
            return
        found = next((m for m in range(len(self.names)) if m != i and self.alive[m] and self.reaches(i, m)), None)
        self._seen_groups[i] = self._seen_groups[found] if found is not None else max(self._seen_groups) + 1
        self._detect()

    def schedule_detection(self) -> None:
        """The network was partitioned (a change noticed only by missing heartbeats): the members split
        after ``detection_delay_s``; sides split earlier may reach each other now (merge rounds)."""
        self._later(self.cfg.detection_delay_s, self._split_detected)
        self.merges.plan()

    def _split_detected(self) -> None:
        self.merges.split_detected()
        self._detect()

    def schedule_merge(self) -> None:
        """The network healed: sides that can reach each other again merge at their merge rounds."""
        self.merges.plan()

    def _group(self, m: int) -> int:
        """Member ``m``'s side of a partition as the members last noticed it."""
        return self._seen_groups[m]

    side_id = _group

    def reaches(self, a: int, b: int) -> bool:
        """Member ``a`` can reach member ``b`` over the network now."""
        return self._net.can_reach(self.names[a], self.names[b])

    def join_side(self, members: list[int], target: int) -> None:
        """A merge: ``members`` have joined ``target``'s side (:mod:`twin.merge`); the members notice it now."""
        for m in members:
            self._seen_groups[m] = self._seen_groups[target]
        self._detect(silence=False)

    def _split_by_silence(self) -> None:
        """A heartbeat-timeout detection: members that can no longer reach each other drop out of each
        other's side (a side never grows here: only a merge joins sides)."""
        fresh: dict[tuple[int, int], int] = {}
        out = []
        for m, name in enumerate(self.names):
            key = (self._seen_groups[m], self._net.group_of(name))
            if key not in fresh:
                fresh[key] = len(fresh)
            out.append(fresh[key])
        self._seen_groups = out

    def _primary_side(self) -> tuple[int, ...]:
        groups: dict[int, list[int]] = {}
        for m in range(len(self.names)):
            if self.alive[m]:
                groups.setdefault(self._group(m), []).append(m)
        if not groups:
            return ()
        return tuple(max(groups.values(), key=lambda g: (len(g), -g[0])))

    def member_view(self, m: int) -> tuple[int, ...]:
        """Member ``m``'s own member list: the live members on its side at its last detection."""
        return self._member_views[m]

    def _detect(self, silence: bool = True) -> None:
        """The members notice what happened: crashes always; partitions and heals only when
        ``silence`` (a heartbeat-timeout detection)."""
        if silence:
            self._split_by_silence()
        self.merges.update_claims()
        self._update_member_views()
        view = self._primary_side()
        changed = view != self.view or self.quorate != (len(view) >= self.quorum)
        self.view, self._view_set = view, set(view)
        self.quorate = len(view) >= self.quorum
        lost = []
        for p, reps in enumerate(self.replicas):
            live = [m for m in reps if self.alive[m]]
            if not live and (reps or self.owner[p] >= 0):
                lost.append(p)
            if not live:
                live = self._ring(p, list(view))[:1]
            inview = [m for m in live if m in self._view_set]
            owner = inview[0] if inview else -1
            self.replicas[p] = ([owner] + [m for m in live if m != owner]) if owner >= 0 else live
            self.owner[p] = owner
        if lost:
            self._lose(lost)
        if changed:
            self._record("membership", "cluster", {"members": [self.names[m] for m in view],
                                                   "quorate": self.quorate})
        self._epoch += 1
        epoch = self._epoch
        self._later(self.cfg.migration_s, lambda: self._migrate(epoch))
        for fn in self.state_hooks:
            fn()
        for fn in self.membership_hooks:
            fn()
        self.merges.plan()

    def _update_member_views(self) -> None:
        """At a detection, each live member's own list becomes the live members on its side — unless its
        side's mastership claim still runs, or it has not detected the split itself yet (a merge layout's
        detection lags): then it keeps the old list until then (:meth:`_claim_over`)."""
        now = self._now()
        for m in range(len(self.names)):
            if self.alive[m]:
                end = max(self.merges.claim_end_s(m), self.merges.detected_s(m))
                if end > now:           # the old list until its master publishes the new one
                    if self._claim_timers.get(m) != end:
                        self._claim_timers[m] = end
                        self._later(end - now, lambda m=m, end=end: self._claim_over(m, end))
                    continue
                self._member_views[m] = self._side_members(m)

    def _side_members(self, m: int) -> tuple[int, ...]:
        group = self._group(m)
        return tuple(x for x in range(len(self.names)) if self.alive[x] and self._group(x) == group)

    def _claim_over(self, m: int, end: float) -> None:
        """The mastership claim of member ``m``'s side ended: the new master publishes its member list."""
        if self._claim_timers.get(m) != end:
            return
        del self._claim_timers[m]
        if not self.alive[m]:
            return
        self._member_views[m] = self._side_members(m)
        for fn in self.membership_hooks:
            fn()

    def _lose(self, partitions: list[int]) -> None:
        lost = set(partitions)
        now = self._now()
        keys = sorted(k for k in set(self.data) | set(self.pending) if self.partition_id(k) in lost)
        for k in keys:
            self.data.pop(k, None)
            self.pending[k] = []
            self.store(k, now, now, None)
            self.data.pop(k, None)
        self.lost_keys.extend(keys)
        self._record("partition_lost", "cluster", {"partitions": len(partitions), "keys": keys})
        for fn in self.loss_hooks:
            fn(keys)

    def _migrate(self, epoch: int) -> None:
        """Re-create backups: a copy is made only from a live owner onto a live member (a member that
        died since the last detection can neither send nor receive one), so a partition whose only
        copy was on a member that died inside the migration window stays with that copy and is lost
        when the death is detected."""
        if epoch != self._epoch:
            return
        view = list(self.view)
        for p, reps in enumerate(self.replicas):
            owner = self.owner[p]
            if owner < 0 or not self.alive[owner]:
                continue
            backups = [m for m in self._backup_ring(p, view) if m != owner and self.alive[m]][: self.cfg.backup_count]
            self.replicas[p] = [owner] + backups
        self._record("migration", "cluster", {"members": [self.names[m] for m in view]})

    def _backup_ring(self, p: int, view: list[int]) -> list[int]:
        if not view:
            return []
        start = p % len(view)
        return [view[(start + i) % len(view)] for i in range(len(view))]

    def replica_count(self) -> tuple[int, int]:
        """(partitions with a live owner, partitions with at least one live backup)."""
        owned = sum(1 for o in self.owner if o >= 0 and self.alive[o])
        backed = sum(1 for r in self.replicas if sum(1 for m in r[1:] if self.alive[m]) > 0)
        return owned, backed
