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
    assert f"reproduce: nor run {suite / 'wrong.toml'} --seeds 1" in proc.stdout
    xml = junit.read_text()
    assert 'name="good[seed=1]"' in xml and 'name="good[seed=2]"' in xml and "<failure" in xml


def test_an_invalid_scenario_file_is_a_collection_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('name = "bad"\nduration = "-5m"\n')
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "scenarios.pytest_plugin", str(tmp_path), "-q",
                           "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"invalid scenario file: {tmp_path / 'bad.toml'}: duration: expected a duration > 0" in proc.stdout
