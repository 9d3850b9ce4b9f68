"""Scenario files collected by pytest: items per seed, failures with the checks and a reproduce command, JUnit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BASE = """
name = "{name}"
duration = "20m"
seeds = {seeds}
companions = []
liveness = {{ within = "10m" }}
[[fault]]
kind = "heartbeat_loss"
at = "5m"
for = "1m"
[[expect]]
check = "{check}"
{param}
"""


def test_pytest_collects_scenario_files_and_reports_failures(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "good.toml").write_text(BASE.format(name="good", seeds=2, check="hibernate_within", param='within = "15s"'))
    (suite / "wrong.toml").write_text(BASE.format(name="wrong", seeds=1, check="posture_never",
                                                  param='posture = "HIBERNATE"'))
    (suite / "notes.toml").write_text("title = 'not a scenario'\n")
    junit = tmp_path / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "scenarios.pytest_plugin", str(suite), "-q",
                           "-p", "no:cacheprovider", f"--junitxml={junit}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout and "1 failed" in proc.stdout
    assert "EXPECTATION: wrong seed=1" in proc.stdout and "posture_never at t=" in proc.stdout
    assert f"reproduce: nor run {suite / 'wrong.toml'} --seed 1\n" in proc.stdout
    xml = junit.read_text()
    assert 'name="good[seed=1]"' in xml and 'name="good[seed=2]"' in xml and "<failure" in xml


def test_an_invalid_scenario_file_is_a_collection_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('name = "bad"\nduration = "-5m"\n')
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "scenarios.pytest_plugin", str(tmp_path), "-q",
                           "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"invalid scenario file: {tmp_path / 'bad.toml'}: duration: expected a duration in (0, " in proc.stdout


def test_the_reproduce_line_runs_exactly_that_seed_with_the_same_controller(tmp_path: Path, capsys) -> None:
    """Seed 7 of a file, under --nor-controller static_ladder: the printed nor run line runs that one case."""
    import json
    import shlex

    from scenarios.cli import main

    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "wrong.toml").write_text(BASE.format(name="wrong", seeds="[2, 7]", check="posture_never",
                                                  param='posture = "HIBERNATE"'))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "scenarios.pytest_plugin",
                           f"{suite / 'wrong.toml'}::wrong[seed=7]", "-q", "-p", "no:cacheprovider",
                           "--nor-controller", "static_ladder", "--nor-no-companions"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "1 failed" in proc.stdout, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "reproduce:" in x).split("reproduce: ", 1)[1]
    assert line == (f"nor run {suite / 'wrong.toml'} --seed 7 --controller static_ladder --no-companions")
    argv = shlex.split(line)[1:] + ["--out", str(tmp_path / "runs"), "--jobs", "1", "--no-report"]
    assert main(argv) == 1
    run_dir = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["controller"]["name"] == "static_ladder"
    assert [(r["seed"], r["verdict"]) for r in manifest["scenarios"][0]["runs"]] == [(7, "EXPECTATION")]
