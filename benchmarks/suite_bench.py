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


def _parent_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _time(jobs: int, seeds: int | None, companions: bool) -> tuple[float, list, dict[str, int], int, float]:
    """(wall s, case results, verdict counts, trace bytes, CPU s of this parent process: scheduling, writing, report)."""
    scenarios = load_scenarios([DEFAULT_SUITE])
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as tmp:
        cpu0, t0 = _parent_cpu_s(), time.perf_counter()
        result = run_suite(scenarios, RunOptions(out=Path(tmp), jobs=jobs, seeds=seeds, companions=companions,
                                                 progress=False, report=False), echo=lambda _line: None)
        wall, parent_cpu = time.perf_counter() - t0, _parent_cpu_s() - cpu0
        traces = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
    return wall, result.results, result.manifest["verdicts"], traces, parent_cpu


def _cpu_lines(results: list, wall: float) -> list[str]:
    """CPU seconds per worker process (each case measures its own process's CPU) and the costliest scenarios."""
    per_worker: dict[int, float] = {}
    per_scenario: dict[str, float] = {}
    for r in results:
        per_worker[r.worker] = per_worker.get(r.worker, 0.0) + r.cpu_s
        per_scenario[r.scenario] = per_scenario.get(r.scenario, 0.0) + r.cpu_s
    total = sum(per_worker.values())
    lines = [f"CPU of the cases: {total:.1f} s in all; per worker "
             + ", ".join(f"{cpu:.1f} s ({cpu / wall:.0%} of wall)" for cpu in sorted(per_worker.values(), reverse=True))]
    top = sorted(per_scenario.items(), key=lambda kv: -kv[1])[:8]
    lines.append("costliest scenarios (CPU s, all seeds and companions): "
                 + ", ".join(f"{name} {cpu:.1f}" for name, cpu in top))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 1 only and no companion runs")
    parser.add_argument("--skip-serial", action="store_true", help="only the all-workers run")
    args = parser.parse_args()
    seeds, companions = (1, False) if args.quick else (None, True)
    cores = os.cpu_count() or 1
    print(f"default suite: {DEFAULT_SUITE}; cores={cores}; {'quick (seed 1, no companions)' if args.quick else 'default seeds, companions on'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    par, results, verdicts, traces, parent_cpu = _time(cores, seeds, companions)
    cases = len(results)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"jobs={cores}: {par:8.1f} s wall for {cases} cases ({par / cases:.2f} s/case); verdicts {verdicts}")
    for line in _cpu_lines(results, par):
        print(line)
    print(f"parent process (scheduling, collecting results, manifest): {parent_cpu:.1f} CPU-s")
    print(f"target <= {TARGET_S:.0f} s on 2 cores: {'met' if par <= TARGET_S else 'MISSED'}")
    print(f"trace files (Parquet, companions included): {traces / 1e6:.1f} MB ({traces / cases / 1e6:.2f} MB/case)")
    if not args.skip_serial and cores > 1:
        ser, _, _, _, _ = _time(1, seeds, companions)
        print(f"jobs=1: {ser:8.1f} s wall")
        print(f"speed-up at {cores} workers: {ser / par:.2f}x (ideal {cores}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
