"""An ordered, reliable message channel over a link (a TCP/FIX session in miniature).

Messages are delivered in the order sent, each after the link's transit time; while the link
is down, lossy or partitioned the head message is retried every second (later messages wait).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable

from .network import Link

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Channel"]

_RETRY_S = 1.0


class Channel:
    """In-order delivery of callbacks from node ``src`` to node ``dst`` over ``link``."""

    def __init__(self, ctx: "Context", link: Link, src: str, dst: str) -> None:
        self.ctx = ctx
        self.link = link
        self.src = src
        self.dst = dst
        self._queue: deque[Callable[[], None]] = deque()
        self._last_delivery = 0.0
        self._pumping = False
        self._draw = ctx.streams.buffer(f"channel.{link.name}.{src}->{dst}")

    def send(self, fn: Callable[[], None]) -> None:
        self._queue.append(fn)
        if not self._pumping:
            self._pump()

    def parts(self) -> tuple[str, ...]:
        """What delivery depends on (for :mod:`twin.wiring`): the link and both ends' network nodes."""
        return (f"link.{self.link.name}", f"node.{self.src}", f"node.{self.dst}")

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def _pump(self) -> None:
        self._pumping = True
        ctx = self.ctx
        while self._queue:
            d = self.link.delay_s(self._draw) if ctx.network.can_reach(self.src, self.dst) else None
            if d is None:
                ctx.call_later(_RETRY_S, self._pump)
                return
            at = max(self._last_delivery, ctx.now() + d)
            self._last_delivery = at
            ctx.call_later(at - ctx.now(), self._queue.popleft())
        self._pumping = False
