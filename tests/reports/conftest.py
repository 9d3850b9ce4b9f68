"""Real run directories for the report tests.

When the runner exists (``scenarios/cli.py`` with ``nor run``) a small real ``nor run`` is used;
until then :func:`build_run_dir` runs the real twin for each case and writes the run directory
exactly per the contract (traces, companions, ``checks.arrow``, ``manifest.json``).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from controller import make_controller
from twin import World, WorldConfig

# (kind, target, at_s, for_s, start(world), stop(world) | None)
_FAULTS: dict[str, tuple[str, str, float, float, Callable[[World], Any], Callable[[World], Any] | None]] = {
    "mc_stale": ("sensor_stale", "mc_forewarner", 600.0, 1200.0,
                 lambda w: w.ports["sensor.mc_forewarner"].stall(), lambda w: w.ports["sensor.mc_forewarner"].resume()),
    "ledger": ("ledger_desync", "ledger", 900.0, 120.0,
               lambda w: w.ports["ledger"].desync(), lambda w: w.ports["ledger"].resync()),
    "ob_down": ("sensor_down", "ob", 500.0, 300.0,
                lambda w: w.ports["sensor.ob"].crash(), lambda w: w.ports["sensor.ob"].restart()),
}

SCENARIOS = {
    # name: (description, duration_s, fault keys, expectations, failing check or None)
    "mc_forewarner_stale_20m": ("MC-Forewarner stops updating for 20 min", 2400.0, ("mc_stale",),
                                [{"check": "posture_never", "params": {"posture": "HIBERNATE"}}], None),
    "ledger_desync_2m": ("Ledger desync for 2 min: invariant break", 2400.0, ("ledger",),
                         [{"check": "r_total_within", "params": {"window": [0.0, 60.0], "min": 0.99}}],
                         ("r_total_within", "expectation", "r_total 0.000 below min 0.99 at t=905 s")),
    "ob_down_then_stale": ("Order-book streamer down, then MC-Forewarner stale", 2400.0, ("ob_down", "mc_stale"),
                           [], ("apex_regained", "liveness", "APEX not regained within 600 s after heal")),
}
COMPANIONS = ("nofault", "static_ladder", "seed_template")


def _run_twin(controller: str, seed: int, duration_s: float, faults: tuple[str, ...], out: Path,
              tables: tuple[str, ...] | None = None) -> None:
    world = World(WorldConfig(), make_controller(controller), seed)
    for key in faults:
        kind, target, at_s, for_s, start, stop = _FAULTS[key]
        world.at(at_s, lambda start=start, kind=kind, target=target: (start(world),
                                                                       world.record_event("fault_start", target, kind=kind)))
        if stop is not None:
            world.at(at_s + for_s, lambda stop=stop, kind=kind, target=target: (
                stop(world), world.record_event("fault_end", target, kind=kind)))
    trace = world.run(duration_s)
    if tables is None:
        trace.write(out)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in tables:
        _write(out / f"{name}.arrow", trace[name])


def _write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _checks(failure: tuple[str, str, str] | None) -> pa.Table:
    rows = [("r_total_in_range", "safety", True, math.nan, "", "{}"),
            ("exits_never_blocked", "safety", True, math.nan, "", "{}")]
    if failure is not None:
        rows.append((failure[0], failure[1], False, 905.0, failure[2], json.dumps({"min": 0.99})))
    cols = list(zip(*rows))
    return pa.table({"check": pa.array(cols[0], pa.string()), "kind": pa.array(cols[1], pa.string()),
                     "ok": pa.array(cols[2], pa.bool_()), "t_s": pa.array(cols[3], pa.float64()),
                     "message": pa.array(cols[4], pa.string()), "params": pa.array(cols[5], pa.string())})


def _sha(directory: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(directory.glob("*.arrow")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def build_run_dir(root: Path, seeds: tuple[int, ...] = (1, 2), run_id: str = "20261125-021500-test01",
                  controller: str = "survival", scenarios: dict | None = None) -> Path:
    """Run the real twin for every scenario × seed (+ companions) and write a contract run directory."""
    run_dir = root / run_id
    entries, verdicts = [], {"PASS": 0, "SAFETY": 0, "LIVENESS": 0, "EXPECTATION": 0, "ERROR": 0}
    cfg = make_controller(controller).config
    for name, (desc, duration_s, fault_keys, expects, failure) in (scenarios or SCENARIOS).items():
        runs = []
        for seed in seeds:
            case = run_dir / name / str(seed)
            _run_twin(controller, seed, duration_s, fault_keys, case)
            _write(case / "checks.arrow", _checks(failure))
            _run_twin(controller, seed, duration_s, (), case / "companions" / "nofault",
                      ("decisions", "equity", "orders", "fills"))
            for comp in COMPANIONS[1:]:
                _run_twin(comp, seed, duration_s, fault_keys, case / "companions" / comp,
                          ("decisions", "equity", "orders", "fills"))
            verdict = "PASS" if failure is None else failure[1].upper()
            verdicts[verdict] += 1
            runs.append({"seed": seed, "dir": f"{name}/{seed}", "verdict": verdict, "wall_s": 1.0,
                         "config_id": cfg.config_id,
                         "failures": [] if failure is None else [
                             {"check": failure[0], "kind": failure[1], "t_s": 905.0, "message": failure[2]}],
                         "replay": f"nor replay runs/{run_id} {name} --seed {seed}", "trace_sha256": _sha(case)})
        entries.append({"name": name, "file": f"scenarios/test/{name}.toml", "suite": "test", "description": desc,
                        "duration_s": duration_s,
                        "faults": [{"kind": _FAULTS[k][0], "target": _FAULTS[k][1], "at_s": _FAULTS[k][2],
                                    "for_s": _FAULTS[k][3], "params": {}} for k in fault_keys],
                        "expectations": expects, "runs": runs})
    manifest = {"format": "dolphin-nor.run/1", "run_id": run_id, "created_utc": "2026-11-25T02:15:00Z",
                "code_version": "git:test", "command": "tests/reports/conftest.py build_run_dir",
                "controller": {"name": cfg.name, "spec": controller, "config_id": cfg.config_id,
                               "config": cfg.to_dict()},
                "companions": list(COMPANIONS), "scenarios": entries, "verdicts": verdicts,
                "timings": {"wall_s": 1.0, "jobs": 1}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real small run directory (3 scenarios × 2 seeds, 40 min each, with all companions)."""
    return build_run_dir(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def run_dir_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second real run with another controller config (seed_template) on two of the scenarios."""
    names = ("mc_forewarner_stale_20m", "ledger_desync_2m")
    return build_run_dir(tmp_path_factory.mktemp("runs_b"), run_id="20261125-031500-test02",
                         controller="seed_template", scenarios={n: SCENARIOS[n] for n in names})
