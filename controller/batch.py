"""Batch evaluator: many configs × one recorded signal trace, through the same kernel.

``evaluate_batch(configs, trace)`` runs every config over the whole trace in parallel with the
kernel's batch stages (``kernel.batch_inputs`` / ``batch_layers`` / ``batch_decide``), which call
the same ``input_confidence`` and ``decide`` functions as the scalar ``SurvivalController.step``
(a test checks agreement to 1e-12). Each distinct input row and each distinct layer across the
configs is evaluated once per step; every config then runs only its damping and postures. So a
grid sweep (few distinct values per parameter) is much cheaper per config than configs whose
every parameter differs. ``outputs="full"`` returns the per-step series; ``outputs="summary"``
returns per-config statistics only (10,000 configs × a day of 1 s steps would be 7 GB of float64
series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from . import kernel as k
from . import strict
from .compiled import compile_config
from .config import ControllerConfig
from .errors import BatchInputError

__all__ = ["BatchResult", "evaluate_batch"]

_BLOCK_BYTES = 256 * 1024 * 1024  # stage-1 buffers per time block


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


def _distinct(compiled) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct input rows and distinct layers (tuples of distinct inputs) across configs.

    Returns (input rows U, layer table L (padded with 0), inputs per layer, config -> layer map).
    A layer's raw value depends only on its input rows, so configs that share a layer share
    its stage-1 work.
    """
    inputs: dict[bytes, int] = {}
    layers: dict[tuple[int, ...], int] = {}
    rows: list[np.ndarray] = []
    lmap = np.zeros((len(compiled), max(c.n_layers for c in compiled)), dtype=np.int64)
    for ci, c in enumerate(compiled):
        members: list[list[int]] = [[] for _ in range(c.n_layers)]
        for i in range(c.n_inputs):
            row = c.inp[i].copy()
            row[k.IN_LAYER] = 0.0
            key = row.tobytes()
            if key not in inputs:
                inputs[key] = len(rows)
                rows.append(row)
            members[int(c.inp[i, k.IN_LAYER])].append(inputs[key])
        for j, m in enumerate(members):
            lmap[ci, j] = layers.setdefault(tuple(m), len(layers))
    width = max(len(m) for m in layers)
    L = np.zeros((len(layers), width), dtype=np.int64)
    n_l = np.zeros(len(layers), dtype=np.int64)
    for m, idx in layers.items():
        L[idx, :len(m)] = m
        n_l[idx] = len(m)
    return np.array(rows), L, n_l, lmap


def _signal_matrix(trace: Mapping[str, Sequence[float]], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    if "t_s" not in trace:
        raise BatchInputError("signal trace: expected a 't_s' column (seconds)")
    t = np.ascontiguousarray(np.asarray(trace["t_s"], dtype=np.float64))
    X = np.empty((t.shape[0], len(names)))
    for j, name in enumerate(names):
        if name not in trace:
            raise BatchInputError(f"signal trace: expected a column {name!r} read by a config "
                             "(pass a NaN column to evaluate it as missing)")
        col = np.asarray(trace[name], dtype=np.float64)
        if col.shape != t.shape:
            raise BatchInputError(f"signal trace: column {name!r} has {col.shape[0]} rows, t_s has {t.shape[0]}")
        X[:, j] = col
    return t, X


def evaluate_batch(configs: Sequence[ControllerConfig], trace: Mapping[str, Sequence[float]],
                   outputs: str = "full", max_time_jump_s: float = k.MAX_TIME_JUMP_S) -> BatchResult:
    """Evaluate every config, each from a fresh controller, over ``trace``.

    Parameters:
        configs: controller configs (any mix of layer sets).
        trace: mapping with ``t_s`` and one column per signal read by any config.
        outputs: ``"full"`` (series and summaries) or ``"summary"``.
        max_time_jump_s: as for :class:`SurvivalController` (the same time handling, step for step).
    """
    if outputs not in ("full", "summary"):
        raise BatchInputError(f"outputs: expected 'full' or 'summary', got {outputs!r}")
    if not configs:
        raise BatchInputError("configs: expected at least one ControllerConfig")
    names: dict[str, None] = {}
    for cfg in configs:
        names.update(dict.fromkeys(cfg.signal_names))
    signal_names = tuple(names)
    t, X = _signal_matrix(trace, signal_names)
    compiled = [compile_config(cfg, signal_names) for cfg in configs]
    n_cfg = len(compiled)
    max_l = max(c.n_layers for c in compiled)
    G = np.stack([c.g for c in compiled])
    LAY = np.zeros((n_cfg, max_l, k.LY_SIZE))
    for ci, c in enumerate(compiled):
        LAY[ci, :c.n_layers] = c.lay
    n_lay = np.array([c.n_layers for c in compiled], dtype=np.int64)
    U, L, n_l, lmap = _distinct(compiled)
    full = outputs == "full"
    n_t = t.shape[0]
    shape = (n_cfg, n_t) if full else (1, 1)
    r_out = np.zeros(shape)
    p_out = np.zeros(shape, dtype=np.int8)
    l_out = np.full(shape + (max_l if full else 1,), np.nan)
    summary = np.zeros((n_cfg, 9))
    summary[:, 1] = 1.0
    summary[:, 8] = 3.0
    STATE = np.stack([k.new_state(max_l, 0) for _ in range(n_cfg)])
    OUT = np.zeros((n_cfg, k.out_size(max_l, 0)))
    ustate = np.zeros((U.shape[0], 4))
    try:
        max_jump = strict.number(max_time_jump_s, "evaluate_batch", "max_time_jump_s", 0.0, strict.MAX_SECONDS,
                                 lo_open=True)
    except strict.StrictError as exc:
        raise BatchInputError(str(exc)) from None
    now, dt, flags = k.batch_times(t, max_jump)
    block = int(min(8192, max(256, _BLOCK_BYTES // (9 * (U.shape[0] + L.shape[0])))))
    conf = np.empty((block, U.shape[0]))
    bad = np.empty((block, U.shape[0]), dtype=np.bool_)
    raw = np.empty((block, L.shape[0]))
    invalid = np.empty((block, L.shape[0]), dtype=np.bool_)
    for i0 in range(0, n_t, block):
        i1 = min(n_t, i0 + block)
        k.batch_inputs(U, ustate, X, now, dt, i0, i1, conf, bad)
        k.batch_layers(L, n_l, conf, bad, i1 - i0, raw, invalid)
        k.batch_decide(G, LAY, n_lay, lmap, STATE, OUT, now, dt, flags, i0, i1, raw, invalid,
                full, r_out, p_out, l_out, summary)
    summary[:, 0] /= max(n_t, 1)
    return BatchResult(
        layer_names=tuple(c.layer_names for c in compiled),
        mean_r=summary[:, 0], min_r=summary[:, 1], final_r=summary[:, 2],
        switches=summary[:, 3].astype(np.int64), time_in_posture_s=summary[:, 4:8],
        r_total=r_out if full else None, posture=p_out if full else None, layers=l_out if full else None,
        n_steps=int(t.shape[0]),
    )
