"""``nor sweep`` end to end: 10,000 configs × every case of a recorded run (default: the default suite).

Usage: ``python benchmarks/sweep_bench.py RUN_DIR`` (a ``nor run`` of the default suite; companions are
not needed). Builds a grid of 10 values × 4 parameters in 4 layers (``NOR_BENCH_CONFIGS`` to shrink it),
then times each phase of ``nor sweep`` — reading the run, building and validating the configs, the batch
over every case, writing the outputs — and prints controller-steps/s and the load average (the machine
may be shared). Target (issue 16): under 60 s end to end on 2 cores.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from controller import evaluate_batch, plan_batch
from scenarios.sweep import load_cases, sweep_cases
from scenarios.sweep_grid import grid_configs, load_grid
from scenarios.sweep_out import SweepRun, write_outputs

GRID = """
[[param]]
path = "layers.mc_forewarner.inputs.mc_forewarner.age_s.half_life"
range = [300.0, 3000.0, 10]
[[param]]
path = "layers.exf.inputs.exf.age_s.deadband"
range = [300.0, 1800.0, 10]
[[param]]
path = "layers.ob_streamer.inputs.ob.age_s.half_life"
range = [10.0, 120.0, 10]
[[param]]
path = "postures.apex.enter"
range = [0.88, 0.97, {n}]
"""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    run_dir = Path(argv[0])
    n_last = max(1, int(os.environ.get("NOR_BENCH_CONFIGS", "10000")) // 1000)
    with tempfile.TemporaryDirectory() as tmp:
        grid_file = Path(tmp) / "grid.toml"
        grid_file.write_text(GRID.format(n=n_last))
        t0 = time.perf_counter()
        grid = load_grid(grid_file)
        cases, base = load_cases(run_dir, grid.metrics)
        t1 = time.perf_counter()
        configs, points = grid_configs(grid, base)
        t2 = time.perf_counter()
        evaluate_batch(plan_batch(configs[:2]), cases[0].signals, outputs="summary",
                       windows=cases[0].labels)  # compile (cached on disk after the first run)
        t3 = time.perf_counter()
        result = sweep_cases(configs, cases, grid.metrics)
        t4 = time.perf_counter()
        run = SweepRun(run_dir, grid, configs, points, result, t4 - t3)
        write_outputs(run, Path(tmp) / "out", 5)
        t5 = time.perf_counter()
    steps = sum(c.n_steps for c in cases)
    total = (t2 - t0) + (t5 - t3)
    print(f"sweep: {len(configs)} configs x {len(cases)} cases ({steps:,} recorded steps) = "
          f"{result.steps:,} controller steps on {numba.get_num_threads()} threads")
    print(f"  read run {t1 - t0:.2f} s, build+validate configs {t2 - t1:.2f} s, (compile {t3 - t2:.2f} s), "
          f"batch {t4 - t3:.2f} s = {result.steps / (t4 - t3) / 1e6:.1f} M controller-steps/s, "
          f"outputs {t5 - t4:.2f} s")
    print(f"  end to end (without compile) {total:.1f} s = {result.steps / total / 1e6:.1f} M steps/s "
          f"[target < 60 s: {'OK' if total < 60 else 'MISSED'}]; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    ok = int(np.sum(result.columns["misses"] == 0))
    print(f"  configs with no miss: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
