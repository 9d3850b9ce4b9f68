"""Per-component clocks: simulated time plus a skew. Its fault port is :class:`twin.ports.ClockPort`."""

from __future__ import annotations

from typing import Callable

from .errors import TwinError
from .validate import number

__all__ = ["Clocks"]


class Clocks:
    """Skews of component clocks relative to the simulation's true time."""

    def __init__(self, components: tuple[str, ...], record: Callable[..., None]) -> None:
        self.components = components
        self._skew: dict[str, float] = {}
        self._record = record

    def skew(self, component: str, offset_s: float) -> None:
        """From now on ``component`` stamps times ``offset_s`` ahead of true time (negative: behind)."""
        if not isinstance(component, str) or component not in self.components:
            raise TwinError(f"clock.skew: unknown component {component!r}; known: {', '.join(self.components)}")
        offset = number("clock.skew", "offset_s", offset_s)
        if offset == 0.0:
            self._skew.pop(component, None)
        else:
            self._skew[component] = offset
        self._record("clock_skew", component, {"offset_s": offset})

    def offset(self, component: str) -> float:
        return self._skew.get(component, 0.0)
