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

Window statistics: ``windows`` gives each step a window label (-1: none); the kernel accumulates,
per config and label, the sum and min of r_total, the first time r_total < ``react_below``, the
first time in HIBERNATE and the first invariant break, posture switches, time out of APEX and steps
(``BatchResult.window_stats``, columns ``kernel.WA_*``) inside its one loop, with no per-step series.
``plan_batch(configs)`` compiles a grid once for many traces (one call per recorded case).
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

__all__ = ["BatchResult", "BatchPlan", "plan_batch", "evaluate_batch", "WINDOW_COLUMNS"]

WINDOW_COLUMNS = ("sum_r", "min_r", "first_react_t_s", "first_hibernate_t_s", "switches", "out_of_apex_s",
                  "steps", "first_invariant_t_s")
"""Names of ``BatchResult.window_stats``' last axis (``kernel.WA_*`` order)."""

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
    window_stats: np.ndarray | None = None          # (C, W, kernel.WA_SIZE) when windows were given
    worst_hour_switches: np.ndarray | None = None   # (C,) most switches in any sliding hour (saturates at 64)
    invariant_not_hibernate: np.ndarray | None = None  # (C,) steps with an invariant broken, not in HIBERNATE

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


@dataclass(frozen=True)
class BatchPlan:
    """Configs compiled once for any number of traces (see :func:`plan_batch`)."""

    signal_names: tuple[str, ...]
    layer_names: tuple[tuple[str, ...], ...]
    G: np.ndarray
    LAY: np.ndarray
    n_lay: np.ndarray
    U: np.ndarray
    L: np.ndarray
    n_l: np.ndarray
    lmap: np.ndarray

    @property
    def n_configs(self) -> int:
        return int(self.G.shape[0])


def plan_batch(configs: Sequence[ControllerConfig]) -> BatchPlan:
    """Compile ``configs`` and find their distinct inputs and layers, once for many traces."""
    if not configs:
        raise BatchInputError("configs: expected at least one ControllerConfig")
    names: dict[str, None] = {}
    for cfg in configs:
        names.update(dict.fromkeys(cfg.signal_names))
    signal_names = tuple(names)
    compiled = [compile_config(cfg, signal_names) for cfg in configs]
    max_l = max(c.n_layers for c in compiled)
    LAY = np.zeros((len(compiled), max_l, k.LY_SIZE))
    for ci, c in enumerate(compiled):
        LAY[ci, :c.n_layers] = c.lay
    U, L, n_l, lmap = _distinct(compiled)
    return BatchPlan(signal_names, tuple(c.layer_names for c in compiled), np.stack([c.g for c in compiled]), LAY,
                     np.array([c.n_layers for c in compiled], dtype=np.int64), U, L, n_l, lmap)


def _labels(windows: Sequence[int] | np.ndarray | None, n_t: int) -> tuple[np.ndarray, int]:
    if windows is None:
        return np.full(n_t, -1, dtype=np.int64), 1
    label = np.asarray(windows)
    if label.shape != (n_t,) or label.dtype.kind not in "iu":
        raise BatchInputError(f"windows: expected one integer label per step ({n_t}), got shape {label.shape} "
                              f"of {label.dtype}")
    label = np.ascontiguousarray(label, dtype=np.int64)
    if n_t and label.min() < -1:
        raise BatchInputError("windows: expected labels >= -1 (-1: no window)")
    return label, int(label.max(initial=-1)) + 1 or 1


def evaluate_batch(configs: Sequence[ControllerConfig] | BatchPlan, trace: Mapping[str, Sequence[float]],
                   outputs: str = "full", max_time_jump_s: float = k.MAX_TIME_JUMP_S,
                   windows: Sequence[int] | np.ndarray | None = None, react_below: float = 1.0) -> BatchResult:
    """Evaluate every config, each from a fresh controller, over ``trace``.

    Parameters:
        configs: controller configs (any mix of layer sets), or a :class:`BatchPlan` of them.
        trace: mapping with ``t_s`` and one column per signal read by any config.
        outputs: ``"full"`` (series and summaries) or ``"summary"``.
        max_time_jump_s: as for :class:`SurvivalController` (the same time handling, step for step).
        windows: optional window label per step (-1: none); fills ``window_stats``.
        react_below: r_total below this counts as a reaction (``first_react_t_s``).
    """
    if outputs not in ("full", "summary"):
        raise BatchInputError(f"outputs: expected 'full' or 'summary', got {outputs!r}")
    plan = configs if isinstance(configs, BatchPlan) else plan_batch(configs)
    t, X = _signal_matrix(trace, plan.signal_names)
    G, LAY, n_lay, U, L, n_l, lmap = plan.G, plan.LAY, plan.n_lay, plan.U, plan.L, plan.n_l, plan.lmap
    n_cfg = plan.n_configs
    max_l = LAY.shape[1]
    full = outputs == "full"
    n_t = t.shape[0]
    label, n_w = _labels(windows, n_t)
    try:
        react = strict.number(react_below, "evaluate_batch", "react_below", 0.0, 1.0)
    except strict.StrictError as exc:
        raise BatchInputError(str(exc)) from None
    WACC = np.zeros((n_cfg, n_w, k.WA_SIZE))
    WACC[:, :, k.WA_MIN] = np.inf
    WACC[:, :, [k.WA_REACT, k.WA_HIBERNATE, k.WA_INVARIANT]] = np.nan
    RING = np.zeros((n_cfg, k.SWITCH_RING))
    shape = (n_cfg, n_t) if full else (1, 1)
    r_out = np.zeros(shape)
    p_out = np.zeros(shape, dtype=np.int8)
    l_out = np.full(shape + (max_l if full else 1,), np.nan)
    summary = np.zeros((n_cfg, k.SM_SIZE))
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
                full, r_out, p_out, l_out, summary, label, react, WACC, RING)
    summary[:, 0] /= max(n_t, 1)
    return BatchResult(
        layer_names=plan.layer_names,
        mean_r=summary[:, 0], min_r=summary[:, 1], final_r=summary[:, 2],
        switches=summary[:, 3].astype(np.int64), time_in_posture_s=summary[:, 4:8],
        r_total=r_out if full else None, posture=p_out if full else None, layers=l_out if full else None,
        n_steps=int(t.shape[0]),
        window_stats=WACC if windows is not None else None, worst_hour_switches=summary[:, 9].astype(np.int64),
        invariant_not_hibernate=summary[:, 11].astype(np.int64),
    )
