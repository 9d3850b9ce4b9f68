"""The agent's Hazelcast client: its connections, its member view, and what it reports as quorum.

The client knows only what crossed ``cluster<->agent``: nothing reads the true network or member
state on the agent's behalf.

* **Connections.** A smart client holds one connection per member. Every agent tick it
  heartbeats each open connection; a reply comes back only if the ping crosses the link (up,
  not lost) to a live member it can reach. A connection with no reply for
  ``client_heartbeat_timeout_s`` is closed; one to a crashed member closes at once (its socket
  was reset: the reset crosses the link like any message). The client is connected while any
  connection is open (its near cache updates only then).
* **Reconnect.** A client left with no connection tries the members' addresses one at a time, in
  passes, and the health service replaces a client that gives up or stays disconnected too long
  (:mod:`twin.reconnect`, as the Hazelcast adapter does): a live member it reaches connects
  ``client_reconnect_s`` after the try, a refused try fails at the client's next clean-up run
  (every ``client_connect_attempt_s``), and a try through a cut holds until the cut is healed — so
  a healed agent reconnects at the clean-up run after the heal, at the next address. While
  connected, a lost member's connection is re-opened at a check (every agent tick, as the
  client's 1 s connect-all-members timer) once the member has answered for ``client_reconnect_s``.
* **Member view.** The cluster-view listener sits on one connection (the lowest-index open one).
  When members detect a membership change, the listener's member sends its own member list (the
  live members on its side of any partition) over the link; the client's view changes when that
  event arrives. A newly chosen listener connection sends its list as the registration reply.
* **Quorum.** ``hz.quorum`` is connected and a member view of at least the quorum size — what the
  Hazelcast adapter reports. So a partition that cuts the agent from every member drops it after
  the heartbeat timeout, exactly as ``link_down`` on ``cluster<->agent`` does, and a partition
  that leaves the agent with a minority member drops it when that member's membership event
  arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .reconnect import Reconnect
from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .config import ClusterConfig
    from .context import Context

__all__ = ["Client"]


class Client:
    """Connection and membership state machine of the agent's client."""

    def __init__(self, ctx: "Context") -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.cluster
        self.link = ctx.links["cluster<->agent"]
        cluster = ctx.cluster
        n = len(cluster.names)
        self.open = [True] * n
        self.last_reply_s = [0.0] * n
        self._answering_since: list[float | None] = [None] * n
        self.connected = True
        self.view: tuple[int, ...] = tuple(cluster.view)
        self.listener = 0
        self._view_epoch = 0
        self.on_change: Callable[[], None] = lambda: None
        self._draw = ctx.streams.buffer("client.heartbeat")
        self._event_draw = ctx.streams.buffer("client.membership")
        self._retry_draw = ctx.streams.buffer("client.retry")
        self.reconnect = Reconnect(self)

    def flows(self) -> list[Flow]:
        """For :mod:`twin.wiring`: the connections cross the agent's link from the agent's node (the
        member view comes from the members, see :meth:`twin.cluster.Cluster.flows`)."""
        return [Flow(f"link.{self.link.name}", "client"), Flow("node.agent", "client")]

    # -- heartbeats and connections -----------------------------------------------------------
    def _answers(self, m: int, draw=None) -> bool:
        """One ping to member ``m`` now: True if its reply comes back (the ping itself decides)."""
        cluster = self.ctx.cluster
        return (cluster.alive[m] and self.ctx.network.can_reach("agent", cluster.names[m])
                and self.link.delay_s(self._draw if draw is None else draw) is not None)

    def _reset(self, m: int) -> bool:
        """The connection to member ``m`` was reset: its process is gone and the reset reached the agent."""
        cluster = self.ctx.cluster
        return (not cluster.alive[m] and self.ctx.network.can_reach("agent", cluster.names[m])
                and self.link.is_up)

    def check(self, now: float) -> bool:
        """Heartbeat every connection once; returns True if the connected state flipped."""
        timeout, reconnect = self.cfg.client_heartbeat_timeout_s, self.cfg.client_reconnect_s
        for m in range(len(self.open)):
            ok = self._answers(m)
            if self.open[m]:
                if ok:
                    self.last_reply_s[m] = now
                elif now - self.last_reply_s[m] >= timeout or self._reset(m):
                    self._close(m, now)
            elif ok and self.connected:
                since = self._answering_since[m]
                if since is None:
                    since = self._answering_since[m] = now
                if now - since >= reconnect:
                    self._open(m, now)
            else:
                self._answering_since[m] = None
        return self._set_connected(any(self.open))

    def _set_connected(self, connected: bool) -> bool:
        """Record a flip of the connected state (a lost one starts the retry loop); True if it flipped."""
        if connected == self.connected:
            return False
        self.connected = connected
        self.ctx.cluster.client_connected = connected
        self.ctx.record("client_connected" if connected else "client_disconnected", "agent", {})
        if not connected:
            self.reconnect.lost(self.ctx.now())
        return True

    # -- reconnect (driven by :class:`twin.reconnect.Reconnect`) -----------------------------------
    def answers_try(self, m: int) -> bool:
        """A connection try to member ``m`` now is answered (the try's own draw decides a lost one)."""
        return self._answers(m, self._retry_draw)

    def cut_from(self, m: int) -> bool:
        """The agent cannot reach member ``m``'s address at all (a try's request would be lost)."""
        return not (self.link.is_up and self.ctx.network.can_reach("agent", self.ctx.cluster.names[m]))

    def reconnected_to(self, m: int) -> None:
        """A try reached member ``m``: its connection is open and the client connected again."""
        before = self.quorum_ok()
        self.reconnect.reconnected()
        self._open(m, self.ctx.now())
        self._set_connected(True)
        if self.quorum_ok() != before:
            self.on_change()

    def _close(self, m: int, now: float) -> None:
        self.open[m] = False
        self._answering_since[m] = None
        self.ctx.record("client_connection_closed", "agent", {"member": self.ctx.cluster.names[m]})
        if m == self.listener:
            self._choose_listener(now)

    def _open(self, m: int, now: float) -> None:
        self.open[m] = True
        self.last_reply_s[m] = now
        self._answering_since[m] = None
        self.ctx.record("client_connection_opened", "agent", {"member": self.ctx.cluster.names[m]})
        if not (0 <= self.listener < len(self.open) and self.open[self.listener]):
            self._choose_listener(now)

    def _choose_listener(self, now: float) -> None:
        """Register the cluster-view listener on the lowest open connection; its reply is the member list."""
        opened = [m for m, o in enumerate(self.open) if o]
        self.listener = opened[0] if opened else -1
        self._view_epoch += 1
        if self.listener >= 0:
            self._send_view(self.listener, self._view_epoch)

    # -- membership events ----------------------------------------------------------------------
    def membership_changed(self) -> None:
        """The members detected a change (called by the cluster): the listener's member tells the client."""
        if self.listener >= 0:
            self._view_epoch += 1
            self._send_view(self.listener, self._view_epoch)

    def _send_view(self, m: int, epoch: int) -> None:
        """Member ``m`` sends its member list; it arrives after the link's transit (TCP resends a lost one)."""
        cluster = self.ctx.cluster
        if not cluster.alive[m]:
            return
        view = cluster.member_view(m)
        ctx = self.ctx
        if ctx.network.can_reach("agent", cluster.names[m]):
            d = self.link.invoke_s(self._event_draw, self.cfg.invocation_timeout_s, self.cfg.invocation_retry_pause_s)
            if d is not None:
                ctx.call_later(d, lambda: self._view_arrives(m, epoch, view))
                return
        # cut or down: the member resends while the connection lasts
        ctx.call_later(self.cfg.invocation_retry_pause_s, lambda: self._resend(m, epoch))

    def _resend(self, m: int, epoch: int) -> None:
        if epoch == self._view_epoch and self.listener == m and self.open[m]:
            self._send_view(m, epoch)

    def _view_arrives(self, m: int, epoch: int, view: tuple[int, ...]) -> None:
        if epoch != self._view_epoch or self.listener != m or not self.open[m]:
            return
        before = self.quorum_ok()
        self.view = view
        if self.quorum_ok() != before:
            self.on_change()

    # -- what the agent reports -------------------------------------------------------------------
    def quorum_ok(self) -> bool:
        """What the client reports as ``hz.quorum``: connected, with a member view of at least the quorum."""
        return self.connected and len(self.view) >= self.ctx.cluster.quorum

    def true_quorum(self) -> bool:
        """Ground truth (for ``signals_true`` only): a quorum of live members is reachable from the agent now."""
        cluster = self.ctx.cluster
        net = self.ctx.network
        if net.partitioned:
            live = sum(1 for m, name in enumerate(cluster.names) if cluster.alive[m] and net.can_reach("agent", name))
        else:                               # every node reaches every other
            live = sum(cluster.alive)
        return self.link.is_up and live >= cluster.quorum
