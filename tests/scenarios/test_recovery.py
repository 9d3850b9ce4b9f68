"""Recovery means regained *and held*: liveness, ``recovers_to`` and ``nor explore`` share one definition
(:func:`scenarios.checks.view.recovered_at`), so a decision still in the target posture because a fault's effect
has not yet reached the controller cannot satisfy them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scenarios import load_scenario_text
from scenarios.case import judge, simulate
from scenarios.checks import EXPECTATIONS
from scenarios.checks.view import recovered_at
from scenarios.errors import ScenarioFileError

A, S, T, H = 3, 2, 1, 0


def _at(codes: list[int], t_from: float, hold: float | None = None, step_s: float = 1.0) -> float:
    t = np.arange(len(codes), dtype=np.float64) * step_s
    return recovered_at(t, np.asarray(codes) >= A, t_from, len(codes) * step_s, hold)


def test_recovered_at_requires_the_posture_held() -> None:
    assert _at([A] * 10, 3.5) == 3.5                                   # never left: recovered at once
    assert _at([A] * 5 + [H] * 5, 3.0) == math.inf                     # APEX at the heal, then latched
    assert _at([A] * 4 + [H] * 2 + [A] * 4, 3.0) == 6.0                # after the last drop
    assert _at([A] * 4 + [H] * 2 + [A] * 4, 3.0, hold=1.0) == 3.0      # a stated hold of 1 s: held [3, 4]
    assert _at([A] * 4 + [H] * 2 + [A] * 4, 3.0, hold=2.0) == 6.0      # [3, 4] too short; [6, 10] holds
    assert _at([H] * 8 + [A] * 2, 0.0, hold=5.0) == math.inf           # the run ends before the hold completes
    # two decisions at one instant: the later one is in force (APEX then HIBERNATE at t=3 is a drop)
    t = np.array([0.0, 1.0, 2.0, 3.0, 3.0, 4.0])
    ok = np.array([True, True, True, True, False, False])
    assert recovered_at(t, ok, 3.0, 5.0, None) == math.inf and recovered_at(t, ok, 3.0, 5.0, 0.5) == math.inf


# The case: a 0.4 s corruption of `ob` healing at a tick (t = 1800 s) that still sees APEX; the
# checksum break reaches the agent 0.1 s later, and a data_integrity layer recovering at 1e-6/min holds
# HIBERNATE for the rest of the run (81 % of it). The old check passed on the APEX decision at the heal.
LATCHED = """
name = "latched"
duration = "2h40m"
companions = []
[[fault]]
kind = "data_corruption"
target = "ob"
at = 1799.6
for = 0.4
[liveness]
within = "2h"
{layer}
[[expect]]
check = "recovers_to"
within = "2h"
"""
SLOW_LAYER = "[controller.layers.data_integrity]\nrecovery_per_min = 1e-6"


def _judged(layer: str) -> dict[str, object]:
    s = load_scenario_text(LATCHED.format(layer=layer), "latched.toml")
    faults = s.faults_for(1)
    tables = simulate(s, 1, s.controller, faults)
    return {r.check: r for r in judge(s, faults, tables, {}) if r.kind != "safety"}


def test_a_controller_latched_in_hibernate_after_the_heal_fails_liveness_and_recovers_to() -> None:
    slow = _judged(SLOW_LAYER)
    assert not slow["recovers_after_heal"].ok and "not regained within 7200 s of the heal at 1800.0 s" in slow["recovers_after_heal"].message
    assert not slow["recovers_to"].ok
    fast = _judged("")
    assert fast["recovers_after_heal"].ok and fast["recovers_to"].ok, fast


def test_exf_shock_recovers_to_fails_an_exf_layer_recovering_at_1e_4_per_min() -> None:
    from scenarios import load_scenario
    from scenarios.cli import DEFAULT_SUITE

    text = (DEFAULT_SUITE / "exf_shock.toml").read_text(encoding="utf-8")
    text = text.replace('duration = "4h"', 'duration = "2h45m"')   # 1h + 100 min: the recovers_to window
    slow = load_scenario_text(text + '\n[liveness]\nwithin = "80m"\n[controller.layers.exf]\nrecovery_per_min = 1e-4\n',
                              "exf_slow.toml")
    default = load_scenario(DEFAULT_SUITE / "exf_shock.toml")
    for scenario, ok in ((slow, False), (default, True)):
        faults = scenario.faults_for(1)
        tables = simulate(scenario, 1, scenario.controller, faults)
        from scenarios.checks import RunView
        view = RunView.from_tables(tables, faults, scenario.duration_s, scenario.world, scenario.controller)
        e = next(e for e in scenario.expectations if e.check == "recovers_to")
        got = EXPECTATIONS["recovers_to"].fn(view, **e.params)
        assert got[0] is ok, got


def test_a_stated_hold_must_fit_in_the_run() -> None:
    base = 'name = "h"\nduration = "1h"\ncompanions = []\n[[fault]]\nkind = "sensor_stale"\ntarget = "esof"\n' \
           'at = "10m"\nfor = "5m"\n'
    load_scenario_text(base + '[liveness]\nwithin = "20m"\nhold = "20m"\n', "ok.toml")
    with pytest.raises(ScenarioFileError, match="liveness needs"):
        load_scenario_text(base + '[liveness]\nwithin = "30m"\nhold = "20m"\n', "long.toml")
    with pytest.raises(ScenarioFileError, match=r"expect\[0\]\.hold"):
        load_scenario_text(base + '[liveness]\nwithin = "20m"\n[[expect]]\ncheck = "recovers_to"\nwithin = "30m"\n'
                           'hold = "20m"\n', "e.toml")
    with pytest.raises(ScenarioFileError, match=r"expect\[0\]\.hold: expected a hold > 0"):
        load_scenario_text(base + '[liveness]\nwithin = "20m"\n[[expect]]\ncheck = "recovers_to"\nwithin = "10m"\n'
                           'hold = 0\n', "zero.toml")
    with pytest.raises(ScenarioFileError, match=r"liveness\.hold"):
        load_scenario_text(base + '[liveness]\nwithin = "20m"\nhold = 0\n', "zero.toml")
