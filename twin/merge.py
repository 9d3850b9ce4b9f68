"""Split-brain merge rounds: how the sides of a healed partition find each other again.

Hazelcast does not merge when a partition heals. Every member runs a split-brain check on a fixed
grid (``hazelcast.merge.first.run.delay.seconds`` after it started, then every
``hazelcast.merge.next.run.delay.seconds``); only a side's master (its oldest member) acts on it, and a
tick that comes while its previous check still runs is skipped. A check goes through the other
members' addresses one at a time, in an order of its own (a hash set's), its own side's excepted: a
dead member refuses at once; one it cannot reach holds the check for the connection wait
(``merge_connect_timeout_s``: Hazelcast's fixed 5 s) unless that member connects to it meanwhile (the
wait polls for any connection to the address, so another master's check that reaches this member
ends it); one it reaches answers for its side only if it is that side's master and not merging itself
(``SplitBrainMergeValidationOp``: "Ignoring join check ... because this node is not master"). If the
answering side is larger (equal: its master's address sorts first), the check's side merges into it:
its members leave their side and join the other, ``merge_join_s`` later, as its youngest members —
unless its side's member list changed since the check started (a join into it, a member lost): then
Hazelcast drops the merge (``prepareClusterState`` compares the member-list version the check started
with) and the check ends; the next tick checks again. So
while the network is cut, a side's master spends its checks waiting on unreachable addresses, and
after a heal the merge comes when the check in progress gets past the address it is waiting on, when
that address connects first, or at a later tick — not at a fixed delay after the heal.

A member that finds its master gone must claim mastership before it checks: it asks the members it
has not suspected for their member lists. Members suspect in age order, so it still asks the younger
members of its old side; one it cannot reach holds the claim for ``fetch_member_list_s`` (Hazelcast's
fixed ``FETCH_MEMBER_LIST_MILLIS``, 5 s); the youngest, having suspected every older member first, claims at once. The members of a
side keep their old member list until its claim ends: the new master publishes the new one then (so a
client listening on such a member hears of the loss at the claim's end, :mod:`twin.cluster`).

The twin holds each member's grid. The members the world starts with were started some unknown time
before the world starts, each at its own instant: each member's phase is drawn from the seed on its own
(uniform over one period, stream ``cluster.merge_rounds``). Even members started one at a time, each
once the previous had joined, are spaced by their start-ups, which vary by more than a period (1.3-7.1 s
measured on the fidelity bench's clusters). Pooled over ten real clusters (100 heals) against the bench's
cut/heal script played in 300 seeded worlds, these draws give first merge 2.32 s and all merged 6.59 s
(real 1.97 / 5.23 s, 90 % cluster-bootstrap interval 1.51-3.03 / 4.04-7.40 s: ten layouts decide the real
pool), where one phase for member 0 and the others ``restart_join_s`` behind it gave 2.59 / 5.99 s. A restarted member's
ticks start ``merge_first_run_delay_s`` after its restart. A merge joins ``merge_join_s`` after the
decision, however close behind another join into the same side: Hazelcast 5.7's master handles a join
request at once (``hazelcast.async.join.strategy.enabled``, on by default: the batching wait of
``hazelcast.wait.seconds.before.join`` belongs to the old synchronous strategy, and the async one only
delays migrations; a request is dropped only in the milliseconds another join is being applied, a race
the twin does not play). A joiner whose target is itself merging loses its connection to it
(its own reset closes it; the target resets too) and sends its request once it has reconnected, which the
members' logs show within about 20 ms of the target's own join (fidelity bench, 10 such follows: the first request
went out 41-160 ms after the joiner's decision, and the target had joined by then, or 3-6 ms later, in 7
of them); the twin sends it at the target's join, and the target redirects it to its new master. A
request that still finds its target merging (not joined: dropped; the other 3 follows) is sent again
``merge_join_wait_s`` later (``TcpIpJoiner``'s fixed 1 s between join requests): the twin plays the majority,
the request at the target's first join try, so it re-sends only when that try did not join the target (its
own target was merging too). (A joiner's ``MERGED`` event
can come 1 s after its join, when it finds no connection yet to another member of its new side and
sleeps before checking again: its member list, and so every member's view, already has it.) The
members' addresses are ports picked at start, so their sort order (which of two equal
sides merges) and the checks' order are drawn from the same stream too. Checks run only while the
members see more than one side, so a world without a split holds no merge events.

A :class:`MergeLayout` replaces those draws with given grids, address ranks, check order and ages (the
fidelity bench plays a real cluster's, read from its members' logs); default worlds never take one. A
layout may also give each member's own detection lag: real members notice a silent peer each at its own
heartbeat check, 0.3-1.0 s apart in the fidelity bench's logs (the checks run once a second, each at its
own phase), and a member acts on a split (checks, claims, publishes its list) only from
its own detection — a tick a few ms before it finds its member list still whole and does nothing. Default
worlds detect a split at one instant for every member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import TwinError

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster
    from .config import ClusterConfig
    from .rng import Streams

__all__ = ["MergeRounds", "MergeLayout"]


@dataclass(frozen=True)
class MergeLayout:
    """A cluster's merge layout, per member index: the first instant of its merge-tick grid (s, world
    time), its address's rank in the sort order (0 sorts first: of two equal sides, the other merges
    into it), its address's place in the checks' order, and its age (0 the oldest: the master)."""

    first_tick_s: tuple[float, ...]
    address_rank: tuple[int, ...]
    check_order: tuple[int, ...]
    age: tuple[int, ...]
    detection_lag_s: tuple[float, ...] = ()   # each member's detection after the split's (s; (): none)

    def validate(self, n: int) -> None:
        """Raise :class:`TwinError` unless every field has one entry per member (``n``; the detection lags
        may be empty), the grid starts and lags are finite and not negative, and ranks, order and ages are
        each a permutation of ``0..n-1``."""
        for name in ("first_tick_s", "address_rank", "check_order", "age", "detection_lag_s"):
            got = len(getattr(self, name))
            if got != n and not (name == "detection_lag_s" and got == 0):
                raise TwinError(f"merge layout: {name}: expected {n} entries (one per member), got {got}")
        for name in ("first_tick_s", "detection_lag_s"):
            if not all(math.isfinite(t) and t >= 0.0 for t in getattr(self, name)):
                raise TwinError(f"merge layout: {name}: expected finite values >= 0, got {getattr(self, name)}")
        for name in ("address_rank", "check_order", "age"):
            if sorted(getattr(self, name)) != list(range(n)):
                raise TwinError(f"merge layout: {name}: expected a permutation of 0..{n - 1}, got {getattr(self, name)}")


class MergeRounds:
    """The members' split-brain merge checks (see the module docstring)."""

    def __init__(self, cfg: "ClusterConfig", cluster: "Cluster", now: Callable[[], float],
                 call_later: Callable[[float, Callable[[], None]], None], record: Callable[..., None],
                 streams: "Streams | None" = None, layout: MergeLayout | None = None) -> None:
        self.cfg = cfg
        self._cluster = cluster
        self._now = now
        self._later = call_later
        self._record = record
        n = len(cluster.names)
        period = cfg.merge_next_run_delay_s
        if streams is not None:     # each member's grid phase on its own (see the module docstring)
            gen = streams.generator("cluster.merge_rounds")
            self._first = [float(x) for x in gen.uniform(0.0, period, n)]
            self._rank = [int(r) for r in gen.permutation(n)]
            self._order = [int(r) for r in gen.permutation(n)]
        else:                       # no seed: started one at a time, each once the previous had joined
            self._first = [i * cfg.restart_join_s for i in range(n)]
            self._rank = list(range(n))
            self._order = list(range(n))
        # join order: a side's master is its oldest member; joiners and restarted members are youngest
        self._age = list(range(n))
        self._next_age = n
        self._master_was: list[int] = [0] * n   # each member's master at the last plan
        self._claimed_at: dict[int, float] = {}  # a new master acts from its claim's end
        # a check waiting on an address: member -> (address, wait id, the check's addresses, its index)
        self._waits: dict[int, tuple[int, int, list[int], int]] = {}
        self._wait_ids = 0
        self._running = [False] * n     # member m has a tick scheduled or a check in progress
        self._merging: set[int] = set()
        self._list_at_check: dict[int, frozenset[int]] = {}   # a check's side at its start
        self._merge_done: dict[int, float] = {}  # a merging member -> when its join is done
        self._rejoin_at: dict[int, float] = {}   # a merging member -> its first join try (others reconnect then)
        self._lag: tuple[float, ...] = ()        # per-member detection lags (a layout's; none by default)
        self._detected_at: dict[int, float] = {}  # member -> its own detection of the last split
        if layout is not None:
            self.apply_layout(layout)

    def apply_layout(self, layout: MergeLayout) -> None:
        """Play ``layout``'s grids, ranks, check order and ages instead of the drawn ones (before any
        merge activity: a world that has not yet run)."""
        n = len(self._cluster.names)
        layout.validate(n)
        if self._now() > 0.0 or any(self._running) or self._claimed_at:
            raise TwinError("merge layout: expected a world that has not run yet")
        self._first = list(layout.first_tick_s)
        self._rank = list(layout.address_rank)
        self._order = list(layout.check_order)
        self._age = list(layout.age)
        self._master_was = [self._age.index(0)] * n
        self._lag = tuple(layout.detection_lag_s)

    def split_detected(self) -> None:
        """The members detect a split now (the heartbeat timeout): each at its own lag, if the layout gives
        lags (it acts on the split from then on: :meth:`detected_s`)."""
        if self._lag:
            now = self._now()
            self._detected_at = {m: now + lag for m, lag in enumerate(self._lag)}

    def detected_s(self, m: int) -> float:
        """When member ``m`` itself detected the last split (-inf: with the split, or no lags)."""
        return self._detected_at.get(m, -math.inf)

    def restarted(self, m: int) -> None:
        """Member ``m`` is a new process: its ticks start ``merge_first_run_delay_s`` from now."""
        self._first[m] = self._now() + self.cfg.merge_first_run_delay_s
        self._age[m] = self._next_age
        self._next_age += 1
        self._master_was[m] = m                 # a new process: no master to lose, no claim

    def next_tick_s(self, m: int, after: float, strict: bool = False) -> float:
        """Member ``m``'s first tick at or after ``after`` (``strict``: after it)."""
        first, period = self._first[m], self.cfg.merge_next_run_delay_s
        if after < first or (after == first and not strict):
            return first
        k = max(0, math.floor((after - first) / period))
        t = first + k * period
        # the division can round down a whole period: step on until the tick is at (or after) ``after`` —
        # a strict tick equal to ``after`` would run again at the same instant, for ever
        while t < after or (strict and t <= after):
            k += 1
            t = first + k * period
        return t

    def check_order(self, m: int) -> list[int]:
        """The order in which member ``m``'s checks go through the other members' addresses."""
        return sorted((x for x in range(len(self._order)) if x != m), key=lambda x: self._order[x])

    def plan(self) -> None:
        """Start the checks of every side's master (while the members see more than one side)."""
        masters = self._masters()
        now = self._now()
        self._claims(masters, now)
        if len(masters) < 2:
            return
        for m in masters:
            if not self._running[m]:
                self._running[m] = True
                start = max(now, self._claimed_at.get(m, now), self.detected_s(m))
                self._later(self.next_tick_s(m, start) - now, lambda m=m: self._tick(m))

    def _claims(self, masters: list[int], now: float) -> None:
        """A member that finds its master gone claims mastership of its side: it asks the members it has
        not suspected for their member lists. Members are checked in age order, so it suspects the old
        master first and still asks the younger members of its old side; one it cannot reach holds the
        claim for ``fetch_member_list_s`` (the youngest, having suspected every older member, claims
        at once). Only then is it master (and checks)."""
        c = self._cluster
        was = list(self._master_was)
        for m in masters:
            old = was[m]
            if old != m and (not c.alive[old] or c.side_id(old) != c.side_id(m)):
                asked = [y for y in range(len(c.names)) if was[y] == old and self._age[y] > self._age[m]
                         and c.alive[y] and c.side_id(y) != c.side_id(m)]
                self._claimed_at[m] = (max(now, self.detected_s(m))
                                       + (self.cfg.fetch_member_list_s if asked else 0.0))
        for m in range(len(c.names)):
            if c.alive[m]:
                self._master_was[m] = self._master_of(m)

    def update_claims(self) -> None:
        """Start the mastership claims of the members that find their master gone now (see :meth:`_claims`)."""
        self._claims(self._masters(), self._now())

    def claim_end_s(self, m: int) -> float:
        """When the mastership claim of member ``m``'s side ends (-inf: none): until then its members keep
        their old member list (the new master publishes the new one at the claim's end)."""
        return self._claimed_at.get(self._master_of(m), -math.inf)

    def settled_s(self) -> float:
        """When the last pending mastership claim (or a member's own detection) ends: every side has a
        master then."""
        return max(max(self._claimed_at.values(), default=-math.inf),
                   max(self._detected_at.values(), default=-math.inf))

    def _masters(self) -> list[int]:
        """The master of every side (its oldest live member: the earliest to join it), in index order."""
        c = self._cluster
        oldest: dict[int, int] = {}
        for m in range(len(c.names)):
            if c.alive[m]:
                o = oldest.get(c.side_id(m))
                if o is None or self._age[m] < self._age[o]:
                    oldest[c.side_id(m)] = m
        return sorted(oldest.values())

    def _master_of(self, m: int) -> int:
        return min(self._side(m), key=lambda x: self._age[x])

    def _side(self, m: int) -> list[int]:
        c = self._cluster
        return [x for x in range(len(c.names)) if c.alive[x] and c.side_id(x) == c.side_id(m)]

    def _active(self, m: int) -> bool:
        masters = self._masters()
        now = self._now()
        return (len(masters) >= 2 and m in masters and m not in self._merging
                and self._claimed_at.get(m, -math.inf) <= now and self.detected_s(m) <= now)

    def _tick(self, m: int) -> None:
        """A tick of member ``m``: a check over the addresses outside its side, if it is still a master."""
        if not self._active(m):
            self._running[m] = False
            return
        c = self._cluster
        mine = c.side_id(m)
        self._list_at_check[m] = frozenset(self._side(m))
        self._check(m, [x for x in self.check_order(m) if c.side_id(x) != mine], 0)

    def _check(self, m: int, addresses: list[int], i: int) -> None:
        """Member ``m``'s check from ``addresses[i]`` on: wait on an unreachable one, merge into a side it
        should merge into, else on to the next; at the end, the next tick after now."""
        c = self._cluster
        while self._active(m) and i < len(addresses):
            x = addresses[i]
            i += 1
            if not c.alive[x] or c.side_id(x) == c.side_id(m):
                continue                        # refused at once / joined us meanwhile
            if not c.reaches(m, x):
                self._wait(m, x, addresses, i - 1)
                return
            if self._connected(m, x):
                continue                        # x, crossing our check, merges into us: it answered before
            if x in self._merging:              # it answers (nothing) once its merge is done: on from there
                self._later(max(0.0, self._merge_done[x] - self._now()), lambda: self._check(m, addresses, i))
                return
            if x != self._master_of(x):
                continue                        # only a master answers a join check
            if self._merges_into(m, x):
                if not self._list_changed(m):
                    self._merge(m, x)
                    self._running[m] = False
                    return
                break                           # the merge is dropped: the check ends
        if not self._active(m):
            self._running[m] = False
            return
        now = self._now()
        self._later(self.next_tick_s(m, now, strict=True) - now, lambda: self._tick(m))

    def _wait(self, m: int, x: int, addresses: list[int], i: int) -> None:
        """``m``'s check waits for a connection to ``x`` (``addresses[i]``): ``merge_connect_timeout_s``,
        unless ``x`` connects to ``m`` first (:meth:`_connected`)."""
        self._wait_ids += 1
        wid = self._wait_ids
        self._waits[m] = (x, wid, addresses, i)
        self._later(self.cfg.merge_connect_timeout_s, lambda: self._waited(m, wid, i + 1))

    def _waited(self, m: int, wid: int, i: int) -> None:
        wait = self._waits.get(m)
        if wait is None or wait[1] != wid:
            return                              # ended early by a connection from the address
        del self._waits[m]
        self._check(m, wait[2], i)

    def _connected(self, m: int, x: int) -> bool:
        """``m``'s check has opened a connection to ``x``; a check of ``x`` waiting for a connection to ``m``
        finds it now (Hazelcast's wait polls for any connection to the address, its own or accepted). The
        two checks cross: ``x`` asks ``m`` now, before ``m`` decides on ``x`` — each answers as it is before
        either merges — so ``x`` merges into ``m`` at once if it should (True), else goes on past ``m``."""
        wait = self._waits.get(x)
        if wait is None or wait[0] != m:
            return False
        del self._waits[x]
        if m == self._master_of(m) and m not in self._merging and self._merges_into(x, m):
            if not self._list_changed(x):
                self._merge(x, m)
                self._running[x] = False
                return True
            now = self._now()                   # the merge is dropped: x's check ends
            self._later(self.next_tick_s(x, now, strict=True) - now, lambda: self._tick(x))
            return False
        self._later(0.0, lambda: self._check(x, wait[2], wait[3] + 1))
        return False

    def _list_changed(self, m: int) -> bool:
        """``m``'s side is no longer the one its check started with: Hazelcast drops the merge
        (``TcpIpJoiner.searchForOtherClusters`` hands the member-list version of the check's start to
        ``AbstractJoiner.prepareClusterState``, which refuses to freeze the side's state for a merge once
        the version differs) and the check ends: the master checks again at its next tick."""
        return self._list_at_check.get(m) != frozenset(self._side(m))

    def _merges_into(self, m: int, x: int) -> bool:
        """``m``'s side merges into ``x``'s: it is larger, or as large with a master whose address sorts first."""
        mine, theirs = len(self._side(m)), len(self._side(x))
        return theirs > mine or (theirs == mine and self._rank[self._master_of(x)] < self._rank[self._master_of(m)])

    def _merge(self, m: int, x: int) -> None:
        c = self._cluster
        members = self._side(m)
        self._merging.update(members)
        into = self._master_of(x)
        join_s = self.cfg.merge_join_s      # the master handles a join at once (see the module docstring)
        self._merge_done.update((y, self._now() + join_s) for y in members)
        self._rejoin_at.update((y, self._now() + join_s) for y in members)
        self._record("merge_round", c.names[m], {"into": c.names[into]})
        self._later(join_s, lambda: self._joined(members, x))

    def _joined(self, members: list[int], target: int, reconnected: bool = False) -> None:
        """The merging members' join requests reach ``target``: they join the side it is on now (those that
        still reach it). To a ``target`` merging itself their request goes out once they have reconnected
        to it, at its own first join try (module docstring): if it has joined by then it redirects them to
        its new master; if it is still merging it drops the request, sent again ``merge_join_wait_s``
        later, until it has joined."""
        if target in self._merging and target not in members:
            now = self._now()
            if not reconnected:     # at that instant, after the target's own try (events at one instant run in order)
                at = max(now, self._rejoin_at.get(target, now))
                self._merge_done.update((y, at) for y in members)
                self._later(at - now, lambda: self._joined(members, target, True))
                return
            retry_s = self.cfg.merge_join_wait_s or max(0.0, self._merge_done[target] - now)
            self._merge_done.update((y, now + retry_s) for y in members)
            self._later(retry_s, lambda: self._joined(members, target, True))
            return
        self._merging.difference_update(members)
        c = self._cluster
        joining = [m for m in members if c.alive[m] and c.alive[target] and c.reaches(m, target)]
        for m in sorted(joining, key=lambda x: self._age[x]):
            self._age[m] = self._next_age       # a joiner is the youngest member of its new side
            self._next_age += 1
        if joining:
            c.join_side(joining, target)
        else:
            self.plan()
