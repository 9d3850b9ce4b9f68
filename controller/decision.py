"""The controller's output: one immutable :class:`Decision` per step."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import kernel as k
from .compiled import CompiledConfig
from .posture import Posture
from .reasons import explain

__all__ = ["Decision", "DecisionDetail"]


class DecisionDetail:
    """Snapshot of a step's inputs and kernel outputs; layers and reasons are read from it lazily."""

    __slots__ = ("compiled", "out", "x", "missing", "unreadable", "_reasons")

    def __init__(self, compiled: CompiledConfig, out: np.ndarray, x: np.ndarray,
                 missing: tuple[str, ...], unreadable: tuple[tuple[str, str], ...]) -> None:
        self.compiled = compiled
        self.out = out
        self.x = x
        self.missing = missing
        self.unreadable = unreadable
        self._reasons: tuple[str, ...] | None = None

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DecisionDetail) and self.compiled.config == other.compiled.config
                and np.array_equal(self.out, other.out, equal_nan=True))

    def __hash__(self) -> int:
        return hash(self.out.tobytes())

    def __repr__(self) -> str:
        return "DecisionDetail(...)"

    def layers(self) -> dict[str, float]:
        return dict(zip(self.compiled.layer_names, self.layer_values()))

    def layer_values(self) -> list[float]:
        """The layers' multipliers in ``compiled.layer_names`` order (:meth:`layers` without the names)."""
        n = self.compiled.n_layers
        return self.out[k.O_HEAD:k.O_HEAD + n].tolist()

    def reasons(self) -> tuple[str, ...]:
        if self._reasons is None:
            self._reasons = explain(self.compiled, self.out, self.x, self.missing, self.unreadable)
        return self._reasons


class Decision(NamedTuple):
    """What the controller decided at ``t_s``.

    ``layers`` maps each layer name to its damped multiplier; ``reasons`` names every
    degraded layer, invalid input, invariant break, posture cap and dwell hold.
    Exits are never blocked: ``exits_allowed`` is always True.
    """

    t_s: float
    r_total: float
    posture: Posture
    max_leverage: float
    entries_allowed: bool
    taker_allowed: bool
    invariant_broken: bool
    detail: DecisionDetail

    @property
    def layers(self) -> dict[str, float]:
        return self.detail.layers()

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.detail.reasons()

    @property
    def exits_allowed(self) -> bool:
        return True

    @property
    def posture_capped(self) -> bool:
        """True when a microstructure-style cap holds the posture down (taker off)."""
        return bool(self.detail.out[k.O_CAPPED])

    def size(self, capital: float, base_fraction: float, leverage: float) -> float:
        """Bet size: ``capital × base_fraction × r_total × min(leverage, posture cap)``; 0 when entries are not allowed."""
        if not self.entries_allowed:
            return 0.0
        return capital * base_fraction * self.r_total * min(leverage, self.max_leverage)
