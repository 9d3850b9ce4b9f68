"""The survival controller: signals in, a :class:`Decision` out, through the one kernel."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from . import kernel as k
from .compiled import compile_config
from .config import ControllerConfig
from .decision import Decision, DecisionDetail
from .posture import POSTURES

__all__ = ["SurvivalController"]

_NAN = math.nan


class SurvivalController:
    """Turns health signals into a risk multiplier ``r_total`` and a posture.

    Pure with respect to its inputs and its own state: no clock, no I/O, no randomness.
    ``step`` never raises on signal values and never returns NaN; a missing, NaN, infinite
    or negative-age signal is read as the worst case for its layer and named in ``reasons``.
    """

    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self._c = compile_config(config)
        self._state = k.new_state(self._c.n_layers, self._c.n_inputs)
        self._out = np.zeros(k.out_size(self._c.n_layers, self._c.n_inputs))
        self._x = np.full(len(self._c.signal_names), _NAN)
        self._names = self._c.signal_names

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Every signal the config reads."""
        return self._names

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self._c.layer_names

    @property
    def invariant_signals(self) -> frozenset[str]:
        """Signals whose flip must trigger an immediate step."""
        return self._c.invariant_signals

    def reset(self) -> None:
        """Back to a fresh controller's state."""
        self._state = k.new_state(self._c.n_layers, self._c.n_inputs)

    def _read(self, signals: Mapping[str, float]) -> tuple[tuple[str, str], ...]:
        """Fill the signal vector; returns the signals whose values could not be read as numbers."""
        x = self._x
        get = signals.get
        unreadable: tuple[tuple[str, str], ...] = ()
        try:
            x[:] = [get(n, _NAN) for n in self._names]
        except (TypeError, ValueError):
            bad = []
            for i, n in enumerate(self._names):
                v = get(n, _NAN)
                try:
                    x[i] = float(v)
                except (TypeError, ValueError):
                    x[i] = _NAN
                    bad.append((n, repr(v)[:40]))
            unreadable = tuple(bad)
        return unreadable

    def step(self, now_s: float, signals: Mapping[str, float]) -> Decision:
        """Advance to ``now_s`` with ``signals`` and return the decision."""
        unreadable = self._read(signals)
        missing: tuple[str, ...] = ()
        try:
            now = float(now_s)
        except (TypeError, ValueError):
            now = _NAN
        out = self._out
        k.step_into(self._c.g, self._c.lay, self._c.inp, self._state, self._x, now, out)
        flags = int(out[k.O_FLAGS])
        if flags & k.F_INVALID:
            missing = tuple(n for n in self._names if n not in signals)
        posture = POSTURES[int(out[k.O_POSTURE])]
        detail = DecisionDetail(self._c, out.copy(), self._x.copy(), missing, unreadable)
        return Decision(now, float(out[k.O_R]), posture, float(out[k.O_LEVERAGE]), posture >= 2,
                        bool(out[k.O_NO_TAKER] == 0.0), bool(flags & k.F_INVARIANT), detail)
