"""Input transforms: how one signal becomes a confidence in [0, 1].

Each transform names its parameters, their defaults and their valid ranges, and packs a
validated input into a kernel row. Categories (``controller.categories``) choose which
transforms their layers may use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import kernel as k

__all__ = ["Param", "Transform", "TRANSFORMS"]


@dataclass(frozen=True)
class Param:
    """One numeric parameter of a transform."""

    name: str
    default: float | None
    check: Callable[[float], bool]
    expected: str


def _positive(v: float) -> bool:
    return v > 0.0


def _non_negative(v: float) -> bool:
    return v >= 0.0


def _unit(v: float) -> bool:
    return 0.0 <= v <= 1.0


def _sign(v: float) -> bool:
    return v in (1.0, -1.0)


POS = ("a number > 0", _positive)
NONNEG = ("a number >= 0", _non_negative)
UNIT = ("a number in [0, 1]", _unit)


def _p(name: str, default: float | None, spec: tuple[str, Callable[[float], bool]]) -> Param:
    return Param(name, default, spec[1], spec[0])


@dataclass(frozen=True)
class Transform:
    """A named input transform with its parameters and its kernel packing."""

    name: str
    code: int
    params: tuple[Param, ...]
    is_age: bool
    pack: Callable[[dict[str, float]], tuple[float, ...]]
    doc: str

    def row(self, signal_col: int, layer_index: int, values: dict[str, float]) -> np.ndarray:
        """The kernel input row for validated parameter values."""
        row = np.zeros(k.IN_SIZE)
        row[k.IN_SIG] = signal_col
        row[k.IN_XF] = self.code
        row[k.IN_LAYER] = layer_index
        row[k.IN_LO] = 0.0 if self.is_age else -math.inf
        row[k.IN_TAU] = values.get("ewma_tau_s", 0.0)
        row[k.IN_P0:k.IN_P4 + 1] = self.pack(values)
        return row


def _pack_decay(v: dict[str, float]) -> tuple[float, ...]:
    return v["deadband"], 1.0 / v["half_life"], v["floor"], v["direction"], v["shape"]


def _pack_sigmoid(v: dict[str, float]) -> tuple[float, ...]:
    s0 = 1.0 / (1.0 + math.exp(v["k"] * (0.0 - v["mid"]))) if v["normalise"] else 1.0
    return v["k"], v["mid"], s0, 0.0, 0.0


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("flag", k.XF_FLAG, (), False, lambda v: (0.0, 0.0, 0.0, 0.0, 0.0),
                  "1.0 when the signal is > 0.5, else 0.0"),
        Transform("max_age", k.XF_MAX_AGE, (_p("max", None, POS),), True,
                  lambda v: (v["max"], 0.0, 0.0, 0.0, 0.0),
                  "1.0 while the age is <= max seconds, else 0.0"),
        Transform(
            "decay", k.XF_DECAY,
            (_p("deadband", 0.0, ("a finite number", math.isfinite)),
             _p("half_life", None, POS), _p("floor", 0.0, UNIT),
             _p("direction", 1.0, ("1 (higher is worse) or -1 (lower is worse)", _sign)),
             _p("ewma_tau_s", 0.0, NONNEG), _p("shape", 1.0, ("a number in (0, 4]", lambda v: 0.0 < v <= 4.0))),
            True, _pack_decay,
            "floor + (1-floor)·2^-((e/half_life)^shape), e = max(0, direction·(x - deadband)); "
            "shape 1 is the plain exponential, < 1 decays fast first and slow later",
        ),
        Transform("impulse", k.XF_IMPULSE, (_p("gain", 0.7, UNIT), _p("cooling_s", 3600.0, POS)), False,
                  lambda v: (v["gain"], v["cooling_s"], 0.0, 0.0, 0.0),
                  "a shock of magnitude m drops the input to 1 - gain·m, gliding back over cooling_s"),
        Transform("sigmoid", k.XF_SIGMOID,
                  (_p("k", 15.0, POS), _p("mid", 0.15, UNIT),
                   _p("normalise", 1.0, ("1 (divide by s(0)) or 0 (the raw spec sigmoid)", lambda v: v in (0.0, 1.0)))),
                  True, _pack_sigmoid,
                  "sigmoid s(x) = 1/(1+exp(k(x-mid))), divided by s(0) when normalise = 1: exactly 1.0 at x = 0"),
        Transform("step", k.XF_STEP, (_p("max", None, ("a finite number", math.isfinite)), _p("value", None, UNIT)),
                  True, lambda v: (v["max"], v["value"], 0.0, 0.0, 0.0),
                  "1.0 while x <= max, else value (a rung of a flat ladder)"),
    )
}
