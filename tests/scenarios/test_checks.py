"""Every check passes on a real, healthy-controller run and fails on a targeted violation of what it guards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller import Posture
from scenarios.checks import EXPECTATIONS, SAFETY_CHECKS, LivenessPolicy, ParseContext, SafetyPolicy, run_liveness
from scenarios.checks import safety as S

POLICY = SafetyPolicy()


def _first(view, intent: str) -> int:
    return int(np.flatnonzero(view.orders["intent"] == intent)[0])


def test_every_safety_check_passes_on_the_real_run(make_view) -> None:
    view = make_view()
    results = [check(view, POLICY) for check in SAFETY_CHECKS]
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert (view.posture == int(Posture.HIBERNATE)).any() and len(view.orders["id"]) > 5


def _violate_r(v) -> None:
    v.decisions["r_total"][100] = 1.2


def _violate_entries(v) -> None:
    """The decision in force when the first entry was sent (by the order of events) said TURTLE."""
    j = v.decision_for_order(_first(v, "entry"))
    v.decisions["posture"][j], v.decisions["entries_allowed"][j] = "TURTLE", False


def _violate_leverage(v) -> None:
    v.orders["qty"][_first(v, "entry")] *= 100.0


def _violate_invariant(v) -> None:
    v.observed["hz.quorum"][50] = 0.0


def _violate_cancel(v) -> None:
    """The last order sent before the first HIBERNATE decision stays working 10 min past it."""
    s = int(np.flatnonzero(v.posture == 0)[0])
    v.orders["t_done_s"][int(v.orders_before[s]) - 1] = float(v.t[s]) + 600.0


def _violate_exits(v) -> None:
    """The first position's exits never happen: its exit orders and fills are gone, it is held to the end."""
    asset = v.fills["asset"][int(np.flatnonzero(v.fills["intent"] == "entry")[0])]
    for table in (v.fills, v.orders):
        keep = ~((table["asset"] == asset) & (table["intent"] == "exit"))
        for k in list(table):
            table[k] = table[k][keep]


def _violate_reduce_only(v) -> None:
    i = int(np.flatnonzero(v.fills["intent"] == "exit")[0])
    v.fills["side"][i] = "buy" if v.fills["side"][i] == "sell" else "sell"


def _violate_ledger(v) -> None:
    v.equity["exchange_equity"][-1] += 10.0


def _violate_recovery(v) -> None:
    v.decisions["layer.mc_forewarner"][200] = 0.5


@pytest.mark.parametrize("check, mutate", [
    (S.r_total_bounds, _violate_r), (S.entries_within_posture, _violate_entries),
    (S.leverage_within_cap, _violate_leverage), (S.invariant_hibernate, _violate_invariant),
    (S.hibernate_cancels_orders, _violate_cancel), (S.exits_never_blocked, _violate_exits),
    (S.exits_reduce_only, _violate_reduce_only), (S.ledger_conserved, _violate_ledger),
    (S.recovery_rate, _violate_recovery),
])
def test_each_safety_check_fails_on_its_violation(make_view, check, mutate) -> None:
    assert check(make_view(), POLICY).ok
    result = check(make_view(mutate), POLICY)
    assert not result.ok and result.kind == "safety" and result.message


def test_liveness_passes_then_fails_when_apex_never_returns(make_view) -> None:
    ok = run_liveness(make_view(), LivenessPolicy())
    assert ok.ok and "regained" in ok.message

    def stuck(v) -> None:
        heal = v.heal_s
        v.decisions["posture"][v.t >= heal] = "TURTLE"

    bad = run_liveness(make_view(stuck), LivenessPolicy(within_s=1800.0))
    assert not bad.ok and bad.kind == "liveness" and bad.t_s == 2400.0 + 1800.0
    assert "not regained within 1800 s of the heal at 2400.0 s" in bad.message
    assert run_liveness(make_view(stuck), LivenessPolicy(enabled=False)).ok


def test_liveness_fails_when_the_run_ends_before_the_bound_without_the_posture(make_view) -> None:
    """The fixture heals at 40 min of 90: with the 2 h default bound the run ends first — a failure, not 'not judged'."""
    def stuck(v) -> None:
        v.decisions["posture"][v.t >= v.heal_s] = "HIBERNATE"

    bad = run_liveness(make_view(stuck), LivenessPolicy())
    assert not bad.ok and bad.kind == "liveness" and bad.t_s == 5400.0
    assert "APEX not regained before the run ended at 5400.0 s" in bad.message and "bound 7200 s" in bad.message


def test_liveness_of_a_fault_that_never_heals_is_a_failure_not_a_pass(make_view) -> None:
    from faults import Fault

    def forever(v) -> None:
        v.faults = v.faults + (Fault("sensor_down", "exf", 600.0, None),)

    bad = run_liveness(make_view(forever), LivenessPolicy())
    assert not bad.ok and "cannot be judged: sensor_down(exf) never heals" in bad.message


CTX = ParseContext("t.toml", 3, 5400.0, tuple(ly.name for ly in __import__("controller").default_config().layers))


def _judge(view, check: str, **raw):
    spec = EXPECTATIONS[check]
    params = spec.parse(raw, CTX, "expect[0]")
    return spec.fn(view, **params)


