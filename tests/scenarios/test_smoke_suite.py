"""make test runs the smoke subset of the scenario suites: every case must pass."""

from __future__ import annotations

from pathlib import Path

from scenarios import load_scenarios
from scenarios.cli import SMOKE_SUITE
from scenarios.runner import RunOptions, run_suite


def test_smoke_suite_passes(tmp_path: Path) -> None:
    scenarios = load_scenarios([SMOKE_SUITE])
    result = run_suite(scenarios, RunOptions(out=tmp_path, jobs=1, progress=False, report=False),
                       echo=lambda _line: None)
    failing = {(r.scenario, r.seed): [f"{c.check}: {c.message}" for c in r.failures] or r.error
               for r in result.results if r.verdict != "PASS"}
    assert not failing, failing
    assert result.exit_code == 0 and len(result.results) == len(scenarios)
