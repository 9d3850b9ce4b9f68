"""The agent's Hazelcast client: connection lifecycle and its view of the cluster's quorum.

The client heartbeats the members it can reach over ``cluster<->agent``; after
``client_heartbeat_timeout_s`` without a reply it is DISCONNECTED (its near cache stops
updating); it reconnects ``client_reconnect_s`` after a member is reachable again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Client"]


class Client:
    """Connection state machine, checked on every agent tick."""

    def __init__(self, ctx: "Context") -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.cluster
        self.link = ctx.links["cluster<->agent"]
        self.connected = True
        self.last_ok_s = 0.0
        self.reachable_since_s = 0.0
        self._was_reachable = True
        self._draw = ctx.streams.buffer("client.heartbeat")

    def reaches_member(self) -> bool:
        """True if some live member of the cluster's view is reachable from the agent now."""
        cluster = self.ctx.cluster
        net = self.ctx.network
        for m in cluster.view:
            if cluster.alive[m] and net.can_reach("agent", cluster.names[m]):
                return True
        return False

    def check(self, now: float) -> bool:
        """Heartbeat once; returns True if the connection state flipped."""
        reachable = self.link.is_up and self.reaches_member() and self.link.delay_s(self._draw) is not None
        if reachable:
            self.last_ok_s = now
            if not self._was_reachable:
                self.reachable_since_s = now
        self._was_reachable = reachable
        if self.connected and not reachable and now - self.last_ok_s >= self.cfg.client_heartbeat_timeout_s:
            return self._flip(False, now)
        if not self.connected and reachable and now - self.reachable_since_s >= self.cfg.client_reconnect_s:
            return self._flip(True, now)
        return False

    def _flip(self, connected: bool, now: float) -> bool:
        self.connected = connected
        self.ctx.cluster.client_connected = connected
        self.ctx.record("client_connected" if connected else "client_disconnected", "agent", {})
        return True

    def quorum_ok(self) -> bool:
        """What the client reports as ``hz.quorum``: connected to a quorate primary side."""
        return self.connected and self.ctx.cluster.quorate and self.reaches_member()

    def true_quorum(self) -> bool:
        """Ground truth: a quorum of live members is reachable from the agent right now."""
        cluster = self.ctx.cluster
        net = self.ctx.network
        live = sum(1 for m, name in enumerate(cluster.names) if cluster.alive[m] and net.can_reach("agent", name))
        return self.link.is_up and live >= cluster.quorum
