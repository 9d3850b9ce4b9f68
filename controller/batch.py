"""Batch evaluator: many configs × one recorded signal trace, through the same kernel.

``evaluate_batch(configs, trace)`` runs every config over the whole trace in parallel
(numba ``prange`` over configs) with :func:`controller.kernel.step_into`, the function the
scalar ``SurvivalController.step`` calls. ``outputs="full"`` returns the per-step series;
``outputs="summary"`` returns per-config statistics only (10,000 configs × a day of 1 s
steps would be 7 GB of float64 series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from numba import njit, prange

from . import kernel as k
from .compiled import compile_config
from .config import ControllerConfig

__all__ = ["BatchResult", "evaluate_batch"]


@dataclass(frozen=True)
class BatchResult:
    """Outputs of :func:`evaluate_batch`, first axis = config.

    Full mode fills ``r_total`` (C, T), ``posture`` (C, T) int8 and ``layers`` (C, T, L)
    with NaN padding past a config's own layers (``layer_names[c]``). Both modes fill the
    summaries: mean/min/final r_total, posture switches and seconds spent in each posture
    (C, 4, indexed by ``Posture``).
    """

    layer_names: tuple[tuple[str, ...], ...]
    mean_r: np.ndarray
    min_r: np.ndarray
    final_r: np.ndarray
    switches: np.ndarray
    time_in_posture_s: np.ndarray
    r_total: np.ndarray | None = None
    posture: np.ndarray | None = None
    layers: np.ndarray | None = None

    n_steps: int = 0

    @property
    def steps_evaluated(self) -> int:
        """Controller steps run: configs × trace steps."""
        return int(self.mean_r.shape[0]) * self.n_steps


@njit(parallel=True, cache=True, nogil=True)
def _run(G, LAY, INP, n_lay, n_inp, X, t, full, r_out, p_out, l_out, summary):
    n_cfg = G.shape[0]
    n_t = X.shape[0]
    for c in prange(n_cfg):
        nl = n_lay[c]
        ni = n_inp[c]
        lay = LAY[c, :nl]
        inp = INP[c, :ni]
        g = G[c]
        state = np.zeros(k.S_HEAD + nl + 4 * ni)
        state[k.S_POSTURE] = 3.0
        for j in range(nl):
            state[k.S_HEAD + j] = 1.0
        out = np.zeros(k.O_HEAD + 2 * nl + 2 * ni)
        total = 0.0
        low = 1.0
        switches = 0
        previous = 3
        for i in range(n_t):
            k.step_into(g, lay, inp, state, X[i], t[i], out)
            r = out[k.O_R]
            p = int(out[k.O_POSTURE])
            total += r
            if r < low:
                low = r
            if i > 0:
                if p != previous:
                    switches += 1
                summary[c, 4 + previous] += t[i] - t[i - 1]
            previous = p
            if full:
                r_out[c, i] = r
                p_out[c, i] = p
                for j in range(nl):
                    l_out[c, i, j] = out[k.O_HEAD + j]
        summary[c, 0] = total / max(n_t, 1)
        summary[c, 1] = low
        summary[c, 2] = out[k.O_R]
        summary[c, 3] = switches


def _signal_matrix(trace: Mapping[str, Sequence[float]], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    if "t_s" not in trace:
        raise ValueError("signal trace: expected a 't_s' column (seconds)")
    t = np.ascontiguousarray(np.asarray(trace["t_s"], dtype=np.float64))
    X = np.empty((t.shape[0], len(names)))
    for j, name in enumerate(names):
        if name not in trace:
            raise ValueError(f"signal trace: expected a column {name!r} read by a config "
                             "(pass a NaN column to evaluate it as missing)")
        col = np.asarray(trace[name], dtype=np.float64)
        if col.shape != t.shape:
            raise ValueError(f"signal trace: column {name!r} has {col.shape[0]} rows, t_s has {t.shape[0]}")
        X[:, j] = col
    return t, X


def evaluate_batch(configs: Sequence[ControllerConfig], trace: Mapping[str, Sequence[float]],
                   outputs: str = "full") -> BatchResult:
    """Evaluate every config, each from a fresh controller, over ``trace``.

    Parameters:
        configs: controller configs (any mix of layer sets).
        trace: mapping with ``t_s`` and one column per signal read by any config.
        outputs: ``"full"`` (series and summaries) or ``"summary"``.
    """
    if outputs not in ("full", "summary"):
        raise ValueError(f"outputs: expected 'full' or 'summary', got {outputs!r}")
    if not configs:
        raise ValueError("configs: expected at least one ControllerConfig")
    names: dict[str, None] = {}
    for cfg in configs:
        names.update(dict.fromkeys(cfg.signal_names))
    signal_names = tuple(names)
    t, X = _signal_matrix(trace, signal_names)
    compiled = [compile_config(cfg, signal_names) for cfg in configs]
    n_cfg = len(compiled)
    max_l = max(c.n_layers for c in compiled)
    max_i = max(c.n_inputs for c in compiled)
    G = np.stack([c.g for c in compiled])
    LAY = np.zeros((n_cfg, max_l, k.LY_SIZE))
    INP = np.zeros((n_cfg, max_i, k.IN_SIZE))
    for ci, c in enumerate(compiled):
        LAY[ci, :c.n_layers] = c.lay
        INP[ci, :c.n_inputs] = c.inp
    n_lay = np.array([c.n_layers for c in compiled], dtype=np.int64)
    n_inp = np.array([c.n_inputs for c in compiled], dtype=np.int64)
    full = outputs == "full"
    shape = (n_cfg, t.shape[0]) if full else (1, 1)
    r_out = np.zeros(shape)
    p_out = np.zeros(shape, dtype=np.int8)
    l_out = np.full(shape + (max_l if full else 1,), np.nan)
    summary = np.zeros((n_cfg, 8))
    _run(G, LAY, INP, n_lay, n_inp, X, t, full, r_out, p_out, l_out, summary)
    return BatchResult(
        layer_names=tuple(c.layer_names for c in compiled),
        mean_r=summary[:, 0], min_r=summary[:, 1], final_r=summary[:, 2],
        switches=summary[:, 3].astype(np.int64), time_in_posture_s=summary[:, 4:8],
        r_total=r_out if full else None, posture=p_out if full else None, layers=l_out if full else None,
        n_steps=int(t.shape[0]),
    )
