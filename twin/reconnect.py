"""A disconnected client's way back: its connection tries and the health service's replacements.

What the Hazelcast adapter's client does once it has lost every connection (hazelcast-python-client
5.7.0 ``ConnectionManager._sync_connect_to_cluster`` with the adapter's settings, and
``HazelcastHealthService`` around it), as the fidelity bench's try log shows it:

* **Passes.** The client tries the members one at a time, in a new random order per pass (its
  member list is shuffled). After a pass where every try failed it gives up if it has been trying
  for more than ``client_cluster_connect_timeout_s`` since it started (the wait strategy's cluster
  connect timeout), else sleeps the next backoff (``client_retry_initial_backoff_s``, times
  ``client_retry_multiplier`` per pass, capped at ``client_retry_max_backoff_s``; no jitter) and
  starts another pass.
* **A try**, by what is at the address: a live member the agent reaches answers, and the connection
  is open ``client_reconnect_s`` later (connect and authentication). A dead member's address refuses
  (or its connection is reset): the try fails when the client's clean-up timer next runs (it checks
  for requests on closed connections ``client_connect_attempt_s`` after its previous run, and runs at
  the client reactor's first pass after that: up to ``client_reactor_poll_s`` late, as an idle
  reactor polls that long).
  Through a cut the connect is accepted (by the proxy in front of the member) and the authentication
  request is lost, so the try holds — the client has no timer on it — until the cut is healed (the
  proxy then closes the connection, and the try fails at the next clean-up run) or until
  ``client_connection_timeout_s`` if that is set (a network that drops the connect itself: the
  socket's connect timeout; 0: none).
* **Replacement.** The health service checks every ``client_probe_interval_s`` (on a grid of its own
  phase): a client that gave up, or one disconnected for more than ``client_reconnect_bound_s`` and
  older than that, is replaced by a new client, which starts its own passes at once (its pending try
  is dropped with it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["Reconnect", "retry_backoffs", "next_tick"]

PHASE_FORGOTTEN_S = 1.0
"""A clean-up timer not looked at for this long gets a fresh random phase instead of being run forward
run by run (each run drifts by the reactor's lateness, and nothing in the twin is aligned with it): its
next run is uniform over one gap between runs (a period plus a lateness), not a uniform due time plus
a lateness, which would put it a quarter of ``client_reactor_poll_s`` late on average."""


def retry_backoffs(cfg) -> Iterator[float]:
    """The sleeps after each failed pass: ``client_retry_initial_backoff_s``, then times
    ``client_retry_multiplier`` each, capped at ``client_retry_max_backoff_s``."""
    backoff = min(cfg.client_retry_initial_backoff_s, cfg.client_retry_max_backoff_s)
    while True:
        yield backoff
        backoff = min(backoff * cfg.client_retry_multiplier, cfg.client_retry_max_backoff_s)


def next_tick(now: float, phase: float, period: float) -> float:
    """The first instant after ``now`` on the grid ``phase + k * period``."""
    return phase + (math.floor((now - phase) / period) + 1) * period


class Reconnect:
    """The retry loop of the agent's (current) client and the service that replaces it."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        self.cfg = client.cfg
        self._draw = client.ctx.streams.buffer("client.reconnect")
        self._service_phase = self._draw.uniform() * self.cfg.client_probe_interval_s
        self._epoch = 0                       # bumped by every new client, give-up and reconnect
        self._created_s = 0.0                 # when the current client was created
        self._cleanup_run = 0.0               # the current client's next clean-up run (see _next_cleanup)
        self.cleanup_due(self._draw.uniform() * self.cfg.client_connect_attempt_s)
        self._down_s: float | None = None     # when the connection was lost
        self._held: tuple[int, int, float] | None = None   # (epoch, member, since) of a try held by a cut
        self._resume: Callable[[], None] = lambda: None    # what the held try does once it fails
        self.replacements = 0
        self.tries: list[tuple[float, int, str]] | None = None
        """Set to a list to record (time, member or -1, outcome) of every try, give-up and replacement."""
        client.ctx.change_hooks.append(lambda _kind: self._cut_changed())

    def _log(self, now: float, m: int, what: str) -> None:
        if self.tries is not None:
            self.tries.append((now, m, what))

    # -- the episode ------------------------------------------------------------------------------
    def lost(self, now: float) -> None:
        """Every connection is gone: the client starts its passes at once, the service watches."""
        self._down_s = now
        self._epoch += 1
        self._start_passes(now)
        self._watch(now)

    def reconnected(self) -> None:
        self._down_s = None
        self._held = None
        self._epoch += 1

    def _start_passes(self, now: float) -> None:
        epoch, started, backoffs = self._epoch, now, retry_backoffs(self.cfg)
        self._pass(epoch, started, backoffs)

    def _pass(self, epoch: int, started: float, backoffs: Iterator[float]) -> None:
        n = len(self.client.open)
        order = sorted(range(n), key=lambda _m: self._draw.uniform())
        self._try(epoch, started, backoffs, order, 0)

    def _try(self, epoch: int, started: float, backoffs: Iterator[float], order: list[int], i: int) -> None:
        if epoch != self._epoch:
            return
        now = self.client.ctx.now()
        if i == len(order):
            self._after_pass(epoch, started, backoffs, now)
            return
        m = order[i]
        then: Callable[[], None] = lambda: self._try(epoch, started, backoffs, order, i + 1)
        client = self.client
        if client.answers_try(m):
            self._log(now, m, "answers")
            client.ctx.call_later(self.cfg.client_reconnect_s, lambda: self._handshake(epoch, m, then))
        elif client.cut_from(m):
            self._log(now, m, "held")
            self._held = (epoch, m, now)
            self._resume = then
            if self.cfg.client_connection_timeout_s > 0:
                client.ctx.call_later(self.cfg.client_connection_timeout_s, lambda: self._release(epoch, m, now))
        else:   # a dead member's address refuses (or the try's request was lost on the link)
            self._log(now, m, "refused" if not client.ctx.cluster.alive[m] else "lost")
            self._fail_at_cleanup(then)

    def _handshake(self, epoch: int, m: int, then: Callable[[], None]) -> None:
        if epoch != self._epoch:
            return
        if self.client.answers_try(m):
            self.client.reconnected_to(m)
        else:
            self._fail_at_cleanup(then)

    def _fail_at_cleanup(self, then: Callable[[], None]) -> None:
        """The try's connection is closed: it fails at the clean-up timer's next run."""
        now = self.client.ctx.now()
        self.client.ctx.call_later(self._next_cleanup(now) - now, then)

    def cleanup_due(self, t: float) -> None:
        """The current client's clean-up timer is next due at ``t``; it runs at the reactor's first
        pass after that (a pass polls up to ``client_reactor_poll_s`` when idle: up to that late)."""
        self._cleanup_run = t + self._draw.uniform() * self.cfg.client_reactor_poll_s

    def _next_cleanup(self, now: float) -> float:
        """The first clean-up run after ``now``: each run re-arms the timer ``client_connect_attempt_s``
        after itself (:data:`PHASE_FORGOTTEN_S`)."""
        period = self.cfg.client_connect_attempt_s
        if period <= 0:
            return now
        if now - self._cleanup_run > PHASE_FORGOTTEN_S:
            # the runs lie on a grid whose gaps are a period plus the reactor's lateness (each run re-arms
            # the timer): the first run after an instant unrelated to it is uniform over one such gap
            gap = period + self._draw.uniform() * self.cfg.client_reactor_poll_s
            self._cleanup_run = now + self._draw.uniform() * gap
        while self._cleanup_run <= now:
            self.cleanup_due(self._cleanup_run + period)
        return self._cleanup_run

    def _cut_changed(self) -> None:
        """The network changed: a try held by a cut fails once the cut is gone (the proxy closes it)."""
        held = self._held
        if held is not None and held[0] == self._epoch and not self.client.cut_from(held[1]):
            self._release(*held)

    def _release(self, epoch: int, m: int, since: float) -> None:
        if self._held != (epoch, m, since) or epoch != self._epoch:
            return
        self._held = None
        self._fail_at_cleanup(self._resume)

    def _after_pass(self, epoch: int, started: float, backoffs: Iterator[float], now: float) -> None:
        passed = now - started
        timeout = self.cfg.client_cluster_connect_timeout_s
        if passed > timeout:
            self._log(now, -1, "gave up")
            self._epoch += 1               # the client is shut down: nothing tries until it is replaced
            self._watch(now, gave_up=True)
            return
        sleep = min(next(backoffs), timeout - passed)
        self.client.ctx.call_later(sleep, lambda: epoch == self._epoch and self._pass(epoch, started, backoffs))

    # -- the health service ------------------------------------------------------------------------
    def _watch(self, now: float, gave_up: bool = False) -> None:
        """Schedule the service's check that replaces this client: its next tick after the give-up,
        else its first tick once it has been both disconnected and alive for longer than the bound."""
        bound = self.cfg.client_reconnect_bound_s
        due = now if gave_up else max(self._down_s if self._down_s is not None else now, self._created_s) + bound
        at = next_tick(due, self._service_phase, self.cfg.client_probe_interval_s)
        epoch = self._epoch
        self.client.ctx.call_later(at - now, lambda: self._replace(epoch))

    def _replace(self, epoch: int) -> None:
        if epoch != self._epoch or self._down_s is None:
            return
        now = self.client.ctx.now()
        self._log(now, -1, "replaced")
        self.replacements += 1
        self._epoch += 1
        self._held = None
        self._created_s = now
        self.cleanup_due(now + self._draw.uniform() * self.cfg.client_connect_attempt_s)
        self._start_passes(now)
        self._watch(now)
