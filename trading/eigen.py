"""Largest eigenvalue of a rolling correlation matrix, maintained incrementally.

:class:`RollingLambda` keeps the window's sums and cross-product matrix up to date with a rank-2
update per push (O(N²)) and finds λ_max of the correlation matrix by power iteration warm-started
from the previous scan's eigenvector, without ever forming the correlation matrix
(each iteration is one matrix-vector product). The sums are recomputed exactly once per window
length to stop floating-point drift. :func:`full_lambda_max` is the plain full-recompute baseline.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["RollingLambda", "full_lambda_max"]


@numba.njit(cache=True, fastmath=False)
def _rank2_update(cross: np.ndarray, add: np.ndarray, sub: np.ndarray) -> None:  # pragma: no cover - jit
    n = add.shape[0]
    for i in range(n):
        ai = add[i]
        si = sub[i]
        for j in range(n):
            cross[i, j] += ai * add[j] - si * sub[j]


@numba.njit(cache=True, fastmath=False)
def _matvec(a: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - jit
    # Eight partial sums in a fixed order, combined in a fixed order: as fast as a fast-math reduction, and
    # the same bits on every CPU (fast-math let LLVM pick the association by the host's vector width, so
    # AVX-512 and SSE2 hosts computed different λ_max; a trace must not depend on the host).
    n = x.shape[0]
    m = n - n % 8
    for i in range(n):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for j in range(0, m, 8):
            s0 += a[i, j] * x[j]
            s1 += a[i, j + 1] * x[j + 1]
            s2 += a[i, j + 2] * x[j + 2]
            s3 += a[i, j + 3] * x[j + 3]
            s4 += a[i, j + 4] * x[j + 4]
            s5 += a[i, j + 5] * x[j + 5]
            s6 += a[i, j + 6] * x[j + 6]
            s7 += a[i, j + 7] * x[j + 7]
        for j in range(m, n):
            s0 += a[i, j] * x[j]
        out[i] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(cache=True)
def _power(cross: np.ndarray, total: np.ndarray, count: int, v: np.ndarray,
           tol: float, max_iter: int) -> tuple[float, int]:  # pragma: no cover - jit
    n = v.shape[0]
    mu = total / count
    d = np.empty(n)
    for i in range(n):
        var = cross[i, i] / count - mu[i] * mu[i]
        d[i] = 1.0 / math.sqrt(var) if var > 1e-300 else 0.0
    lam = 0.0
    w = np.empty(n)
    y = np.empty(n)
    for it in range(max_iter):
        for i in range(n):
            w[i] = d[i] * v[i]
        _matvec(cross, w, y)
        m = 0.0
        for i in range(n):
            m += mu[i] * w[i]
        norm = 0.0
        new_lam = 0.0
        for i in range(n):
            y[i] = d[i] * (y[i] / count - mu[i] * m)
            new_lam += v[i] * y[i]
            norm += y[i] * y[i]
        norm = math.sqrt(norm)
        if norm == 0.0:
            return 0.0, it + 1
        for i in range(n):
            v[i] = y[i] / norm
        if abs(new_lam - lam) <= tol * abs(new_lam):
            return new_lam, it + 1
        lam = new_lam
    return lam, max_iter


class RollingLambda:
    """λ_max of the correlation matrix of the last ``window`` pushed return vectors."""

    def __init__(self, n_assets: int, window: int, tol: float = 1e-10, max_iter: int = 500) -> None:
        self.n = n_assets
        self.window = window
        self.tol = tol
        self.max_iter = max_iter
        self._buf = np.zeros((window, n_assets))
        self._sum = np.zeros(n_assets)
        self._cross = np.zeros((n_assets, n_assets))
        self._zero = np.zeros(n_assets)
        self._count = 0
        self._pos = 0
        self._since_refresh = 0
        self._v = np.full(n_assets, 1.0 / math.sqrt(n_assets))
        self.last_iterations = 0

    @property
    def count(self) -> int:
        return self._count

    def clear(self) -> None:
        """Forget the window (a restarted scanner starts empty)."""
        self.__init__(self.n, self.window, self.tol, self.max_iter)

    def push(self, x: np.ndarray) -> None:
        old = self._buf[self._pos].copy() if self._count == self.window else self._zero
        self._buf[self._pos] = x
        self._pos = (self._pos + 1) % self.window
        self._count = min(self._count + 1, self.window)
        self._since_refresh += 1
        if self._since_refresh >= self.window:
            self._refresh()
            return
        self._sum += x
        self._sum -= old
        _rank2_update(self._cross, x, old)

    def _refresh(self) -> None:
        rows = self._buf[: self._count] if self._count < self.window else self._buf
        self._sum = rows.sum(axis=0)
        self._cross = rows.T @ rows
        self._since_refresh = 0

    def lambda_max(self) -> float:
        """λ_max of the window's correlation matrix (0.0 with fewer than 3 observations)."""
        if self._count < 3:
            return 0.0
        lam, self.last_iterations = _power(self._cross, self._sum, self._count, self._v, self.tol, self.max_iter)
        return lam

    def leading_vector(self) -> np.ndarray:
        return self._v

    def window_rows(self) -> np.ndarray:
        """The window's rows (order not preserved), for the baseline and tests."""
        return self._buf[: self._count] if self._count < self.window else self._buf


def full_lambda_max(rows: np.ndarray) -> float:
    """Baseline: λ_max from a full correlation matrix and a full symmetric eigendecomposition."""
    c = np.corrcoef(rows, rowvar=False)
    c = np.nan_to_num(c)
    return float(np.linalg.eigvalsh(c)[-1])
