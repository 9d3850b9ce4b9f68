"""Batch evaluator: many configs × recorded signal traces, through the same kernel.

``evaluate_batch(configs, trace)`` runs every config over the whole trace with the kernel's batch
stages, which call the same ``input_confidence``, ``damp_layer`` and ``_next_posture`` as the scalar
``SurvivalController.step`` (tests check agreement bit for bit). Block by block (one case and one
window label each): confidences of each distinct input row, raw values of each distinct layer, damped
values of each distinct layer instance (:mod:`controller.batch_plan`), r_total of each distinct
*signature* (a config's instances that are active in the block, in layer order), then every config's
postures, which skip in O(1) each chunk where the posture provably holds. So a grid sweep (few distinct
values per parameter) costs little per config; configs that share nothing cost their own inputs.
``outputs="full"`` returns the per-step series; ``outputs="summary"`` per-config statistics only
(10,000 configs × a day of 1 s steps would be 7 GB of float64 series).

Window statistics: ``windows`` gives each step a window label (-1: none); per config and label the
kernel accumulates the sum and min of r_total, the first time r_total < ``react_below``, the first time
in HIBERNATE and the first invariant break, posture switches, time out of APEX and steps
(``BatchResult.window_stats``, columns ``kernel.WA_*``), with no per-step series. ``segments`` replays
several concatenated traces (the cases of a run) in one pass, each from a fresh controller.
``plan_batch(configs)`` compiles a grid once for many traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from . import kernel as k
from . import strict
from .batch_plan import BatchPlan, plan_batch
from .config import ControllerConfig
from .errors import BatchInputError

__all__ = ["BatchResult", "BatchPlan", "plan_batch", "evaluate_batch", "WINDOW_COLUMNS"]

WINDOW_COLUMNS = ("sum_r", "min_r", "first_react_t_s", "first_hibernate_t_s", "switches", "out_of_apex_s",
                  "steps", "first_invariant_t_s")
"""Names of ``BatchResult.window_stats``' last axis (``kernel.WA_*`` order)."""

_BLOCK_BYTES = 64 * 1024 * 1024  # per-block buffers (stage outputs per step)
_MIN_BLOCK = 256
_SIGNATURE_CACHE = 64  # active sets remembered (a grid's blocks repeat a few)
_MAX_BLOCK = 4096


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


