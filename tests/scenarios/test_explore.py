"""nor explore finds a planted safety violation and shrinks it to a one-fault scenario file that reproduces it."""

from __future__ import annotations

import json
from pathlib import Path

from controller import apply_overrides, default_config, dump_config
from scenarios import load_scenario
from scenarios.cli import main
from scenarios.explore import explore

KINDS = ["sensor_stale", "ob_latency", "link_latency", "heartbeat_loss"]


PLANTED = "uncontrolled"
"""A controller whose keepalive never breaks: heartbeat loss no longer hibernates. No config file can be one (the
design bounds the keepalive, ``check_design_limits``); the built-in ``uncontrolled`` baseline, with no invariant
layers, is."""


def test_explore_finds_and_shrinks_a_planted_violation(tmp_path: Path, capsys) -> None:
    result = explore(PLANTED, budget=20, seed=0, horizon_s=600.0, tail_s=600.0, kinds=KINDS, liveness=False,
                     out=tmp_path / "found")
    assert result.found and result.failure is not None
    assert result.failure.check == "invariant_hibernate" and result.failure.kind == "safety"
    assert len(result.faults) == 1 and result.faults[0].kind == "heartbeat_loss"
    assert result.faults[0].for_s <= 30.0                     # shrunk: just past the 10 s keepalive
    scenario = load_scenario(result.path)
    assert scenario.faults == result.faults and scenario.controller.name == "uncontrolled"
    capsys.readouterr()
    assert main(["run", str(result.path), "--out", str(tmp_path / "runs"), "--jobs", "1", "--no-report"]) == 1
    run_dir = next((tmp_path / "runs").iterdir())
    verdict = json.loads((run_dir / "manifest.json").read_text())["scenarios"][0]["runs"][0]["verdict"]
    assert verdict == "SAFETY"


def test_explore_finds_nothing_against_the_default_controller(tmp_path: Path) -> None:
    result = explore("survival", budget=8, seed=0, horizon_s=600.0, tail_s=600.0, kinds=KINDS, liveness=False,
                     out=tmp_path / "found")
    assert not result.found and result.evaluations >= 5


def test_explore_judges_recovery_as_regained_and_held(tmp_path: Path) -> None:
    """nor explore uses the liveness check's definition: a controller that stays in HIBERNATE after a corruption
    heals (data_integrity recovering at 1e-6/min) is a liveness violation, written as a reproducing scenario."""
    slow = apply_overrides(default_config(), {"name": "slow-integrity",
                                              "layers": {"data_integrity": {"recovery_per_min": 1e-6}}}, "test")
    path = tmp_path / "slow.toml"
    path.write_text(dump_config(slow), encoding="utf-8")
    result = explore(str(path), budget=3, seed=0, horizon_s=300.0, tail_s=300.0, kinds=["data_corruption"],
                     out=tmp_path / "found")
    assert result.found and result.failure is not None
    assert (result.failure.kind, result.failure.check) == ("liveness", "recovers_after_heal"), result.failure
    assert "held to the end of the run" in result.failure.message
    assert load_scenario(result.path).liveness.hold_s is None
