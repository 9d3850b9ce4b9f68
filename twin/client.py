"""The agent's Hazelcast client: its connections, its member view, and what it reports as quorum.

The client knows only what crossed ``cluster<->agent``: nothing reads the true network or member
state on the agent's behalf.

* **Connections.** A smart client holds one connection per member. Every agent tick it
  heartbeats each open connection; a reply comes back only if the ping crosses the link (up,
  not lost) to a live member it can reach. A connection with no reply for
  ``client_heartbeat_timeout_s`` is closed; one to a crashed member closes at once (its socket
  was reset: the reset crosses the link like any message). The client is connected while any
  connection is open (its near cache updates only then).
* **Reconnect.** A client left with no connection tries the members' addresses one at a time
  (:func:`connection_tries`, as the hazelcast-python-client does): an address that does not answer
  costs ``client_connect_attempt_s`` before the next is tried, and after a pass over every member
  the client sleeps the next backoff of :func:`retry_backoffs` (its wait strategy: initial, times the
  multiplier per pass, capped) — on its own timeline, not the agent's ticks. The first try that
  reaches an answering member opens its connection ``client_reconnect_s`` later (connect and
  authentication); so a heal is noticed at the next address tried after it. While
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

from typing import TYPE_CHECKING, Callable, Iterator

from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .config import ClusterConfig
    from .context import Context

__all__ = ["Client", "connection_tries", "retry_backoffs"]


def retry_backoffs(cfg: "ClusterConfig") -> Iterator[float]:
    """The waits between a disconnected client's connection attempts: ``client_retry_initial_backoff_s``,
    then times ``client_retry_multiplier`` each, capped at ``client_retry_max_backoff_s``."""
    backoff = min(cfg.client_retry_initial_backoff_s, cfg.client_retry_max_backoff_s)
    while True:
        yield backoff
        backoff = min(backoff * cfg.client_retry_multiplier, cfg.client_retry_max_backoff_s)


def connection_tries(cfg: "ClusterConfig", members: int) -> Iterator[tuple[float, int]]:
    """The tries of a disconnected client whose tries all fail: (wait since the previous try, member
    index). The first try (member 0) is at the disconnect; each failed address costs
    ``client_connect_attempt_s``; after a pass over all ``members`` the next backoff is slept too."""
    backoffs = retry_backoffs(cfg)
    yield 0.0, 0
    while True:
        for m in range(1, members):
            yield cfg.client_connect_attempt_s, m
        yield cfg.client_connect_attempt_s + next(backoffs), 0


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
        self._retry_epoch = 0

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
            self._retry_epoch += 1
            epoch, tries = self._retry_epoch, connection_tries(self.cfg, len(self.open))
            self.ctx.call_later(next(tries)[0], lambda: self._attempt(epoch, tries, 0))
        return True

    # -- reconnect --------------------------------------------------------------------------------
    def _attempt(self, epoch: int, tries: Iterator[tuple[float, int]], m: int) -> None:
        """A disconnected client tries member ``m``'s address: if it answers, it is connected
        ``client_reconnect_s`` later, else the next address is tried (:func:`connection_tries`)."""
        if epoch != self._retry_epoch or self.connected:
            return
        if self._answers(m, self._retry_draw):
            self.ctx.call_later(self.cfg.client_reconnect_s, lambda: self._reconnected(epoch, m, tries))
            return
        self._next_try(epoch, tries)

    def _next_try(self, epoch: int, tries: Iterator[tuple[float, int]]) -> None:
        wait, nxt = next(tries)
        self.ctx.call_later(wait, lambda: self._attempt(epoch, tries, nxt))

    def _reconnected(self, epoch: int, m: int, tries: Iterator[tuple[float, int]]) -> None:
        """The handshake with member ``m`` is over: connected if it still answers, else retry."""
        if epoch != self._retry_epoch or self.connected:
            return
        if not self._answers(m, self._retry_draw):
            self._next_try(epoch, tries)
            return
        before = self.quorum_ok()
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
