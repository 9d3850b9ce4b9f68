"""The scorecard: does each controller protect without taxing performance, with 90 % intervals.

Per controller, against ``uncontrolled`` on the same case (scenario × seed, same faults):

* **performance tax** — return outside fault periods given up: uncontrolled's minus this one's
  (pp of capital); also as a share of uncontrolled's return outside faults (% of return);
* **protection** — drawdown inside fault periods avoided: uncontrolled's minus this one's (pp);
* misses (expected reactions that never came), chatter (posture switches per hour) and time in
  HIBERNATE.

Intervals: percentile bootstrap of the mean over cases (cases resampled with replacement,
:data:`RESAMPLES` times, from ``numpy.random.Generator(PCG64(BOOTSTRAP_SEED))``), so the same run
gives the same intervals. A difference whose interval contains 0 is within noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .traces import RUN

__all__ = ["BOOTSTRAP_SEED", "RESAMPLES", "LEVEL", "REFERENCE", "Interval", "ScoreRow", "bootstrap_mean",
           "score_rows", "paired_interval", "headline", "run_row"]

BOOTSTRAP_SEED = 15
RESAMPLES = 2000
LEVEL = 0.90
REFERENCE = "uncontrolled"


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` cases and its bootstrap interval (NaN when there is no case)."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def within_noise(self) -> bool:
        return not (self.lo > 0 or self.hi < 0)

    def to_dict(self) -> dict[str, float | int | None]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 6)
        return {"mean": num(self.mean), "lo": num(self.lo), "hi": num(self.hi), "n": self.n,
                "within_noise": self.within_noise if self.n else None}


def _empty() -> Interval:
    return Interval(math.nan, math.nan, math.nan, 0)


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def bootstrap_mean(values: Sequence[float], seed: int = BOOTSTRAP_SEED) -> Interval:
    """The mean of the finite ``values`` and its :data:`LEVEL` percentile-bootstrap interval."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return _empty()
    idx = _rng(seed).integers(0, v.size, size=(RESAMPLES, v.size))
    means = v[idx].mean(axis=1)
    a = (1.0 - LEVEL) / 2.0
    return Interval(float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)), int(v.size))


def _ratio(num: np.ndarray, den: np.ndarray, seed: int) -> Interval:
    """100 × mean(num) / mean(den), bootstrapped over the same resampled cases."""
    if num.size == 0 or not np.mean(den) > 0:
        return _empty()
    idx = _rng(seed).integers(0, num.size, size=(RESAMPLES, num.size))
    d = den[idx].mean(axis=1)
    r = 100.0 * num[idx].mean(axis=1) / np.where(d > 0, d, np.nan)
    r = r[np.isfinite(r)]
    a = (1.0 - LEVEL) / 2.0
    mean = 100.0 * float(np.mean(num)) / float(np.mean(den))
    return Interval(mean, float(np.quantile(r, a)), float(np.quantile(r, 1 - a)), int(num.size)) if r.size else \
        Interval(mean, math.nan, math.nan, int(num.size))


def paired_interval(a: Sequence[float], b: Sequence[float], seed: int = BOOTSTRAP_SEED) -> Interval:
    """Mean of ``b − a`` over the pairs where both are finite, with its bootstrap interval."""
    return bootstrap_mean([y - x for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)], seed)


@dataclass(frozen=True)
class ScoreRow:
    controller: str
    tax_pp: Interval              # return outside faults given up vs uncontrolled (pp of capital)
    tax_rel_pct: Interval         # the same as a share of uncontrolled's return outside faults (%)
    protection_pp: Interval       # drawdown avoided inside faults vs uncontrolled (pp)
    misses: int
    chatter_per_h: float
    hibernate_pct: float
    cases: int

    def to_dict(self) -> dict[str, object]:
        return {"controller": self.controller, "tax_pp": self.tax_pp.to_dict(), "tax_rel_pct": self.tax_rel_pct.to_dict(),
                "protection_pp": self.protection_pp.to_dict(), "misses": self.misses,
                "chatter_per_h": _num(self.chatter_per_h), "hibernate_pct": _num(self.hibernate_pct),
                "cases": self.cases}


def _num(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 6)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def score_rows(metrics: Mapping[str, Mapping[str, Mapping[str, float]]], controllers: Sequence[str],
               seed: int = BOOTSTRAP_SEED) -> list[ScoreRow]:
    """One row per controller (``nofault`` excluded) from per-case metrics ``metrics[case][controller]``;
    cases without an ``uncontrolled`` trace do not count."""
    rows = []
    for name in controllers:
        if name == "nofault":
            continue
        tax, base, prot, switches, hib = [], [], [], [], []
        misses = cases = 0
        for per in metrics.values():
            m, ref = per.get(name), per.get(REFERENCE)
            if m is None or ref is None:
                continue
            cases += 1
            t, b = ref.get("nominal_return_pct", math.nan), m.get("nominal_return_pct", math.nan)
            if math.isfinite(t) and math.isfinite(b):
                tax.append(t - b)
                base.append(t)
            fa, fb = ref.get("fault_dd_pct", math.nan), m.get("fault_dd_pct", math.nan)
            if math.isfinite(fa) and math.isfinite(fb):
                prot.append(fa - fb)
            miss = m.get("misses", math.nan)
            if math.isfinite(miss):
                misses += int(miss)
            switches.append(m.get("switches_per_h", math.nan))
            hib.append(m.get("time_hibernate_pct", math.nan))
        rows.append(ScoreRow(name, bootstrap_mean(tax, seed), _ratio(np.array(tax), np.array(base), seed),
                             bootstrap_mean(prot, seed), misses, _mean(switches), _mean(hib), cases))
    return rows


def headline(row: ScoreRow | None) -> str:
    """"protects X pp of drawdown for Y % of return, Z misses" for one controller."""
    if row is None or row.cases == 0:
        return "No scorecard: the run has no 'uncontrolled' companion to measure tax and protection against."
    p, t, r = row.protection_pp, row.tax_pp, row.tax_rel_pct

    def iv(i: Interval, unit: str) -> str:
        if i.n == 0:
            return "—"
        return f"{i.mean:+.3f}{unit} (90 % CI {i.lo:+.3f} to {i.hi:+.3f}{', within noise' if i.within_noise else ''})"
    rel = (f"{r.mean:.1f} % of return (90 % CI {r.lo:.1f} to {r.hi:.1f})" if r.n and math.isfinite(r.mean)
           else "— % of return")
    return (f"Protects {iv(p, ' pp')} of drawdown in faults for {rel} (tax {iv(t, ' pp')} of capital outside "
            f"faults), {row.misses} missed reaction{'s' if row.misses != 1 else ''} — {row.cases} "
            f"case{'s' if row.cases != 1 else ''} vs uncontrolled.")


def run_row(rows: Sequence[ScoreRow]) -> ScoreRow | None:
    return next((r for r in rows if r.controller == RUN), None)
