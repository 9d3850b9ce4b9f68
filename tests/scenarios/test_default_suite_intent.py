"""The default suite encodes the spec's intent in both directions: a controller that never reacts fails every
scenario whose intent is a reaction, and a config without a layer fails the scenarios about that layer.

(The default controller passing every case at every seed is `nor run` itself: make demo / the suite bench.)
"""

from __future__ import annotations

from pathlib import Path

from controller import ControllerConfig, default_config, dump_config
from scenarios import load_scenarios
from scenarios.cli import DEFAULT_SUITE
from scenarios.runner import RunOptions, run_suite

# Scenarios whose intent is "no harm": the right reaction is none (or a trace), so no reaction passes.
NO_HARM = {"nominal", "hz_node_lost", "hz_node_restart", "cluster_link_latency", "exchange_link_down",
           "order_rejects", "scan_link_loss", "hell_friction"}


def _verdicts(tmp_path: Path, controller: str, paths: list[Path]) -> dict[str, str]:
    scenarios = load_scenarios(paths, controller=controller)
    options = RunOptions(out=tmp_path, jobs=2, seed_list=(1,), controller=controller, companions=False,
                         progress=False, report=False)
    result = run_suite(scenarios, options, echo=lambda _line: None)
    return {r.scenario: r.verdict for r in result.results}


def test_a_controller_that_never_reacts_fails_every_reaction_scenario(tmp_path: Path) -> None:
    verdicts = _verdicts(tmp_path, "uncontrolled", [DEFAULT_SUITE])
    assert NO_HARM <= set(verdicts) and len(verdicts) >= 25
    assert {n for n, v in verdicts.items() if v == "PASS"} == NO_HARM, verdicts
    assert not {n: v for n, v in verdicts.items() if v == "ERROR"}


def test_a_config_without_the_mc_forewarner_layer_fails_the_mc_forewarner_scenarios(tmp_path: Path) -> None:
    data = default_config().to_dict()
    data["layers"] = [ly for ly in data["layers"] if ly["name"] != "mc_forewarner"]
    config = tmp_path / "no_mc.toml"
    config.write_text(dump_config(ControllerConfig.from_mapping(data, source="test")), encoding="utf-8")
    about_mc = sorted(p for p in DEFAULT_SUITE.glob("*.toml") if "mc_forewarner" in p.read_text(encoding="utf-8"))
    verdicts = _verdicts(tmp_path / "runs", str(config), about_mc)
    assert {"mc_forewarner_stale_short", "mc_forewarner_stale_2h", "mc_forewarner_down", "mc_forewarner_degraded",
            "clock_skew"} <= set(verdicts)
    assert all(v == "EXPECTATION" for v in verdicts.values()), verdicts


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
