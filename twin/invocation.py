"""Writes that cannot reach their partition owner yet: retried as the Hazelcast client retries.

A put whose owner is dead but not yet detected, unreachable, migrating, or behind a link that is
down does not vanish: the client retries it every ``invocation_retry_pause_s`` until
``invocation_timeout_s`` after it was first sent, then gives up (``on_fail``). A put the owner
refuses (split-brain protection: the owner's side has no quorum) fails at once. One retry queue
per writer (node and link): a single timer event per writer, however many puts wait, and the
puts of one writer reach the grid in the order they were sent (one TCP connection).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster
    from .network import Link
    from .rng import DrawBuffer

__all__ = ["Retries", "ROUTE_OK", "ROUTE_REFUSED", "ROUTE_RETRY"]

ROUTE_OK, ROUTE_REFUSED, ROUTE_RETRY = 1, 0, -1


class _Put:
    __slots__ = ("key", "record", "origin_t", "first_s", "next_s", "on_fail")

    def __init__(self, key: str, record: Any, origin_t: float, first_s: float, next_s: float,
                 on_fail: Callable[[], None] | None) -> None:
        self.key = key
        self.record = record
        self.origin_t = origin_t
        self.first_s = first_s
        self.next_s = next_s
        self.on_fail = on_fail


class _Queue:
    __slots__ = ("node", "link", "draw", "puts", "armed_at", "last_arrival", "mixed")

    def __init__(self, node: str, link: "Link", draw: "DrawBuffer | None") -> None:
        self.node = node
        self.link = link
        self.draw = draw
        self.puts: deque[_Put] = deque()
        self.armed_at = -1.0
        self.last_arrival = -1e300
        self.mixed = False              # puts of more than one key wait (the journal)


class Retries:
    """Pending puts of every writer, retried on the client's pause until its invocation timeout."""

    def __init__(self, cluster: "Cluster", now: Callable[[], float],
                 call_later: Callable[[float, Callable[[], None]], None]) -> None:
        self._cluster = cluster
        self._now = now
        self._later = call_later
        self._pause = cluster.cfg.invocation_retry_pause_s
        self._timeout = cluster.cfg.invocation_timeout_s
        self._queues: dict[tuple[str, str], _Queue] = {}

    def add(self, key: str, node: str, link: "Link", record: Any, send_t: float, origin_t: float,
            draw: "DrawBuffer | None", on_fail: Callable[[], None] | None) -> None:
        """A put first sent at ``send_t`` found no owner to take it: retry it after the pause."""
        q = self._queues.get((node, link.name))
        if q is None:
            q = self._queues[(node, link.name)] = _Queue(node, link, draw)
        if q.puts and q.puts[-1].key != key:
            q.mixed = True
        q.puts.append(_Put(key, record, origin_t, send_t, send_t + self._pause, on_fail))
        self._arm(q, send_t + self._pause)

    def retract(self, key: str, after_t: float) -> None:
        """Forget pending puts of ``key`` captured after ``after_t`` (a batched publisher re-plans them)."""
        for q in self._queues.values():
            if q.puts and any(p.key == key and p.origin_t > after_t for p in q.puts):
                q.puts = deque(p for p in q.puts if not (p.key == key and p.origin_t > after_t))

    def pending(self) -> int:
        return sum(len(q.puts) for q in self._queues.values())

    def _arm(self, q: _Queue, at: float) -> None:
        now = self._now()
        at = max(at, now)
        if q.armed_at >= now and q.armed_at <= at:
            return
        q.armed_at = at
        self._later(at - now, lambda: self._fire(q, at))

    def _fire(self, q: _Queue, at: float) -> None:
        if q.armed_at != at:
            return
        q.armed_at = -1.0
        now = self._now()
        cluster = self._cluster
        puts = q.puts
        while puts and now - puts[0].first_s >= self._timeout:
            self._fail(puts.popleft())
        if not puts:
            q.mixed = False
            return
        if not q.mixed and cluster.route(puts[0].key, q.node, q.link) == ROUTE_RETRY:
            self._arm(q, now + self._pause)          # one key, still nowhere to go: wait on
            return
        routes: dict[str, int] = {}
        keep: deque[_Put] = deque()
        for p in q.puts:
            if p.next_s > now:
                keep.append(p)
                continue
            if now - p.first_s >= self._timeout:
                self._fail(p)
                continue
            route = routes.get(p.key)
            if route is None:
                route = routes[p.key] = cluster.route(p.key, q.node, q.link)
            if route == ROUTE_RETRY:
                p.next_s = now + self._pause
                keep.append(p)
                continue
            if route == ROUTE_REFUSED:
                self._fail(p)
                continue
            d = q.link.invoke_s(q.draw, self._timeout - (now - p.first_s), self._pause)
            if d is None:
                self._fail(p)
                continue
            q.last_arrival = max(q.last_arrival, now + d)     # in send order on the writer's connection
            cluster.store(p.key, q.last_arrival, p.origin_t, p.record)
        q.puts = keep
        if keep:
            self._arm(q, min(p.next_s for p in keep))
        else:
            q.mixed = False

    def _fail(self, p: _Put) -> None:
        if p.on_fail is not None:
            p.on_fail()
