"""The seam between the real infrastructure adapters and whatever runs the controller.

A :class:`SignalSource` turns what the agent observes (Hazelcast grid, lifecycle, membership) into
the controller's signal mapping. The Hazelcast watchdog implements it; the NautilusTrader actor
consumes it. The simulation twin never sees this module.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol, runtime_checkable

__all__ = ["SignalSource"]


@runtime_checkable
class SignalSource(Protocol):
    """Where the controller's inputs come from in paper/live trading."""

    def signals(self, now_s: float) -> Mapping[str, float]:
        """The controller's signal mapping at ``now_s`` (missing or NaN means worst case)."""
        ...

    def on_invariant_change(self, callback: Callable[[], None]) -> None:
        """Register ``callback``; it is called at once (on the source's thread) when an
        invariant signal flips, so the owner can run an immediate controller step."""
        ...
