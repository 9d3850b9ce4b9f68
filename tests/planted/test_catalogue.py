"""The planted-defect catalogue (``defects.py``): each variant with one deliberate bug must get a failing verdict
from each check named for it, on short scenarios written for it (``scenarios/``), which the real system passes.
And every always-on and expectation check must be tripped by at least one planted defect."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from controller import SurvivalController, make_controller
from scenarios import load_scenario
from scenarios.case import judge, simulate, verdict_of
from scenarios.checks import EXPECTATIONS, SAFETY_CHECKS, CheckResult
from twin import World

_HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("planted_defects", _HERE / "defects.py")
defects = importlib.util.module_from_spec(_spec)
sys.modules["planted_defects"] = defects
_spec.loader.exec_module(defects)

SCENARIOS = {p.stem: p for p in sorted((_HERE / "scenarios").glob("*.toml"))}
SEED = 1


def _run(scenario_name: str, controller=SurvivalController, world_factory=World) -> list[CheckResult]:
    scenario = load_scenario(SCENARIOS[scenario_name])
    faults = scenario.faults_for(SEED)
    tables = simulate(scenario, SEED, controller(scenario.controller), faults, world_factory)
    companions = {}
    for name in scenario.companions:          # nofault: the same system (the variant) without the faults
        if name == "nofault":
            companions[name] = simulate(scenario, SEED, controller(scenario.controller), (), world_factory)
        else:
            companions[name] = simulate(scenario, SEED, make_controller(name), faults)
    return judge(scenario, faults, tables, companions)


@lru_cache(maxsize=None)
def _baseline(scenario_name: str) -> tuple[CheckResult, ...]:
    return tuple(_run(scenario_name))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_real_system_passes_every_catalogue_scenario(name: str) -> None:
    results = _baseline(name)
    assert verdict_of(list(results)) == "PASS", [f"{r.check}: {r.message}" for r in results if not r.ok]


@pytest.mark.parametrize("defect", defects.CATALOGUE, ids=lambda d: d.name)
def test_each_planted_defect_fails_its_named_checks(defect) -> None:
    assert defect.scenarios and defect.catches and defect.doc, defect
    failed: dict[str, str] = {}
    for name in defect.scenarios:
        for r in _run(name, defect.controller, defect.world_factory):
            if not r.ok:
                failed.setdefault(r.check, f"{name}: {r.message}")
    missed = [c for c in defect.catches if c not in failed]
    assert not missed, f"{defect.name} ({defect.doc}) was not caught by {missed}; it failed only {failed}"


def test_every_check_is_tripped_by_a_planted_defect() -> None:
    """A check no planted defect can trip is itself a defect (each catch is enforced by the test above)."""
    checks = {fn.__name__ for fn in SAFETY_CHECKS} | {"recovers_after_heal"} | set(EXPECTATIONS)
    caught = {c for d in defects.CATALOGUE for c in d.catches}
    assert not caught - checks, f"catalogue names unknown checks: {sorted(caught - checks)}"
    assert checks <= caught, f"no planted defect trips {sorted(checks - caught)}"
    assert len(defects.CATALOGUE) >= 15 and len({d.name for d in defects.CATALOGUE}) == len(defects.CATALOGUE)
