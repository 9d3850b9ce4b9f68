"""Fixtures: one real twin run (quorum loss + stale MC-Forewarner) judged by the checks; scenario files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

from controller import default_config
from faults import parse_fault
from scenarios.case import simulate
from scenarios.checks import RunView
from scenarios.loader import load_scenario_text
from twin import WorldConfig

DURATION_S = 5400.0
FAULTS = [{"kind": "node_loss", "target": "hz1", "at": "20m", "for": "2m"},
          {"kind": "node_loss", "target": "hz2", "at": "20m", "for": "2m"},
          {"kind": "sensor_stale", "target": "mc_forewarner", "at": "30m", "for": "10m"}]


@pytest.fixture(scope="session")
def real_run() -> dict[str, Any]:
    world = WorldConfig()
    faults = tuple(parse_fault(f, "fixture", f"fault[{i}]", world, DURATION_S) for i, f in enumerate(FAULTS))
    # backup_count 2: the quorum loss loses no entry (a lost entry reads NaN and its layer climbs back
    # from its worst case, slower than this fixture's 40 min liveness bound)
    text = "name = 'fixture'\nduration = 5400\n[cluster]\nbackup_count = 2\n[liveness]\nwithin = '40m'\n"
    scenario = load_scenario_text(text, "fixture.toml")
    tables = simulate(scenario, 3, default_config(), faults)
    nofault = simulate(scenario, 3, default_config(), ())
    return {"scenario": scenario, "faults": faults, "tables": tables, "companions": {"nofault": nofault}}


@pytest.fixture()
def make_view(real_run) -> Callable[..., RunView]:
    """A fresh RunView of the real run; ``mutate(view)`` may edit its arrays (copies) before use."""

    def make(mutate: Callable[[RunView], None] | None = None) -> RunView:
        s = real_run["scenario"]
        view = RunView.from_tables(real_run["tables"], real_run["faults"], s.duration_s, s.world, s.controller,
                                   real_run["companions"])
        for d in (view.decisions, view.observed, view.orders, view.fills, view.equity):
            for k in list(d):
                d[k] = copy.copy(d[k])
        if mutate is not None:
            mutate(view)
            view.decisions.pop("_posture_code", None)
            view.decisions.pop("_orders_before", None)
        return view

    return make


@pytest.fixture()
def write_scenario(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / "suite" / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
