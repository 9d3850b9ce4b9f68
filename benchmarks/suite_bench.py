"""Wall time of the default scenario suite (companions included) at 1 worker and at all workers, and the speed-up.

    .venv/bin/python benchmarks/suite_bench.py            # the default suite with its default seeds
    .venv/bin/python benchmarks/suite_bench.py --quick    # seed 1 only, no companions (a fast look)

Target: the default suite with its default seeds and companions finishes in <= 5 minutes on 2 cores. Worker
processes run with ``OPENBLAS_NUM_THREADS=1`` (``scenarios.runner.WORKER_ENV``). The machine may be shared: the
load average before and after is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from scenarios import load_scenarios
from scenarios.cli import DEFAULT_SUITE
from scenarios.runner import RunOptions, run_suite

TARGET_S = 300.0


def _time(jobs: int, seeds: int | None, companions: bool) -> tuple[float, int, dict[str, int]]:
    scenarios = load_scenarios([DEFAULT_SUITE])
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as tmp:
        t0 = time.perf_counter()
        result = run_suite(scenarios, RunOptions(out=Path(tmp), jobs=jobs, seeds=seeds, companions=companions,
                                                 progress=False, report=False), echo=lambda _line: None)
        wall = time.perf_counter() - t0
    return wall, len(result.results), result.manifest["verdicts"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 1 only and no companion runs")
    parser.add_argument("--skip-serial", action="store_true", help="only the all-workers run")
    args = parser.parse_args()
    seeds, companions = (1, False) if args.quick else (None, True)
    cores = os.cpu_count() or 1
    print(f"default suite: {DEFAULT_SUITE}; cores={cores}; {'quick (seed 1, no companions)' if args.quick else 'default seeds, companions on'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    par, cases, verdicts = _time(cores, seeds, companions)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"jobs={cores}: {par:8.1f} s wall for {cases} cases ({par / cases:.2f} s/case); verdicts {verdicts}")
    print(f"target <= {TARGET_S:.0f} s on 2 cores: {'met' if par <= TARGET_S else 'MISSED'}")
    if not args.skip_serial and cores > 1:
        ser, _, _ = _time(1, seeds, companions)
        print(f"jobs=1: {ser:8.1f} s wall")
        print(f"speed-up at {cores} workers: {ser / par:.2f}x (ideal {cores}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
