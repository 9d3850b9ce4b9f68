"""Report speed and size: seconds to render ``report.html`` (+ summary.md, junit.xml) and its size.

    .venv/bin/python benchmarks/report_bench.py                  # newest default-suite run under runs/,
                                                                 # else a generated 25 scenarios × 2 seeds run
    .venv/bin/python benchmarks/report_bench.py runs/<run-id>    # a given run directory
    .venv/bin/python benchmarks/report_bench.py --default-suite  # run `nor run --seeds 2` first (minutes)

The generated run: one real 6 h twin case (survival controller, MC-Forewarner stale 2 h, a 2 min
ledger desync, all three companions) copied into 25 scenarios × 2 seeds, so the report has the
default suite's shape (50 cases × 4 traces × 21,600 decisions). Targets (issue 5): < 10 MB, < 30 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from controller import make_controller
from reports import render_compare, render_run
from traceio import TraceMeta, case_dir_name, table_files, trace_path, write_table
from twin import World, WorldConfig

DURATION_S = 6 * 3600.0
SCENARIOS, SEEDS = 25, 2
FAULTS = [("sensor_stale", "mc_forewarner", 3600.0, 7200.0, "sensor.mc_forewarner", "stall", "resume"),
          ("ledger_desync", "ledger", 14400.0, 120.0, "ledger", "desync", "resync")]
COMPANION_TABLES = ("decisions", "equity", "orders", "fills")


def _twin(controller: str, with_faults: bool, out: Path, tables: tuple[str, ...] | None) -> None:
    world = World(WorldConfig(), make_controller(controller), 1)
    if with_faults:
        for _, _, at_s, for_s, port, start, stop in FAULTS:
            world.at(at_s, getattr(world.ports[port], start))
            world.at(at_s + for_s, getattr(world.ports[port], stop))
    trace = world.run(DURATION_S)
    for name in tables or tuple(trace.tables):
        write_table(trace_path(out, name), trace[name], TraceMeta("bench", 1))


def generate(root: Path) -> Path:
    """Write the generated run directory under ``root``; returns it."""
    case = root / "_case"
    t0 = time.perf_counter()
    _twin("survival", True, case, None)
    _twin("survival", False, case / "companions" / "nofault", COMPANION_TABLES)
    for comp in ("static_ladder", "seed_template"):
        _twin(comp, True, case / "companions" / comp, COMPANION_TABLES)
    print(f"twin: one 6 h case with 3 companions in {time.perf_counter() - t0:.1f} s")
    own = sum(p.stat().st_size for p in table_files(case))
    every = sum(p.stat().st_size for p in case.rglob("*") if p.is_file())
    print(f"trace files of the case: {own / 1e6:.2f} MB own ({len(table_files(case))} tables), "
          f"{every / 1e6:.2f} MB with companions")
    run_dir = root / "bench-run"
    cfg = make_controller("survival").config
    scenarios = []
    for i in range(SCENARIOS):
        name = f"scenario_{i:02d}"
        runs = []
        for seed in range(1, SEEDS + 1):
            shutil.copytree(case, run_dir / case_dir_name(name, seed), copy_function=os.link)
            runs.append({"seed": seed, "dir": case_dir_name(name, seed), "verdict": "PASS" if i % 5 else "EXPECTATION",
                         "wall_s": 30.0, "replay": f"nor replay runs/bench-run {name} --seed {seed}",
                         "failures": [] if i % 5 else [{"check": "r_total_within", "kind": "expectation",
                                                        "t_s": 3660.0, "message": "r_total 0.62 below min 0.99"}]})
        scenarios.append({"name": name, "file": f"scenarios/bench/{name}.toml", "suite": "bench",
                          "description": "generated", "duration_s": DURATION_S, "expectations": [], "runs": runs,
                          "faults": [{"kind": k, "target": t, "at_s": a, "for_s": f, "params": {}}
                                     for k, t, a, f, *_ in FAULTS]})
    manifest = {"format": "dolphin-nor.run/2", "run_id": "bench-run", "created_utc": "2026-11-25T00:00:00Z",
                "code_version": "bench", "command": "benchmarks/report_bench.py",
                "controller": {"name": cfg.name, "spec": "survival", "config_id": cfg.config_id,
                               "config": cfg.to_dict()},
                "companions": ["nofault", "static_ladder", "seed_template"], "scenarios": scenarios,
                "verdicts": {}, "timings": {"wall_s": 0.0, "jobs": 1}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run_dir


def measure(run_dir: Path) -> None:
    t0 = time.perf_counter()
    html = render_run(run_dir)
    render_s = time.perf_counter() - t0
    size_mb = html.stat().st_size / 1e6
    n = sum(len(s["runs"]) for s in json.loads((run_dir / "manifest.json").read_text())["scenarios"])
    print(f"render_run: {n} cases in {render_s:.2f} s ({render_s / max(n, 1) * 1000:.0f} ms/case); "
          f"target < 30 s: ratio {render_s / 30:.2f}")
    print(f"report.html: {size_mb:.2f} MB ({html.stat().st_size / max(n, 1) / 1e3:.0f} kB/case); "
          f"target < 10 MB: ratio {size_mb / 10:.2f}")
    print(f"summary.md: {(run_dir / 'summary.md').stat().st_size / 1e3:.1f} kB, "
          f"junit.xml: {(run_dir / 'junit.xml').stat().st_size / 1e3:.1f} kB, "
          f"metrics.json: {(run_dir / 'metrics.json').stat().st_size / 1e3:.1f} kB")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cmp = render_compare(run_dir, run_dir, tmp)
        print(f"render_compare (run vs itself): {time.perf_counter() - t0:.2f} s, "
              f"{cmp.stat().st_size / 1e6:.2f} MB")


def newest_default_run(runs: Path = Path("runs")) -> Path | None:
    """The newest run directory under ``runs/`` whose scenarios are all of the default suite."""
    found = []
    for manifest in runs.glob("*/manifest.json"):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        suites = {s.get("suite") for s in data.get("scenarios", [])}
        if suites == {"default"}:
            found.append((data.get("created_utc", ""), manifest.parent))
    return max(found)[1] if found else None


def run_default_suite(out: Path) -> Path:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys; from scenarios.cli import main; sys.exit(main())", "run",
                    "--seeds", "2", "--out", str(out), "--no-report"], check=False, stdout=subprocess.DEVNULL)
    print(f"nor run (default suite, 2 seeds): {time.perf_counter() - t0:.0f} s")
    return next(p for p in out.iterdir() if (p / "manifest.json").is_file())


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--default-suite":
        with tempfile.TemporaryDirectory(prefix="report_bench") as tmp:
            measure(run_default_suite(Path(tmp)))
        return 0
    run_dir = Path(argv[0]) if argv else newest_default_run()
    if run_dir is not None:
        print(f"run directory: {run_dir}")
        measure(run_dir)
        return 0
    print("no default-suite run under runs/ (make one with `nor run --seeds 2`): using a generated run")
    with tempfile.TemporaryDirectory(prefix="report_bench") as tmp:
        measure(generate(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
