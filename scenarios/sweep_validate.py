"""``nor sweep --validate``: the top configs through the twin (closed loop), compared with the open-loop sweep.

Each top config runs the swept run's scenario files (their own seeds, no companions, no report) as
``nor run --controller top.toml`` would. Open-loop replay cannot see feedback through drawdown,
orders and fills, so for each config this prints the verdicts and the open-loop vs closed-loop
tax and protection, both measured the same way (``sweep`` windows over the recorded ``r_total``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from reports.manifest import load_manifest
from reports.traces import read_table
from traceio import trace_path

from .errors import ScenarioFileError
from .sweep import load_cases
from .sweep_out import SweepRun

__all__ = ["validate_top", "closed_loop_metrics"]


def closed_loop_metrics(run_dir: Path, run: SweepRun) -> tuple[float, float]:
    """(tax_mean, protection_depth) of a twin run from its recorded decisions, with the sweep's windows."""
    cases, _ = load_cases(run_dir, run.grid.metrics)
    manifest = load_manifest(run_dir)
    dirs = [run_dir / r.dir for s in manifest.scenarios for r in s.runs if r.verdict != "ERROR" and r.dir]
    r_sum = n0 = depth = windows = 0.0
    for case, case_dir in zip(cases, dirs):
        r = np.asarray(read_table(trace_path(case_dir, "decisions"), ("r_total",)).column("r_total").to_numpy())
        labels = case.labels
        if r.shape != labels.shape:          # decisions and observed signals are written per step
            raise ScenarioFileError(str(case_dir), "decisions.parquet", "one decision per observed signal row")
        r_sum += float(r[labels == 0].sum())
        n0 += float((labels == 0).sum())
        for w in range(1, int(labels.max(initial=0)) + 1):
            if (labels == w).any():
                depth += 1.0 - float(r[labels == w].min())
                windows += 1
    return 1.0 - r_sum / max(n0, 1.0), depth / max(windows, 1.0)


def _scenario_files(run: SweepRun) -> list[Path]:
    manifest = load_manifest(run.run_dir)
    files = []
    for i, s in enumerate(manifest.scenarios):
        p = Path(s.file)
        if not p.is_file():
            raise ScenarioFileError(str(manifest.path), f"scenarios[{i}].file",
                                    "a scenario file that still exists (paths are relative to where nor run ran)",
                                    s.file)
        files.append(p)
    return files


def validate_top(run: SweepRun, best: Sequence[int], files: Sequence[Path], out: Path, jobs: int,
                 cluster: str | None = None) -> int:
    """Run each top config closed loop; print verdicts and open vs closed loop; exit 0 if all pass, else 1."""
    from .loader import load_scenarios
    from .runner import EXIT_OK, RunOptions, exit_code, run_suite

    scenario_files = _scenario_files(run)
    every: list[str] = []
    for i, path in zip(best, files):
        scenarios = load_scenarios(scenario_files, controller=str(path))
        opts = RunOptions(out=out / "validate", jobs=jobs, controller=str(path.resolve()), companions=False,
                          command=f"nor run --controller {path}", progress=False, report=False, cluster=cluster)
        result = run_suite(scenarios, opts)
        verdicts = [r.verdict for r in result.results]
        tax, depth = closed_loop_metrics(result.run_dir, run)
        cols = run.result.columns
        counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
        print(f"validate config {i} ({path.name}): {', '.join(f'{v} {n}' for v, n in counts.items()) or '-'} "
              f"-> {result.run_dir}")
        print(f"  tax        open loop {cols['tax_mean'][i]:.4f}  closed loop {tax:.4f}  "
              f"(diff {_diff(tax, cols['tax_mean'][i])})")
        print(f"  protection open loop {cols['protection_depth'][i]:.4f}  closed loop {depth:.4f}  "
              f"(diff {_diff(depth, cols['protection_depth'][i])})")
        every += verdicts
    return exit_code(every) if every else EXIT_OK


def _diff(closed: float, open_: float) -> str:
    """closed − open to 4 decimals; a difference that rounds to zero prints +0.0000, never -0.0000."""
    return f"{round(closed - open_, 4) + 0.0:+.4f}"
