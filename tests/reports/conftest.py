"""Real run directories for the report tests, made by a real small ``nor run``.

``tests/reports/scenarios/`` holds three 40-minute scenarios (MC-Forewarner stale, a ledger desync
with an expectation that fails on purpose, an order-book outage followed by a stale MC-Forewarner
with a recovery expectation that fails on purpose); ``nor run`` runs them for seeds 1 and 2 with
all three companions (``--no-report``: the tests render the reports themselves).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
ROOT = Path(__file__).resolve().parents[2]


def nor_run(out: Path, *paths: Path, controller: str | None = None, seeds: int = 2, companions: bool = True) -> Path:
    """Run ``nor run PATHS --seeds N --out OUT`` in a subprocess; returns the run directory."""
    cmd = [sys.executable, "-c", "import sys; from scenarios.cli import main; sys.exit(main())", "run",
           *map(str, paths), "--seeds", str(seeds), "--out", str(out), "--jobs", "2", "--no-report"]
    if controller:
        cmd += ["--controller", controller]
    if not companions:
        cmd.append("--no-companions")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    runs = [p for p in out.iterdir() if (p / "manifest.json").is_file()]
    if proc.returncode not in (0, 1) or len(runs) != 1:
        pytest.fail(f"nor run failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return runs[0]


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real small run: 3 scenarios × 2 seeds, 40 min each, survival controller, all companions."""
    return nor_run(tmp_path_factory.mktemp("runs"), SCENARIO_DIR)


@pytest.fixture(scope="session")
def run_dir_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second real run with another controller config (seed_template) on two of the scenarios."""
    return nor_run(tmp_path_factory.mktemp("runs_b"), SCENARIO_DIR / "mc_forewarner_stale_20m.toml",
                   SCENARIO_DIR / "ledger_desync_2m.toml", controller="seed_template")


@pytest.fixture(scope="session")
def uncontrolled_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A controller that never reacts (``uncontrolled``) through the 2-minute ledger desync, seed 1."""
    return nor_run(tmp_path_factory.mktemp("runs_unc"), SCENARIO_DIR / "ledger_desync_2m.toml",
                   controller="uncontrolled", seeds=1, companions=False)


@pytest.fixture(scope="session")
def manifest(run_dir: Path) -> dict:
    return manifest_of(run_dir)


@pytest.fixture(scope="session")
def swarm_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real swarm run: faults drawn per seed, only the nofault companion (both recorded per run)."""
    return nor_run(tmp_path_factory.mktemp("runs_swarm"), SCENARIO_DIR.parent / "swarm")
