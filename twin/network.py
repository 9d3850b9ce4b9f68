"""Named links between nodes, and network partitions between groups of nodes.

A message crosses a link if the link is up, both ends are in the same partition group and the
loss draw spares it; it then takes ``latency_ms + jitter_ms * Exp(1)`` milliseconds. The link and
partition state at send time decides (messages already in flight are delivered).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from .config import LinkConfig
from .errors import TwinError
from .rng import DrawBuffer
from .validate import number

__all__ = ["Link", "Network"]


class Link:
    """One named link. Its fault port is :class:`twin.ports.LinkPort`."""

    __slots__ = ("name", "latency_ms", "jitter_ms", "loss_ratio", "is_up", "_draw", "_changed", "_base_s",
                 "_jitter_s")

    def __init__(self, name: str, cfg: LinkConfig, draw: DrawBuffer, changed: Callable[[str, str, dict], None]):
        self.name = name
        self._draw = draw
        self._changed = changed
        self.is_up = True
        self.loss_ratio = cfg.loss_ratio
        self.latency_ms = cfg.latency_ms
        self.jitter_ms = cfg.jitter_ms
        self._base_s = cfg.latency_ms / 1000.0
        self._jitter_s = cfg.jitter_ms / 1000.0

    # -- fault port -------------------------------------------------------------------------
    def set_latency(self, latency_ms: float, jitter_ms: float | None = None) -> None:
        """Set the mean base latency (and optionally the jitter), in milliseconds."""
        method = f"link.{self.name}.set_latency"
        latency = number(method, "latency_ms", latency_ms, 0.0)
        jitter = self.jitter_ms if jitter_ms is None else number(method, "jitter_ms", jitter_ms, 0.0)
        self.latency_ms, self.jitter_ms = latency, jitter
        self._base_s, self._jitter_s = self.latency_ms / 1000.0, self.jitter_ms / 1000.0
        self._changed("link_latency", self.name, {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms})

    def set_loss(self, ratio: float) -> None:
        """Drop each message with probability ``ratio``."""
        self.loss_ratio = number(f"link.{self.name}.set_loss", "ratio", ratio, 0.0, 1.0)
        self._changed("link_loss", self.name, {"loss_ratio": self.loss_ratio})

    def down(self) -> None:
        self.is_up = False
        self._changed("link_down", self.name, {})

    def up(self) -> None:
        self.is_up = True
        self._changed("link_up", self.name, {})

    # -- use --------------------------------------------------------------------------------
    def delay_s(self, draw: DrawBuffer | None = None) -> float | None:
        """Transit time of one message sent now, or None if it is lost (down or loss draw).

        ``draw``: the caller's own random stream; a link shared by several users gives each its
        own, so one user's message count never shifts another's latencies (default: the link's).
        """
        if not self.is_up:
            return None
        rng = self._draw if draw is None else draw
        if self.loss_ratio > 0.0 and rng.uniform() < self.loss_ratio:
            return None
        if self._jitter_s > 0.0:
            return self._base_s + self._jitter_s * rng.exponential()
        return self._base_s

    def invoke_s(self, draw: DrawBuffer | None, timeout_s: float, pause_s: float) -> float | None:
        """Time until a request sent now gets through, retried as the client retries; None if it times out.

        A lost attempt costs the transit the client waited for in vain plus ``pause_s`` (the
        client's invocation retry pause), then the request is sent again, until ``timeout_s``
        has passed (the invocation timeout): a lost message is never faster than a delivered one.
        A link that is down fails at once (None): the caller retries when the state may have changed.
        """
        if not self.is_up:
            return None
        rng = self._draw if draw is None else draw
        if self.loss_ratio <= 0.0:          # nothing is lost: one transit (the loop below would give the same)
            return self._base_s + self._jitter_s * rng.exponential() if self._jitter_s > 0.0 else self._base_s
        waited = 0.0
        while True:
            lost = self.loss_ratio > 0.0 and rng.uniform() < self.loss_ratio
            d = self._base_s + self._jitter_s * rng.exponential() if self._jitter_s > 0.0 else self._base_s
            if not lost:
                return waited + d
            waited += d + pause_s
            if waited >= timeout_s:
                return None

    def transits(self, draw: DrawBuffer | None, n: int) -> tuple[list[float], list[tuple]] | None:
        """Transit times of ``n`` messages sent now on a link that is up and loses nothing, with the draw
        stream's mark before each: what ``n`` calls of :meth:`delay_s` (or :meth:`invoke_s`) would give.
        None if the link is down or lossy (the caller sends one by one)."""
        if not self.is_up or self.loss_ratio > 0.0:
            return None
        rng = self._draw if draw is None else draw
        if self._jitter_s > 0.0:
            exps, marks = rng.exponentials(n)
            base, jitter = self._base_s, self._jitter_s
            return [base + jitter * e for e in exps], marks
        return [self._base_s] * n, [rng.mark()] * n

    @property
    def draw(self) -> DrawBuffer:
        """The link's own random stream (used by callers that pass no stream of their own)."""
        return self._draw

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms + self.jitter_ms


class Network:
    """Node reachability under partitions. Its fault port is :class:`twin.ports.NetworkPort`."""

    def __init__(self, nodes: Iterable[str], changed: Callable[[str, str, dict], None]) -> None:
        self.nodes = tuple(nodes)
        self._group: dict[str, int] = {}
        self._changed = changed
        self.partitioned = False

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        """Split the network: nodes in different groups cannot reach each other.

        Node names may end with ``*`` to match a prefix (``"sensor.*"``, ``"hz*"``). Nodes in no
        group form one more group together.
        """
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
            raise TwinError(f"network.partition: groups must be a list of lists of node names, got {groups!r}")
        mapping: dict[str, int] = {}
        for gi, group in enumerate(groups):
            if isinstance(group, (str, bytes)) or not isinstance(group, Sequence):
                raise TwinError(f"network.partition: groups[{gi}] must be a list of node names, got {group!r}")
            for pattern in group:
                if not isinstance(pattern, str) or not pattern:
                    raise TwinError(f"network.partition: groups[{gi}] must hold node names (strings), "
                                    f"got {pattern!r}")
                matched = [n for n in self.nodes if n == pattern or
                           (pattern.endswith("*") and n.startswith(pattern[:-1]))]
                if not matched:
                    raise TwinError(f"network.partition: no node matches {pattern!r}; nodes: {', '.join(self.nodes)}")
                for n in matched:
                    if n in mapping and mapping[n] != gi:
                        raise TwinError(f"network.partition: node {n!r} is in two groups")
                    mapping[n] = gi
        self._group = mapping
        self.partitioned = True
        self._changed("network_partition", "network",
                      {"groups": [sorted(n for n, g in mapping.items() if g == gi) for gi in range(len(groups))]})

    def heal(self) -> None:
        self._group = {}
        self.partitioned = False
        self._changed("network_heal", "network", {})

    def group_of(self, node: str) -> int:
        return self._group.get(node, -1)

    def can_reach(self, a: str, b: str) -> bool:
        if not self._group:
            return True
        return self._group.get(a, -1) == self._group.get(b, -1)
