"""``nor sweep RUN_DIR --grid grid.toml [--top K] [--validate]``: the command, as a function."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .sweep import grid_summary, load_cases, sweep_cases
from .sweep_grid import grid_configs, load_grid
from .sweep_out import SweepRun, write_outputs

__all__ = ["add_parser", "sweep_cli", "run_sweep"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from . import options

    sw = sub.add_parser("sweep", help="evaluate a grid of controller configs over a run's recorded signals (open loop)")
    sw.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sw.add_argument("--grid", type=Path, required=True, help="grid.toml: parameters and their values")
    sw.add_argument("--top", type=options.positive, default=5, help="configs written as TOML files (default 5)")
    sw.add_argument("--out", type=Path, help="output directory (default: RUN_DIR/sweep)")
    sw.add_argument("--validate", action="store_true",
                    help="run the top configs through the twin (closed loop) and print their verdicts")
    sw.add_argument("--jobs", type=options.jobs, help="worker processes for --validate (default: all cores)")
    from .cluster import add_cluster_options
    add_cluster_options(sw, shared=False)


def run_sweep(run_dir: Path, grid_file: Path, cluster: str | None = None) -> SweepRun:
    """Load the grid and the run's cases, evaluate every config (on ``cluster``, a dask.distributed scheduler,
    when given: the grid split along its slowest axis); the library entry point of ``nor sweep``."""
    grid = load_grid(grid_file)
    t0 = time.perf_counter()
    cases, base = load_cases(run_dir, grid.metrics)
    configs, points = grid_configs(grid, base)
    if cluster is None:
        result = sweep_cases(configs, cases, grid.metrics)
    else:
        from .cluster import cluster_session
        from .sweep_dask import sweep_on_cluster
        with cluster_session(cluster) as session:
            result, ranges = sweep_on_cluster(session, configs, points, cases, grid.metrics)
        print(f"nor sweep: {len(ranges)} tasks on {cluster}, configs {', '.join(f'{a}-{b - 1}' for a, b in ranges)}")
    return SweepRun(run_dir, grid, configs, points, result, time.perf_counter() - t0)


def sweep_cli(args: argparse.Namespace) -> int:
    run = run_sweep(args.run_dir, args.grid, args.cluster)
    out = args.out or args.run_dir / "sweep"
    best, files = write_outputs(run, out, args.top)
    cols = run.result.columns
    print(f"nor sweep: {len(run.configs)} configs ({grid_summary(run.grid)}) × {run.result.steps // len(run.configs):,} "
          f"steps of recorded signals: {run.result.steps:,} controller steps in {run.wall_s:.1f} s "
          f"({run.result.steps / max(run.wall_s, 1e-9) / 1e6:.1f} M steps/s)")
    for rank_no, (i, path) in enumerate(zip(best, files), start=1):
        params = ", ".join(f"{p}={v:g}" for p, v in zip(run.grid.paths, run.points[i]))
        print(f"  #{rank_no} config {i} ({params}): tax {cols['tax_mean'][i]:.4f}, "
              f"protection {cols['protection_depth'][i]:.3f}, react {cols['react_s_mean'][i]:.0f} s, "
              f"{cols['switches_per_hour'][i]:.2f} switches/h -> {path}")
    if not files:
        print("  no config is feasible (every one misses a required reaction or chatters)")
    print(out / "sweep.html")
    if args.validate and files:
        from .sweep_validate import validate_top
        return validate_top(run, best, files, out, args.jobs or 0, cluster=args.cluster)
    return 0
