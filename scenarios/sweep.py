"""``nor sweep``: many controller configs over a run's recorded signals, open loop, with the batch kernel.

Inputs, per case of the run: ``signals_observed.parquet`` (what the agent's controller saw) and the
case's fault schedule (the manifest's per-seed faults, else the scenario's). Each case is cut into
windows: one per group of overlapping faults, from the first start to the last heal plus ``grace_s``
(an instantaneous fault lasts ``instant_window_s``), and label 0 for every other step. **No-fault
signals are the steps outside every fault window** (the whole of a fault-free scenario such as
``nominal``, and each case's steps before, between and after its faults, recovery included), so no
``nofault`` companion is needed.

Per config, summed over the cases (``evaluate_batch`` accumulates per window inside its loop; no
per-step series is kept):

* **tax**: mean ``1 - r_total`` over no-fault steps, and the fraction of no-fault time out of APEX;
* **protection**: mean over fault windows of ``1 - min r_total`` (how low) and of the seconds from
  the window's start to the first ``r_total < react_below`` (how fast);
* **invariant misses**: windows where an invariant broke but HIBERNATE came later than that step;
* **chatter**: posture switches per hour, and the most in any sliding hour (of any case);
* **misses**: windows of a scenario that requires a reaction (an expectation among
  :data:`REACTION_CHECKS`, an ``r_total_within``/``layer_within`` with ``max`` < 1, or an invariant
  broken in the window) where r_total never went below
  ``react_below``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from controller import ControllerConfig, evaluate_batch, plan_batch
from controller import kernel as k
from reports.manifest import Fault, read_manifest
from reports.traces import read_table
from traceio import trace_path

from .errors import ScenarioFileError
from .sweep_grid import Grid, SweepMetrics

__all__ = ["REACTION_CHECKS", "SweepCase", "SweepResult", "load_cases", "sweep_cases"]

REACTION_CHECKS = frozenset({"hibernate_within", "posture_reached", "r_total_reaches", "layer_reaches", "taker_off",
                             "no_entries_in"})
"""Expectations that require the controller to react to the scenario's faults (as does an ``r_total_within``
or ``layer_within`` with a ``max`` below 1)."""


def _requires_reaction(expectations) -> bool:
    return any(e.check in REACTION_CHECKS or (e.check in ("r_total_within", "layer_within")
                                               and isinstance(e.params.get("max"), (int, float))
                                               and e.params["max"] < 1.0) for e in expectations)


@dataclass(frozen=True)
class SweepCase:
    """One recorded case: its observed signals, a window label per step and each window's start."""

    name: str
    signals: dict[str, np.ndarray]
    labels: np.ndarray
    starts: tuple[float, ...]          # start of window 1.. (label 0 is no-fault)
    requires_reaction: bool
    nofault_s: float                   # seconds of no-fault steps (their intervals)

    @property
    def n_steps(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class SweepResult:
    """Per-config suite metrics (``columns``: name -> array over configs) and per-case rows."""

    columns: dict[str, np.ndarray]
    per_case: dict[str, np.ndarray]
    steps: int


def _windows(faults: Sequence[Fault], duration_s: float, m: SweepMetrics) -> list[tuple[float, float]]:
    spans = sorted((f.at_s, min(duration_s, f.end_s + m.grace_s) if f.for_s > 0 or not f.heals
                    else f.at_s + m.instant_window_s) for f in faults)
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _labels(t: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    labels = np.zeros(t.shape[0], dtype=np.int64)
    for w, (a, b) in enumerate(windows, start=1):
        labels[(t >= a) & (t < b)] = w
    return labels


def load_cases(run_dir: Path, metrics: SweepMetrics) -> tuple[list[SweepCase], ControllerConfig]:
    """Every judged case of a run directory, and the run's controller config (the grid's default base)."""
    manifest, raw = read_manifest(run_dir)
    ctl = raw.get("controller", {}).get("config")
    if not isinstance(ctl, dict):
        raise ScenarioFileError(str(manifest.path), "controller.config", "the run's controller config (recorded)")
    base = ControllerConfig.from_mapping(ctl, source=f"{manifest.path}: controller.config")
    cases = []
    for s in manifest.scenarios:
        requires = _requires_reaction(s.expectations)
        for run in s.runs:
            if run.verdict == "ERROR" or not run.dir:
                continue
            table = read_table(trace_path(run_dir / run.dir, "signals_observed"), ("t_s",))
            signals = {n: np.asarray(table.column(n).to_numpy(zero_copy_only=False), dtype=np.float64)
                       for n in table.column_names if n != "step"}
            faults = run.faults if run.faults is not None else s.faults
            windows = _windows(faults, s.duration_s, metrics)
            labels = _labels(signals["t_s"], windows)
            dt = np.r_[0.0, np.diff(signals["t_s"])]
            cases.append(SweepCase(f"{s.name}/{run.seed}", signals, labels, tuple(a for a, _ in windows), requires,
                                   float(dt[labels == 0].sum())))
    if not cases:
        raise ScenarioFileError(str(manifest.path), "scenarios", "at least one judged case with recorded signals")
    return cases, base


def _case_metrics(case: SweepCase, ws: np.ndarray, hours: float) -> dict[str, np.ndarray]:
    """Per-config metrics of one case from its window statistics ws (C, W, WA_SIZE)."""
    nofault = ws[:, 0]
    n0 = nofault[:, k.WA_STEPS]
    out = {"nofault_steps": n0, "nofault_r_sum": nofault[:, k.WA_SUM],
           "nofault_out_of_apex_s": nofault[:, k.WA_OUT_OF_APEX_S]}
    n_win = len(case.starts)
    depth = np.zeros(ws.shape[0])
    react_s = np.zeros(ws.shape[0])
    reacted = np.zeros(ws.shape[0])
    misses = np.zeros(ws.shape[0])
    inv_misses = np.zeros(ws.shape[0])
    for w in range(1, n_win + 1):
        row = ws[:, w]
        if not row[:, k.WA_STEPS].any():
            continue
        depth += 1.0 - np.where(np.isfinite(row[:, k.WA_MIN]), row[:, k.WA_MIN], 1.0)
        first = row[:, k.WA_REACT]
        ok = ~np.isnan(first)
        react_s += np.where(ok, first - case.starts[w - 1], 0.0)
        reacted += ok
        inv = row[:, k.WA_INVARIANT]
        required = case.requires_reaction | ~np.isnan(inv)
        misses += required & ~ok
        inv_misses += ~np.isnan(inv) & ~(row[:, k.WA_HIBERNATE] == inv)
    switches = ws[:, :, k.WA_SWITCHES].sum(axis=1)
    out.update(windows=np.full(ws.shape[0], float(n_win)), depth_sum=depth, react_s_sum=react_s, reacted=reacted,
               misses=misses, invariant_misses=inv_misses, switches=switches, hours=np.full(ws.shape[0], hours))
    return out


def _concatenated(cases: Sequence[SweepCase], names: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                              np.ndarray, np.ndarray]:
    """Every case's signals end to end (the columns the configs read), with case starts and global window labels.

    Returns (columns, start index of each case, label per step, first label of each case).
    """
    columns = {}
    for name in ("t_s", *names):
        missing = [c.name for c in cases if name not in c.signals]
        if missing:
            raise ScenarioFileError(missing[0], "signals_observed", f"a column {name!r} read by the grid's configs")
        columns[name] = np.concatenate([np.asarray(c.signals[name], dtype=np.float64) for c in cases])
    sizes = np.array([c.n_steps for c in cases], dtype=np.int64)
    offsets = np.r_[0, np.cumsum([len(c.starts) + 1 for c in cases])[:-1]].astype(np.int64)
    labels = np.concatenate([c.labels + off for c, off in zip(cases, offsets)])
    return columns, np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64), labels, offsets


def sweep_cases(configs: Sequence[ControllerConfig], cases: Sequence[SweepCase], metrics: SweepMetrics) -> SweepResult:
    """Evaluate every config over every case (open loop, one kernel pass) and reduce to per-config suite metrics."""
    plan = plan_batch(configs)
    cases = [c for c in cases if c.n_steps]
    if not cases:
        raise ScenarioFileError("run directory", "scenarios", "at least one judged case with recorded steps")
    columns, starts, labels, offsets = _concatenated(cases, plan.signal_names)
    res = evaluate_batch(plan, columns, outputs="summary", windows=labels, react_below=metrics.react_below,
                         segments=starts)
    total: dict[str, np.ndarray] = {}
    per_case: dict[str, list[np.ndarray]] = {"case": [], "config": [], "tax": [], "depth": [], "misses": [],
                                             "switches": []}
    idx = np.arange(plan.n_configs)
    for case, off in zip(cases, offsets):
        t = case.signals["t_s"]
        hours = max((t[-1] - t[0]) / 3600.0, 1e-9)
        m = _case_metrics(case, res.window_stats[:, off:off + len(case.starts) + 1], hours)
        for key, v in m.items():
            total[key] = total.get(key, 0.0) + v
        per_case["case"].append(np.full(plan.n_configs, case.name, dtype=object))
        per_case["config"].append(idx)
        per_case["tax"].append(1.0 - m["nofault_r_sum"] / np.maximum(m["nofault_steps"], 1))
        per_case["depth"].append(m["depth_sum"] / max(len(case.starts), 1))
        per_case["misses"].append(m["misses"])
        per_case["switches"].append(m["switches"])
    worst_hour = res.worst_hour_switches
    not_hib = res.invariant_not_hibernate
    steps = res.steps_evaluated
    nofault_s = sum(c.nofault_s for c in cases)
    columns = {
        "tax_mean": 1.0 - total["nofault_r_sum"] / np.maximum(total["nofault_steps"], 1),
        "tax_out_of_apex_frac": total["nofault_out_of_apex_s"] / nofault_s if nofault_s > 0 else np.zeros(len(idx)),
        "protection_depth": total["depth_sum"] / np.maximum(total["windows"], 1),
        "react_s_mean": np.where(total["reacted"] > 0, total["react_s_sum"] / np.maximum(total["reacted"], 1), math.nan),
        "misses": total["misses"].astype(np.int64),
        "invariant_misses": total["invariant_misses"].astype(np.int64) + (not_hib > 0),
        "switches_per_hour": total["switches"] / total["hours"],
        "worst_hour_switches": worst_hour,
    }
    return SweepResult(columns, {key: np.concatenate(v) for key, v in per_case.items()}, steps)


def feasible(columns: dict[str, np.ndarray], metrics: SweepMetrics) -> np.ndarray:
    """No misses of either kind, and chatter bounded in every hour."""
    return ((columns["misses"] == 0) & (columns["invariant_misses"] == 0)
            & (columns["worst_hour_switches"] <= metrics.max_switches_per_hour))


def pareto(tax: np.ndarray, protection: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indices of the configs in ``mask`` not dominated on (lower tax, higher protection), by tax."""
    cand = np.flatnonzero(mask)
    order = cand[np.lexsort((-protection[cand], tax[cand]))]
    front, best = [], -math.inf
    for i in order:
        if protection[i] > best:
            front.append(i)
            best = protection[i]
    return np.array(front, dtype=np.int64)


def grid_summary(grid: Grid) -> str:
    return ", ".join(f"{p} × {len(v)}" for p, v in zip(grid.paths, grid.values))