def _signal_matrix(trace: Mapping[str, Sequence[float]], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    if "t_s" not in trace:
        raise BatchInputError("signal trace: expected a 't_s' column (seconds)")
    t = np.ascontiguousarray(np.asarray(trace["t_s"], dtype=np.float64))
    X = np.empty((len(names), t.shape[0]))       # signal-major: each column contiguous
    for j, name in enumerate(names):
        if name not in trace:
            raise BatchInputError(f"signal trace: expected a column {name!r} read by a config "
                             "(pass a NaN column to evaluate it as missing)")
        col = np.asarray(trace[name], dtype=np.float64)
        if col.shape != t.shape:
            raise BatchInputError(f"signal trace: column {name!r} has {col.shape[0]} rows, t_s has {t.shape[0]}")
        X[j] = col
    return t, X


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


def _segments(segments: Sequence[int] | np.ndarray | None, n_t: int) -> np.ndarray:
    if segments is None:
        return np.zeros(1, dtype=np.int64)
    starts = np.asarray(segments)
    if starts.ndim != 1 or starts.dtype.kind not in "iu" or not starts.size or starts[0] != 0 \
            or np.any(np.diff(starts) <= 0) or starts[-1] > max(n_t - 1, 0):
        raise BatchInputError(f"segments: expected increasing integer start indices from 0, below the trace's "
                              f"{n_t} steps, got {np.asarray(segments).tolist()[:8]}")
    return np.ascontiguousarray(starts, dtype=np.int64)


def _blocks(starts: np.ndarray, label: np.ndarray, n_t: int, size: int) -> list[tuple[int, int, bool]]:
    """(first, end, starts a case) of each block: one case and one window label, at most ``size`` steps."""
    cuts = set(starts.tolist()) | set((np.flatnonzero(np.diff(label)) + 1).tolist())
    edges = sorted(cuts | {n_t})
    case_starts = set(starts.tolist())
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        for i0 in range(a, b, size):
            out.append((i0, min(b, i0 + size), i0 in case_starts))
    return out


class _Signatures:
    """Per block, the distinct signatures (active instances of a tuple, in layer order), cached by active set."""

    def __init__(self, plan: BatchPlan) -> None:
        self._plan = plan
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = active.tobytes()
        hit = self._cache.get(key)
        if hit is None:
            tup = self._plan.TUP
            on = np.r_[active, False][tup]              # -1 (past a config's layers) reads False
            masked = np.where(on, tup, -1)
            uniq, inverse = np.unique(masked, axis=0, return_inverse=True)
            order = np.argsort(uniq < 0, axis=1, kind="stable")   # the active ones first, in layer order
            sig = np.ascontiguousarray(np.take_along_axis(uniq, order, axis=1))
            hit = (sig, np.ascontiguousarray(inverse.reshape(-1)[self._plan.cfg_tup], dtype=np.int64))
            if len(self._cache) >= _SIGNATURE_CACHE:
                self._cache.clear()
            self._cache[key] = hit
        return hit


def evaluate_batch(configs: Sequence[ControllerConfig] | BatchPlan, trace: Mapping[str, Sequence[float]],
                   outputs: str = "full", max_time_jump_s: float = k.MAX_TIME_JUMP_S,
                   windows: Sequence[int] | np.ndarray | None = None, react_below: float = 1.0,
                   segments: Sequence[int] | np.ndarray | None = None) -> BatchResult:
    """Evaluate every config, each from a fresh controller, over ``trace``.

    Parameters:
        configs: controller configs (any mix of layer sets), or a :class:`BatchPlan` of them.
        trace: mapping with ``t_s`` and one column per signal read by any config.
        outputs: ``"full"`` (series and summaries) or ``"summary"``.
        max_time_jump_s: as for :class:`SurvivalController` (the same time handling, step for step).
        windows: optional window label per step (-1: none); fills ``window_stats``.
        react_below: r_total below this counts as a reaction (``first_react_t_s``).
        segments: optional start index of each of several traces concatenated in ``trace`` (the first 0):
            each is replayed from a fresh controller, as separate calls would, in one pass. Summaries add
            up over them (``final_r``: the last one's; ``worst_hour_switches``: the most in any of them).
    """
    if outputs not in ("full", "summary"):
        raise BatchInputError(f"outputs: expected 'full' or 'summary', got {outputs!r}")
    plan = configs if isinstance(configs, BatchPlan) else plan_batch(configs)
    t, X = _signal_matrix(trace, plan.signal_names)
    n_t = t.shape[0]
    label, n_w = _labels(windows, n_t)
    starts = _segments(segments, n_t)
    try:
        react = strict.number(react_below, "evaluate_batch", "react_below", 0.0, 1.0)
        max_jump = strict.number(max_time_jump_s, "evaluate_batch", "max_time_jump_s", 0.0, strict.MAX_SECONDS,
                                 lo_open=True)
    except strict.StrictError as exc:
        raise BatchInputError(str(exc)) from None
    full = outputs == "full"
    n_cfg = plan.n_configs
    max_l = plan.cfg_inst.shape[1]
    WACC = np.zeros((n_cfg, n_w, k.WA_SIZE))
    WACC[:, :, k.WA_MIN] = np.inf
    WACC[:, :, [k.WA_REACT, k.WA_HIBERNATE, k.WA_INVARIANT]] = np.nan
    summary = np.zeros((n_cfg, k.SM_SIZE))
    summary[:, k.SM_MIN] = 1.0
    summary[:, k.SM_POSTURE] = 3.0
    p_out = np.zeros((n_cfg, n_t) if full else (1, 0), dtype=np.int8)
    r_out = np.zeros((n_cfg, n_t)) if full else None
    l_out = np.full((n_cfg, n_t, max_l), np.nan) if full else None
    if n_t:
        _run(plan, t, X, label, starts, max_jump, react, summary, WACC, p_out, r_out, l_out)
    summary[:, k.SM_SUM] /= max(n_t, 1)
    return BatchResult(
        layer_names=plan.layer_names,
        mean_r=summary[:, k.SM_SUM], min_r=summary[:, k.SM_MIN], final_r=summary[:, k.SM_FINAL],
        switches=summary[:, k.SM_SWITCHES].astype(np.int64),
        time_in_posture_s=summary[:, k.SM_IN_POSTURE:k.SM_IN_POSTURE + 4],
        r_total=r_out, posture=p_out if full else None, layers=l_out,
        n_steps=n_t,
        window_stats=WACC if windows is not None else None,
        worst_hour_switches=summary[:, k.SM_WORST_HOUR].astype(np.int64),
        invariant_not_hibernate=summary[:, k.SM_INV_NOT_HIB].astype(np.int64),
    )


def _run(plan: BatchPlan, t, X, label, starts, max_jump, react, summary, WACC, p_out, r_out, l_out) -> None:
    """The block loop: stages 1-5 of the kernel over each block (one case, one window label)."""
    n_t = t.shape[0]
    n_tup = plan.TUP.shape[0]
    n_inst = plan.INST.shape[0]
    per_step = 8 * (plan.U.shape[0] + plan.L.shape[0]) + (25 if r_out is not None else 17) * n_inst + 9 * n_tup
    size = int(min(_MAX_BLOCK, max(_MIN_BLOCK, _BLOCK_BYTES // per_step)))
    now, dt = k.batch_times(t, starts, max_jump)
    conf = np.empty((plan.U.shape[0], size))
    raw = np.empty((plan.L.shape[0], size))
    Y = np.empty((n_inst, size) if r_out is not None else (1, 1))
    PW = np.empty((n_inst, size))
    LIM = np.empty((n_inst, size), dtype=np.int8)
    act_from = np.zeros(n_inst, dtype=np.int64)
    R = np.empty((n_tup, size))
    SL = np.empty((n_tup, size), dtype=np.int8)
    BS = np.empty((n_tup, -(-size // k.CHUNK), k.BS_SIZE))
    ustate = np.zeros((plan.U.shape[0], 4))
    istate = np.ones(n_inst)
    RING = np.zeros((plan.n_configs, k.SWITCH_RING))
    signatures = _Signatures(plan)
    for i0, i1, first in _blocks(starts, label, n_t, size):
        n = i1 - i0
        if first:
            ustate[:] = 0.0
            istate[:] = 1.0
        k.batch_inputs(plan.U, ustate, X, now, dt, i0, i1, conf)
        k.batch_layers(plan.L, plan.n_l, conf, n, raw)
        k.batch_instances(plan.INST, plan.inst_layer, istate, raw, dt, i0, n, r_out is not None, Y, PW, LIM, act_from)
        sig, cfg_sig = signatures(act_from < n)
        k.batch_signatures(sig, sig.shape[0], PW, LIM, act_from, now, i0, n, react, R, SL, BS)
        t_min = np.minimum.reduceat(now[i0:i1], np.arange(0, n, k.CHUNK))
        k.batch_postures(plan.G, cfg_sig, R, SL, BS, now, t_min, i0, n, int(label[i0]), first, summary, WACC, RING,
                         p_out)
        if r_out is not None:
            r_out[:, i0:i1] = R[cfg_sig, :n]
            for j in range(plan.cfg_inst.shape[1]):
                has = plan.cfg_inst[:, j] >= 0
                l_out[has, i0:i1, j] = Y[plan.cfg_inst[has, j], :n]
