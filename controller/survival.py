"""The survival controller: signals in, a :class:`Decision` out, through the one kernel."""

from __future__ import annotations

import math
import numbers
import struct
from typing import Mapping

import numpy as np

from . import kernel as k
from . import strict
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

    def __init__(self, config: ControllerConfig, max_time_jump_s: float = k.MAX_TIME_JUMP_S) -> None:
        """``max_time_jump_s``: the largest forward step of ``now_s`` credited as elapsed time; a larger
        jump is held as a fault (named in ``reasons``, no recovery earned; see :func:`kernel.advance_time`)."""
        self.config = config
        self.max_time_jump_s = strict.number(max_time_jump_s, "SurvivalController", "max_time_jump_s", 0.0,
                                             strict.MAX_SECONDS, lo_open=True)
        self._c = compile_config(config)
        self._state = k.new_state(self._c.n_layers, self._c.n_inputs)
        self._out = np.zeros(k.out_size(self._c.n_layers, self._c.n_inputs))
        self._x = np.full(len(self._c.signal_names), _NAN)
        self._pack = struct.Struct(f"={len(self._c.signal_names)}d").pack_into   # native doubles, no padding
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
        """Fill the signal vector; returns the signals whose values could not be read as numbers.

        Only numbers are numbers: a numeric string such as ``"1"`` is unreadable (the worst case), and
        so is an integer too large for a float (``10**400``)."""
        get = signals.get
        values = [get(n, _NAN) for n in self._names]
        try:        # struct's "d" takes real numbers only: a str or 10**400 is a struct.error
            self._pack(self._x, 0, *values)
            return ()
        except (struct.error, TypeError, ValueError, OverflowError):
            return self._read_each(values)

    def _read_each(self, values: list) -> tuple[tuple[str, str], ...]:
        x = self._x
        bad = []
        for i, (n, v) in enumerate(zip(self._names, values)):
            try:
                if isinstance(v, (str, bytes)) or not isinstance(v, (numbers.Real, np.bool_)):
                    raise TypeError
                x[i] = float(v)
            except (TypeError, ValueError, OverflowError):
                x[i] = _NAN
                bad.append((n, strict.shown(v, 40)))
        return tuple(bad)

    def step(self, now_s: float, signals: Mapping[str, float]) -> Decision:
        """Advance to ``now_s`` with ``signals`` and return the decision."""
        unreadable = self._read(signals)
        missing: tuple[str, ...] = ()
        try:
            now = _NAN if isinstance(now_s, (str, bytes)) else float(now_s)
        except (TypeError, ValueError, OverflowError):
            now = _NAN
        out = self._out
        k.step_into(self._c.g, self._c.lay, self._c.inp, self._state, self._x, now, self.max_time_jump_s, out)
        flags = int(out[k.O_FLAGS])
        if flags & k.F_INVALID:
            missing = tuple(n for n in self._names if n not in signals)
        posture = POSTURES[int(out[k.O_POSTURE])]
        detail = DecisionDetail(self._c, out.copy(), self._x.copy(), missing, unreadable)
        return Decision(now, float(out[k.O_R]), posture, float(out[k.O_LEVERAGE]), posture >= 2,
                        bool(out[k.O_NO_TAKER] == 0.0), bool(flags & k.F_INVARIANT), detail)
