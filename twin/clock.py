"""Per-component clocks: simulated time plus a skew. Its fault port is :class:`twin.ports.ClockPort`."""

from __future__ import annotations

import math
from typing import Callable

from .errors import TwinError

__all__ = ["Clocks"]


class Clocks:
    """Skews of component clocks relative to the simulation's true time."""

    def __init__(self, components: tuple[str, ...], record: Callable[..., None]) -> None:
        self.components = components
        self._skew: dict[str, float] = {}
        self._record = record

    def skew(self, component: str, offset_s: float) -> None:
        """From now on ``component`` stamps times ``offset_s`` ahead of true time (negative: behind)."""
        if component not in self.components:
            raise TwinError(f"clock.skew: unknown component {component!r}; known: {', '.join(self.components)}")
        if not math.isfinite(offset_s):
            raise TwinError(f"clock.skew: offset_s must be finite, got {offset_s!r}")
        if offset_s == 0.0:
            self._skew.pop(component, None)
        else:
            self._skew[component] = float(offset_s)
        self._record("clock_skew", component, {"offset_s": float(offset_s)})

    def offset(self, component: str) -> float:
        return self._skew.get(component, 0.0)
