"""Typed fault parameters: declaration and validation of plain (TOML) values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from controller.strict import MAX_SECONDS, StrictError
from controller.strict import number as strict_number
from twin import parse_duration_s

from .errors import FaultSpecError

__all__ = ["Param", "parse_seconds"]

_KINDS = ("float", "int", "seconds", "groups")


def parse_seconds(raw: Any) -> float | None:
    """Seconds from a number or a duration string (``"90s"``, ``"5m"``, ``"1h30m"``); None if neither, or if
    its magnitude exceeds :data:`controller.strict.MAX_SECONDS` (never raises, never infinite)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and not -MAX_SECONDS <= raw <= MAX_SECONDS:
        return None
    if isinstance(raw, (int, float)):
        return float(raw) if math.isfinite(raw) and abs(raw) <= MAX_SECONDS else None
    if isinstance(raw, str):
        return parse_duration_s(raw)
    return None


@dataclass(frozen=True)
class Param:
    """One typed parameter of a fault kind.

    ``kind``: ``float``, ``int``, ``seconds`` (a number of seconds or a duration string) or
    ``groups`` (an array of arrays of node names). ``default`` None means required.
    """

    name: str
    kind: str
    default: Any
    lo: float = -math.inf
    hi: float = math.inf
    doc: str = ""
    lo_open: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Param {self.name}: kind must be one of {_KINDS}, got {self.kind!r}")

    @property
    def expected(self) -> str:
        if self.kind == "groups":
            return "an array of arrays of node names (a trailing * matches a prefix)"
        what = {"float": "a number", "int": "an integer",
                "seconds": "a number of seconds or a duration like \"30s\""}[self.kind]
        if math.isinf(self.lo) and math.isinf(self.hi):
            return what
        left = "(" if self.lo_open else "["
        return f"{what} in {left}{self.lo:g}, {self.hi:g}]"

    def parse(self, raw: Any, source: str, path: str) -> Any:
        """The validated value of ``raw``; raises :class:`FaultSpecError`."""
        if self.kind == "groups":
            return _groups(raw, source, path, self.expected)
        if self.kind == "seconds":
            value: Any = parse_seconds(raw)
        elif self.kind == "int":
            value = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        else:
            try:
                value = strict_number(raw, source, path)
            except StrictError:
                value = None
        if value is None:
            raise FaultSpecError(source, path, self.expected, raw)
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        if not (low_ok and value <= self.hi):
            raise FaultSpecError(source, path, self.expected, raw)
        return value


def _groups(raw: Any, source: str, path: str, expected: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(raw, list) or not raw:
        raise FaultSpecError(source, path, expected, raw)
    out = []
    for i, group in enumerate(raw):
        if not isinstance(group, list) or not group or not all(isinstance(n, str) and n for n in group):
            raise FaultSpecError(source, f"{path}[{i}]", "a non-empty array of node names", group)
        out.append(tuple(group))
    return tuple(out)
