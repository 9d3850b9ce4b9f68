"""The eigenvalue scanner: each scan turns the latest log prices into v50, v750, vel_div and the
ranked assets, incrementally (:class:`~trading.eigen.RollingLambda`).

v50 and v750 are λ_max of the correlation matrices of the returns over the short and long
windows (between 1 and N); vel_div is the short window's λ velocity minus the long one's (λ
units per scan), 0 until the short window is full; ``ranked`` lists the assets most loaded on
the short window's leading eigenvector (stable order). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from .eigen import RollingLambda

__all__ = ["RANKED_ASSETS", "EigenScanner", "Scan"]

RANKED_ASSETS = 10


class Scan(NamedTuple):
    """One scan's features (the twin's scan record payload)."""

    seq: int
    v50: float
    v750: float
    vel_div: float
    ranked: tuple[int, ...]


class EigenScanner:
    """Rolling λ_max over ``short_window`` and ``long_window`` scans of ``n_assets`` returns."""

    def __init__(self, n_assets: int, short_window: int = 50, long_window: int = 750,
                 ranked_assets: int = RANKED_ASSETS) -> None:
        self.n = n_assets
        self.short = RollingLambda(n_assets, short_window)
        self.long = RollingLambda(n_assets, long_window)
        self.ranked_assets = ranked_assets
        self._prev_log: np.ndarray | None = None
        self._prev_v = (0.0, 0.0)
        self.seq = 0
        self.last = (0.0, 0.0, 0.0)

    def seed(self, long_returns: Iterable[np.ndarray], short_returns: Iterable[np.ndarray],
             log_prices: np.ndarray) -> None:
        """Fill the windows with history (returns before the first scan) and set the base prices."""
        for row in long_returns:
            self.long.push(row)
        for row in short_returns:
            self.short.push(row)
        self._prev_log = log_prices
        self._prev_v = (self.short.lambda_max(), self.long.lambda_max())

    def restart(self, log_prices: np.ndarray | None) -> None:
        """A restarted scanner: empty windows, new base prices."""
        self.short.clear()
        self.long.clear()
        self._prev_log = log_prices
        self._prev_v = (0.0, 0.0)

    def scan(self, log_prices: np.ndarray) -> Scan:
        """One scan at ``log_prices`` (the first call without a seed only sets the base prices)."""
        if self._prev_log is None:
            self._prev_log = log_prices
        ret = log_prices - self._prev_log
        self._prev_log = log_prices
        self.short.push(ret)
        self.long.push(ret)
        v50 = self.short.lambda_max()
        v750 = self.long.lambda_max()
        ready = self.short.count >= self.short.window
        vel_div = ((v50 - self._prev_v[0]) - (v750 - self._prev_v[1])) if ready else 0.0
        self._prev_v = (v50, v750)
        load = np.abs(self.short.leading_vector())
        ranked = tuple(int(i) for i in np.argsort(-load, kind="stable")[: self.ranked_assets])
        self.seq += 1
        self.last = (v50, v750, vel_div)
        return Scan(self.seq, v50, v750, vel_div, ranked)
