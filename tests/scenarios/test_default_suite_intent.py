"""The default suite's exf_shock scenario checks the impulse "at once"."""

from __future__ import annotations

from controller import default_config
from scenarios.cli import DEFAULT_SUITE


def test_exf_shock_requires_the_impulse_at_once_not_minutes_later() -> None:
    """The real run passes; the same run with the exf layer's drop (and the posture) held back 2.5 min fails
    the 'at once' checks (the old file only looked from +3 min to +5 min, so a late drop passed it)."""
    from controller import Posture
    from scenarios import load_scenario
    from scenarios.case import simulate
    from scenarios.checks import EXPECTATIONS, RunView

    scenario = load_scenario(DEFAULT_SUITE / "exf_shock.toml")
    faults = scenario.faults_for(1)
    tables = simulate(scenario, 1, default_config(), faults)

    def judge(late: bool) -> dict[str, bool]:
        view = RunView.from_tables(tables, faults, scenario.duration_s, scenario.world, scenario.controller)
        if late:
            held = (view.t >= faults[0].at_s) & (view.t < faults[0].at_s + 150.0)
            view.decisions["layer.exf"] = view.decisions["layer.exf"].copy()
            view.decisions["layer.exf"][held] = 1.0
            view.decisions["posture"] = view.decisions["posture"].copy()
            view.decisions["posture"][held] = Posture.APEX.name
        return {f"{e.check}{dict(e.raw).get('window', '')}": EXPECTATIONS[e.check].fn(view, **e.params)[0]
                for e in scenario.expectations}

    on_time, late = judge(False), judge(True)
    assert all(on_time.values()), on_time
    failed = {k for k, ok in late.items() if not ok}
    assert failed == {"layer_reaches['fault[0].start', 'fault[0].start+65s']", "posture_reached",
                      "layer_within['fault[0].start+65s', 'fault[0].start+5m']"}, late
