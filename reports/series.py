"""Downsampling for plots: keep every drop and spike a pixel column can show, drop the rest.

The twin records one decision per second; a 6 h run is 21,600 rows per series. Plots need a few
hundred points: per pixel bucket we keep the minimum and the maximum sample (in time order; plus
the series' first and last), then drop the interior points of flat runs, so a layer that stays at
1.0 costs two points.
"""

from __future__ import annotations

import numpy as np

__all__ = ["downsample", "posture_runs"]


def downsample(t: np.ndarray, y: np.ndarray, t0: float, t1: float, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of ``(t, y)`` (``t`` sorted) that draw the line at ``buckets`` columns over [t0, t1]:
    each column keeps its extremes."""
    ok = ~np.isnan(y)
    t, y = t[ok], y[ok]
    if t.size <= 2 or t1 <= t0:
        return t, y
    b = np.clip(((t - t0) / (t1 - t0) * buckets).astype(np.int64), 0, buckets - 1)
    keep = np.zeros(t.size, dtype=bool)
    keep[[0, -1]] = True
    for key in (y, -y):  # the first index of each bucket's minimum, then of its maximum
        order = np.lexsort((key, b))
        keep[order[np.r_[True, b[order][1:] != b[order][:-1]]]] = True
    idx = np.flatnonzero(keep)
    tk, yk = t[idx], y[idx]
    if yk.size > 2:
        interior = np.r_[False, (yk[1:-1] == yk[:-2]) & (yk[1:-1] == yk[2:]), False]
        tk, yk = tk[~interior], yk[~interior]
    return tk, yk


def posture_runs(t: np.ndarray, posture: np.ndarray, t_end: float, t0: float, t1: float,
                 buckets: int) -> list[tuple[float, float, int]]:
    """Run-length encoded ``(start_s, end_s, code)``; above ``2*buckets`` runs each pixel column
    shows the worst (lowest) posture it contains."""
    if t.size == 0:
        return []
    change = np.flatnonzero(np.r_[True, posture[1:] != posture[:-1]])
    if change.size > 2 * buckets and t1 > t0:
        b = np.clip(((t - t0) / (t1 - t0) * buckets).astype(np.int64), 0, buckets - 1)
        worst = np.full(buckets, 127, dtype=np.int64)
        np.minimum.at(worst, b, posture.astype(np.int64))
        cols = np.flatnonzero(worst != 127)
        width = (t1 - t0) / buckets
        t, posture = t0 + cols * width, worst[cols]
        change = np.flatnonzero(np.r_[True, posture[1:] != posture[:-1]])
    ends = np.r_[t[change[1:]], t_end]
    return [(float(t[i]), float(e), int(posture[i])) for i, e in zip(change, ends)]
