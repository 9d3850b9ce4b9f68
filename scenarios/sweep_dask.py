"""``nor sweep --cluster``: the grid split along its slowest axis across a ``dask.distributed`` cluster.

The grid's configs are in product order (the last parameter varies fastest), so the values of its slowest
axis are contiguous blocks of configs. Each task evaluates whole blocks (:func:`scenarios.sweep.sweep_cases`
on a worker, over the run's cases sent once to every worker); when the slowest axis has fewer values than
the cluster has threads, its blocks are cut along the next axis, and so on. The results are put back in
config order: the same numbers as one local evaluation.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from controller import ControllerConfig

from .sweep import SweepCase, SweepResult, sweep_cases
from .sweep_grid import SweepMetrics

__all__ = ["axis_blocks", "split", "merge", "sweep_block", "sweep_on_cluster"]


def axis_blocks(points: np.ndarray) -> list[int]:
    """The block sizes of the grid's axes, slowest first: how many consecutive configs share each axis's value."""
    n = points.shape[0]
    runs = set()
    for col in points.T:
        change = np.flatnonzero(col != col[0])
        if change.size:
            runs.add(int(change[0]))
    return sorted(runs, reverse=True) or [n]


def split(points: np.ndarray, threads: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, stop)`` config ranges, whole blocks of the slowest axis that gives at least ``threads``
    blocks (the finest axis if none does), grouped into at most ``threads`` tasks."""
    n = points.shape[0]
    sizes = axis_blocks(points)
    block = next((b for b in sizes if n // b >= threads), sizes[-1] if n > 1 else 1)
    blocks = max(1, n // block)
    groups = np.array_split(np.arange(blocks), min(threads, blocks))
    return [(int(g[0]) * block, (int(g[-1]) + 1) * block) for g in groups if g.size]


def merge(parts: Sequence[SweepResult], n_cases: int) -> SweepResult:
    """One result from results over consecutive config ranges (per-case rows re-ordered case-major)."""
    columns = {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns}
    per_case: dict[str, np.ndarray] = {}
    offset = 0
    shaped: dict[str, list[np.ndarray]] = {k: [] for k in parts[0].per_case}
    for p in parts:
        n_cfg = p.columns[next(iter(p.columns))].shape[0]
        for k, v in p.per_case.items():
            v = v.reshape(n_cases, n_cfg)
            shaped[k].append(v + offset if k == "config" else v)
        offset += n_cfg
    for k, blocks in shaped.items():
        per_case[k] = np.concatenate(blocks, axis=1).reshape(-1)
    return SweepResult(columns, per_case, sum(p.steps for p in parts))


def sweep_block(configs: Sequence[ControllerConfig], cases: Sequence[SweepCase], metrics: SweepMetrics,
                expected: Mapping[str, Any]) -> SweepResult:
    """On a worker: refuse if it is not like the client, then evaluate its configs over every case."""
    from .cluster_task import WorkerMismatch, identity, worker_info

    if identity(worker_info()) != dict(expected):
        raise WorkerMismatch(f"worker on {worker_info()['host']} differs from the client")
    return sweep_cases(configs, cases, metrics)


def sweep_on_cluster(session: Any, configs: Sequence[ControllerConfig], points: np.ndarray,
                     cases: Sequence[SweepCase], metrics: SweepMetrics) -> tuple[SweepResult, list[tuple[int, int]]]:
    """Evaluate the grid on the session's cluster; the merged result and the config ranges of the tasks."""
    ranges = split(points, session.nthreads)
    [shared_cases] = session.client.scatter([list(cases)], broadcast=True)
    futures = [session.client.submit(sweep_block, list(configs[a:b]), shared_cases, metrics, session.expected,
                                     key=f"nor-sweep-{a}-{b}-{id(points):x}", pure=False) for a, b in ranges]
    parts = [session.result(f) for f in futures]
    return merge(parts, len(cases)), ranges
