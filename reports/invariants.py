"""Invariant breaks as the controller observed them, and how fast each controller answered them.

A break is read from ``signals_observed.parquet``, not from the controller's own ``invariant_broken``
flag: a controller that ignores a lost quorum must show it. At a step the invariants are broken
when ``hz.quorum``, ``ledger.consistent`` or ``data.checksum_ok`` is below 0.5, or
``heartbeat.age_s`` is above the keepalive limit (a missing or NaN value counts as broken, as the
controller reads it). A break lasts from its first broken step to the first step where every
invariant is whole again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["INVARIANT_FLAGS", "HEARTBEAT", "DEFAULT_KEEPALIVE_MAX_S", "OBSERVED_COLUMNS", "InvariantBreak",
           "InvariantReaction", "invariant_breaks", "invariant_reactions"]

INVARIANT_FLAGS = ("hz.quorum", "ledger.consistent", "data.checksum_ok")
"""Observed flags whose value 0 (below 0.5) is a broken invariant."""
HEARTBEAT = "heartbeat.age_s"
DEFAULT_KEEPALIVE_MAX_S = 10.0
"""The keepalive limit when the controller config has no keepalive layer (the default config's value)."""
OBSERVED_COLUMNS = ("t_s", *INVARIANT_FLAGS, HEARTBEAT)

_HIBERNATE = 0


@dataclass(frozen=True)
class InvariantBreak:
    """One observed break: from ``start_s`` to ``end_s`` (the first whole step; inf if it never healed)."""

    start_s: float
    end_s: float
    cause: str       # what was broken at the first step, e.g. "hz.quorum=0" or "heartbeat.age_s 12.0 s > 10 s"

    @property
    def label(self) -> str:
        return f"{self.cause} at t={self.start_s:.0f} s"


@dataclass(frozen=True)
class InvariantReaction:
    """A controller's answer to one break: seconds to HIBERNATE and to no order still working
    (``inf`` = missed; ``cancel_s`` 0 when no order was working at the break)."""

    brk: InvariantBreak
    hibernate_s: float
    cancel_s: float


def _cause(observed: Mapping[str, np.ndarray], i: int, keepalive_max_s: float) -> str:
    parts = [f"{name}={observed[name][i]:g}" for name in INVARIANT_FLAGS if not observed[name][i] >= 0.5]
    hb = observed[HEARTBEAT][i]
    if not hb <= keepalive_max_s:
        parts.append(f"{HEARTBEAT} {hb:.1f} s > {keepalive_max_s:g} s")
    return ", ".join(parts)


def invariant_breaks(observed: Mapping[str, np.ndarray], keepalive_max_s: float) -> tuple[InvariantBreak, ...]:
    """The breaks in an observed-signals table (``t_s`` in time order, one column per signal;
    a signal without a column is missing, so broken at every step)."""
    t = np.asarray(observed["t_s"], dtype=np.float64)
    cols = {name: np.asarray(observed[name], dtype=np.float64) if name in observed else np.full(t.size, math.nan)
            for name in (*INVARIANT_FLAGS, HEARTBEAT)}
    broken = ~(cols[HEARTBEAT] <= keepalive_max_s)
    for name in INVARIANT_FLAGS:
        broken |= ~(cols[name] >= 0.5)
    edges = np.diff(broken.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple(InvariantBreak(float(t[a]), float(t[b]) if b < t.size else math.inf,
                                _cause(cols, int(a), keepalive_max_s)) for a, b in zip(starts, ends))


def invariant_reactions(t_s: np.ndarray, posture: np.ndarray, t_order_s: np.ndarray, t_done_s: np.ndarray,
                        breaks: Sequence[InvariantBreak]) -> list[InvariantReaction]:
    """For each break: the first HIBERNATE decision at or after its start, up to the step where it
    healed (none: missed); then the time until every order working at its start is done (cancelled
    or filled) — missed when the controller missed HIBERNATE or an order never finished."""
    out = []
    hib_t = t_s[posture == _HIBERNATE]
    for brk in breaks:
        k = int(np.searchsorted(hib_t, brk.start_s, side="left"))
        hibernate_s = float(hib_t[k] - brk.start_s) if k < hib_t.size and hib_t[k] <= brk.end_s else math.inf
        working = (t_order_s <= brk.start_s) & ~(t_done_s <= brk.start_s)
        if math.isinf(hibernate_s):
            cancel_s = math.inf
        elif not np.any(working):
            cancel_s = 0.0
        else:
            done = t_done_s[working]
            cancel_s = math.inf if np.any(np.isnan(done)) else float(np.max(done) - brk.start_s)
        out.append(InvariantReaction(brk, hibernate_s, cancel_s))
    return out
