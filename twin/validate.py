"""Argument checks for the fault ports: bad input is a :class:`TwinError` naming the method and
the parameter, never a stray ``TypeError``/``AttributeError`` and never silent acceptance."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import TwinError

__all__ = ["number", "flag", "text"]


def number(method: str, name: str, value: Any, lo: float = -math.inf, hi: float = math.inf, *,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float in the interval; raises TwinError naming ``method`` and ``name``."""
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    expected = f"a finite number in {left}{lo:g}, {hi:g}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TwinError(f"{method}: {name} must be {expected}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
        raise TwinError(f"{method}: {name} must be {expected}, got {value!r}")
    return v


def flag(method: str, name: str, value: Any) -> bool:
    """``value`` as a bool (True/False or 0/1 only)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise TwinError(f"{method}: {name} must be True or False, got {value!r}")


def text(method: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TwinError(f"{method}: {name} must be a string, got {value!r}")
    return value
