"""Times in expectations: absolute (``"1h"``, ``90``) or relative to faults (``"fault[0].start+5m"``).

Forms: a duration or number of seconds; ``start`` / ``end`` (of the run); ``fault[i].start`` /
``fault[i].end``; ``faults.start`` (first fault starts) / ``faults.end`` (the last fault heals);
each optionally followed by ``+<duration>`` or ``-<duration>``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

from faults import Fault, parse_seconds

__all__ = ["TimeRef", "parse_timeref"]

_REF = re.compile(r"^(start|end|faults\.start|faults\.end|fault\[(\d+)\]\.(start|end))(?:([+-])(.+))?$")
EXPECTED = ('a time: seconds, a duration like "1h", or start | end | faults.start | faults.end | '
            'fault[i].start | fault[i].end, optionally +/- a duration')


@dataclass(frozen=True)
class TimeRef:
    """A point in sim time, resolved against a run's faults and duration."""

    anchor: str            # "abs", "start", "end", "faults.start", "faults.end", "fault"
    offset_s: float = 0.0
    index: int = -1
    edge: str = ""
    text: str = ""

    def resolve(self, faults: Sequence[Fault], duration_s: float) -> float:
        """Seconds (``inf`` when it refers to the heal time of faults that never heal)."""
        if self.anchor == "abs":
            base = 0.0
        elif self.anchor == "start":
            base = 0.0
        elif self.anchor == "end":
            base = duration_s
        elif self.anchor == "faults.start":
            base = min((f.at_s for f in faults), default=0.0)
        elif self.anchor == "faults.end":
            base = max((f.end_s for f in faults), default=0.0)
        else:
            f = faults[self.index]
            base = f.at_s if self.edge == "start" else f.end_s
        return base + self.offset_s if math.isfinite(base) else math.inf

    def __str__(self) -> str:
        return self.text


def parse_timeref(raw: Any, n_faults: int | None) -> TimeRef | None:
    """The reference, or None if ``raw`` is not one. ``n_faults`` None: fault[i] refs are not allowed
    (the faults are drawn per seed); otherwise the index must be < n_faults."""
    seconds = parse_seconds(raw)
    if seconds is not None:
        return TimeRef("abs", seconds, text=str(raw)) if seconds >= 0 else None
    if not isinstance(raw, str):
        return None
    m = _REF.match(raw.replace(" ", ""))
    if m is None:
        return None
    offset = 0.0
    if m.group(4):
        off = parse_seconds(m.group(5))
        if off is None:
            return None
        offset = off if m.group(4) == "+" else -off
    if m.group(2) is not None:
        index = int(m.group(2))
        if n_faults is None or index >= n_faults:
            return None
        return TimeRef("fault", offset, index, m.group(3), raw)
    return TimeRef(m.group(1), offset, text=raw)