@pytest.mark.parametrize("check, passing, failing", [
    ("posture_never", {"posture": "TURTLE", "window": ["0s", "19m"]}, {"posture": "HIBERNATE"}),
    ("posture_reached", {"posture": "HIBERNATE", "within": "30s"}, {"posture": "HIBERNATE", "within": "30s",
                                                                    "after": "fault[2].end+10m"}),
    ("r_total_within", {"window": ["start", "19m"], "min": 0.9}, {"window": ["fault[0].start+30s", "fault[0].end"],
                                                                 "min": 0.5}),
    ("layer_within", {"layer": "mc_forewarner", "window": ["0s", "19m"], "min": 0.9},
     {"layer": "mc_forewarner", "window": ["fault[2].start", "fault[2].end"], "min": 0.9}),
    ("r_total_reaches", {"window": ["fault[0].start", "fault[0].end"], "max": 0.0},
     {"window": ["0s", "19m"], "max": 0.5}),
    ("layer_reaches", {"layer": "mc_forewarner", "window": ["fault[2].start", "fault[2].end"], "max": 0.9},
     {"layer": "mc_forewarner", "window": ["0s", "19m"], "max": 0.9}),
    ("taker_off", {"window": ["fault[0].start+20s", "fault[0].end"]}, {"window": ["0s", "19m"]}),
    ("max_posture_switches", {"max": 20}, {"max": 1}),
    ("recovers_to", {"within": "40m"}, {"within": "30s"}),
    ("hibernate_within", {"within": "30s"}, {"within": "30s", "after": "fault[2].start"}),
    ("no_entries_in", {"postures": ["HIBERNATE", "TURTLE"]}, {"postures": ["APEX", "STALKER"]}),
    ("pnl_vs_baseline", {"baseline": "nofault", "min_delta": -0.5}, {"baseline": "nofault", "min_delta": 0.5}),
    ("max_drawdown_below", {"max": 0.5}, {"max": 0.0}),
])
def test_each_expectation_has_a_passing_and_a_failing_case(make_view, check, passing, failing) -> None:
    view = make_view()
    ok, t_ok, msg_ok = _judge(view, check, **passing)
    assert ok and math.isnan(t_ok), msg_ok
    bad, _t_bad, msg_bad = _judge(view, check, **failing)
    assert not bad and msg_bad


def test_sliding_window_switch_count_catches_chatter(make_view) -> None:
    def chatter(v) -> None:
        for k in range(10):
            v.decisions["posture"][500 + 2 * k] = "HIBERNATE"

    ok, *_ = _judge(make_view(), "max_posture_switches", max=2, per="5m", window=["0s", "15m"])
    bad, t_s, msg = _judge(make_view(chatter), "max_posture_switches", max=4, per="5m")
    assert ok and not bad and 500 <= t_s <= 530 and "within 300 s" in msg


def _without_mc_layer(v) -> None:
    del v.decisions["layer.mc_forewarner"]


@pytest.mark.parametrize("check, params", [
    ("layer_within", {"layer": "mc_forewarner", "min": 0.0}),
    ("layer_reaches", {"layer": "mc_forewarner", "max": 1.0}),
])
def test_a_layer_the_controller_lacks_fails_instead_of_passing_unjudged(make_view, check, params) -> None:
    ok, t_s, message = _judge(make_view(_without_mc_layer), check, **params)
    assert not ok and math.isnan(t_s)
    assert message.startswith("cannot be judged: controller survival-default has no layer mc_forewarner"), message


def _truncate(v, t_end: float) -> None:
    """Keep only the decisions up to ``t_end``: a trace with nothing in the later windows."""
    keep = v.t <= t_end
    for k in list(v.decisions):
        v.decisions[k] = v.decisions[k][keep]


@pytest.mark.parametrize("check, params", [
    ("posture_never", {"posture": "HIBERNATE", "window": ["50m", "60m"]}),
    ("r_total_within", {"window": ["50m", "60m"], "min": 0.0}),
    ("r_total_reaches", {"window": ["50m", "60m"], "max": 1.0}),
    ("taker_off", {"window": ["50m", "60m"]}),
    ("max_posture_switches", {"max": 100, "window": ["50m", "60m"]}),
    ("no_entries_in", {"window": ["50m", "60m"]}),
    ("recovers_to", {"within": "10m", "after": "50m"}),
    ("posture_reached", {"posture": "APEX", "within": "10m", "after": "50m"}),
])
def test_nothing_to_judge_is_a_failure(make_view, check, params) -> None:
    """A window with no decision in it (here: the trace stops at 45 min) is not a vacuous pass."""
    ok, _t, message = _judge(make_view(lambda v: _truncate(v, 2700.0)), check, **params)
    assert not ok and message.startswith("cannot be judged: no decision in the window"), message


@pytest.mark.parametrize("check, params", [
    ("r_total_within", {"window": ["1h20m", "2h"], "min": 0.0}),
    ("posture_never", {"posture": "HIBERNATE", "window": ["fault[2].end", "fault[0].start"]}),
    ("hibernate_within", {"within": "1h", "after": "1h"}),
])
def test_a_window_outside_the_run_fails_at_judgement(make_view, check, params) -> None:
    """Windows are validated at load time; a run that still gets one (e.g. a swarm's faults.end+...) fails."""
    spec = EXPECTATIONS[check]
    longer = ParseContext("t.toml", 3, 1e6, CTX.layers)               # passes validation, judged on a 90-min run
    ok, _t, message = spec.fn(make_view(), **spec.parse(params, longer, "expect[0]"))
    assert not ok and "is not inside the run [0, 5400.0 s" in message, message


def test_a_missing_companion_fails_unjudged(make_view) -> None:
    ok, _t, message = _judge(make_view(), "pnl_vs_baseline", baseline="static_ladder")
    assert not ok and message == "cannot be judged: the static_ladder companion run is missing"
