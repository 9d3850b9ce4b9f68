"""Reactions attributed to faults by mechanism, and invariant latencies from the true break.

A fault acts on some controller signals (recorded by the runner from the twin's wiring); the
layers of a controller that read those signals are the fault's layers. A drop of a layer (the
first step of a decline) inside a fault's period (its window plus the settling time) belongs to
the *latest-started* fault whose layers include it; a posture *drop* belongs to the latest fault
one of whose layers is below 1 at that step. A posture rise (a recovery) is never a reaction.

Outcome per fault: ``reacted``; ``covered`` (expected, and its layers were down during its period,
but the drop belongs to a later fault); ``missed`` (the scenario expects a reaction, none came);
``correct: no reaction`` (a no-harm fault, left alone); ``reacted (not required)``.
Reaction latency beyond design = fault start → first drop of one of its layers, minus the designed
delay: the time until the fault's true signals (``signals_true``) first left those layers'
deadbands (so an ExF layer's 10-min deadband or a book depth decaying over a 10-min ramp is not
slowness; an invariant flag's threshold counts, so a member loss that truly breaks the quorum at
once is due at once even when another fault ages one of its entries later); without the true
signals, the largest deadband on the fault's age signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .invariants import InvariantBreak
from .manifest import Fault

__all__ = ["FaultOutcome", "attribute", "fault_layers", "designed_delay_s", "true_hibernate_s", "OUTCOMES"]

_EPS = 1e-6
OUTCOMES = ("reacted", "covered", "missed", "correct: no reaction", "reacted (not required)", "no reaction")
Reads = Mapping[str, tuple[tuple, ...]]
"""Layer -> its inputs ``(signal, deadband[, direction, has_deadband])``."""


@dataclass(frozen=True)
class FaultOutcome:
    """One fault as one controller answered it (times in s from the fault's start; NaN: none)."""

    fault: Fault
    layers: tuple[str, ...]
    detect_s: float          # first drop of one of its layers
    posture_s: float         # first posture drop credited to it
    posture_after: str
    designed_s: float
    outcome: str

    @property
    def excess_s(self) -> float:
        """Latency beyond the designed delay; inf when a required reaction was missed."""
        if self.outcome == "missed":
            return math.inf
        return max(0.0, self.detect_s - self.designed_s) if not math.isnan(self.detect_s) else math.nan


def fault_layers(fault: Fault, reads: Reads | None) -> tuple[str, ...]:
    """The layers (of a controller's ``reads``) that read a signal the fault acts on."""
    if reads is None or fault.signals is None:
        return ()
    sigs = set(fault.signals)
    return tuple(name for name, inputs in reads.items() if any(i[0] in sigs for i in inputs))


def designed_delay_s(fault: Fault, layers: Sequence[str], reads: Reads | None,
                     truth: Mapping[str, np.ndarray] | None = None) -> float:
    """How long the design lets the fault go unanswered. With the true signals (``signals_true``):
    from the fault's start until one of its signals read by ``layers`` is past that input's deadband
    (in the input's direction; 0 when no such input has a deadband, or none ever leaves it). Without
    them: the largest deadband of those inputs on the fault's age signals (``*_s``)."""
    if reads is None or fault.signals is None:
        return 0.0
    inputs = [i for name in layers for i in reads.get(name, ()) if i[0] in set(fault.signals)]
    if truth is not None and "t_s" in truth:
        banded = [i for i in inputs if len(i) >= 4 and i[3] and i[0] in truth]
        if not banded:
            return 0.0
        t = truth["t_s"]
        sel = t >= fault.at_s
        out = np.zeros(int(np.count_nonzero(sel)), dtype=bool)
        for sig, band, direction, _ in banded:
            x = truth[sig][sel]
            out |= ~((x - band) * direction <= 0.0)      # NaN: as bad as it gets
        hit = np.flatnonzero(out)
        return float(t[sel][hit[0]] - fault.at_s) if hit.size else 0.0
    bands = [i[1] for i in inputs if i[0].endswith("_s")]
    return max(bands, default=0.0)


def _drop_onsets(values: np.ndarray) -> np.ndarray:
    """Indices where a decline starts (a step lower than the one before, which was not lower itself)."""
    v = np.nan_to_num(values, nan=0.0)
    down = np.zeros(v.size, dtype=bool)
    down[1:] = v[1:] < v[:-1] - _EPS
    start = down.copy()
    start[1:] &= ~down[:-1]
    return np.flatnonzero(start)


def _period_end(f: Fault, settle_s: float) -> float:
    return f.end_s + settle_s


def _credit(t: float, candidates: Sequence[int], faults: Sequence[Fault], settle_s: float) -> list[int]:
    """The live candidates that started last (several when they started together)."""
    live = [i for i in candidates if faults[i].at_s <= t <= _period_end(faults[i], settle_s)]
    if not live:
        return []
    last = max(faults[i].at_s for i in live)
    return [i for i in live if faults[i].at_s == last]


def _covered(t_s: np.ndarray, layers: Mapping[str, np.ndarray], own: Sequence[str], f: Fault, settle_s: float) -> bool:
    """One of the fault's layers was below 1 during its period (a drop credited to a later fault)."""
    sel = (t_s >= f.at_s) & (t_s <= _period_end(f, settle_s))
    return any(bool(np.any(layers[n][sel] < 1.0 - _EPS)) for n in own)


def attribute(t_s: np.ndarray, posture: np.ndarray, layers: Mapping[str, np.ndarray], faults: Sequence[Fault],
              reads: Reads | None, settle_s: float, posture_names: Sequence[str],
              truth: Mapping[str, np.ndarray] | None = None) -> list[FaultOutcome]:
    """Every fault's outcome for one controller trace (see the module doc)."""
    own = [tuple(layers) if f.signals is None else tuple(n for n in fault_layers(f, reads) if n in layers)
           for f in faults]   # no recorded mechanism (an older run): every layer and posture drop counts
    detect = [math.nan] * len(faults)
    for name, values in layers.items():
        holders = [i for i, ls in enumerate(own) if name in ls]
        if not holders:
            continue
        for j in _drop_onsets(values):
            for k in _credit(float(t_s[j]), holders, faults, settle_s):
                if math.isnan(detect[k]) or t_s[j] - faults[k].at_s < detect[k]:
                    detect[k] = float(t_s[j] - faults[k].at_s)
    post = [math.nan] * len(faults)
    after = ["—"] * len(faults)
    drops = np.flatnonzero(np.diff(posture.astype(np.int64)) < 0) + 1
    for j in drops:
        below = {n for n, v in layers.items() if v[j] < 1.0 - _EPS or math.isnan(v[j])}
        holders = [i for i, ls in enumerate(own) if below & set(ls) or faults[i].signals is None]
        for k in _credit(float(t_s[j]), holders, faults, settle_s):
            if math.isnan(post[k]):
                post[k], after[k] = float(t_s[j] - faults[k].at_s), posture_names[int(posture[j])]
    out = []
    for i, f in enumerate(faults):
        reacted = not math.isnan(detect[i]) or not math.isnan(post[i])
        if f.expects_reaction is None:
            outcome = "reacted" if reacted else "no reaction"
        elif f.expects_reaction:
            outcome = "reacted" if reacted else ("covered" if _covered(t_s, layers, own[i], f, settle_s) else "missed")
        else:
            outcome = "reacted (not required)" if reacted else "correct: no reaction"
        det = detect[i] if not math.isnan(detect[i]) else post[i]
        out.append(FaultOutcome(f, own[i], det, post[i], after[i], designed_delay_s(f, own[i], reads, truth), outcome))
    return out


def true_hibernate_s(t_s: np.ndarray, posture: np.ndarray, observed: InvariantBreak,
                     true_breaks: Sequence[InvariantBreak]) -> float:
    """Seconds from the true break behind an observed one (the latest true break starting at or before
    it and still broken then; else the observed start) to the first HIBERNATE; inf when missed."""
    start = observed.start_s
    for b in true_breaks:
        if b.start_s <= observed.start_s and b.end_s >= observed.start_s:
            start = min(start, b.start_s)
    hib = t_s[(posture == 0) & (t_s >= start)]
    if hib.size == 0 or hib[0] > observed.end_s:
        return math.inf
    return float(hib[0] - start)
