"""The shared handles every component of one world receives (time, randomness, the grid, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import simpy

from .config import WorldConfig
from .rng import Streams

if TYPE_CHECKING:  # pragma: no cover
    from .clock import Clocks
    from .cluster import Cluster
    from .exchange import Exchange
    from .market import Market
    from .network import Link, Network

__all__ = ["Context"]


class Context:
    """Time, seeds, event recording and the components, for one world."""

    def __init__(self, cfg: WorldConfig, seed: int, record: Callable[..., None]) -> None:
        self.cfg = cfg
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.record = record
        self.replanners: list[Callable[[], None]] = []
        self.change_hooks: list[Callable[[str], None]] = []
        self.links: dict[str, "Link"] = {}
        self.network: "Network"
        self.clocks: "Clocks"
        self.cluster: "Cluster"
        self.market: "Market"
        self.exchange: "Exchange"

    def now(self) -> float:
        return self.env.now

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` after ``delay_s`` of simulated time."""
        ev = self.env.timeout(max(0.0, delay_s))
        ev.callbacks.append(lambda _e: fn())

    def changed(self, kind: str, target: str, detail: dict[str, Any]) -> None:
        """A component's state changed through its port: record it, let planners and hooks react."""
        self.record(kind, target, detail)
        for hook in self.change_hooks:
            hook(kind)
        for replan in self.replanners:
            replan()
