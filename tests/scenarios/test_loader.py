"""Scenario files are validated before anything runs; every error names the file, the field and what was expected."""

from __future__ import annotations

import pytest

from controller import Posture
from scenarios import ScenarioFileError, load_scenario, load_scenarios
from scenarios.cli import DEFAULT_SUITE, SMOKE_SUITE

GOOD = """
name = "ok"
description = "a valid file"
duration = "2h"
seeds = [3, 5]
companions = ["nofault"]
[market]
assets = 20
[controller]
postures = { apex = { enter = 0.9, leave = 0.8, max_leverage = 6.0, min_dwell_s = 0.0 } }
[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "30m"
for = "10m"
[[expect]]
check = "posture_never"
posture = "hibernate"
[[expect]]
check = "r_total_within"
window = ["fault[0].start", "fault[0].end+5m"]
min = 0.5
[liveness]
within = "45m"
[safety]
cancel_within = "20s"
"""


def test_a_valid_file_resolves_everything(write_scenario) -> None:
    s = load_scenario(write_scenario("ok", GOOD))
    assert (s.name, s.duration_s, s.seeds, s.suite, s.companions) == ("ok", 7200.0, (3, 5), "suite", ("nofault",))
    assert s.world.market.assets == 20 and s.controller.postures.apex.enter == 0.9
    assert s.controller_spec == "survival+overrides" and s.faults[0].at_s == 1800.0
    assert s.expectations[0].params["posture"] is Posture.HIBERNATE
    assert s.liveness.within_s == 2700.0 and s.safety.cancel_within_s == 20.0


@pytest.mark.parametrize("edit, fragment", [
    (("duration = \"2h\"", "duration = \"soon\""), "duration: expected a duration in (0, "),
    (("seeds = [3, 5]", "seeds = [3, 3]"), "seeds: expected a count in [1, 10000] or an array of at most 10000 distinct"),
    (("[market]", "colour = \"blue\"\n[market]"), "colour: expected one of the keys name, description"),
    (("assets = 20", "assets = -1"), "market.assets: expected an integer in [2, 1000], got -1"),
    (("assets = 20", "asset = 20"), "market.asset: expected a known key"),
    (("enter = 0.9", "enter = 0.1"), "postures.apex: expected 0 < leave < enter <= 1"),
    (("target = \"mc_forewarner\"", "target = \"mc\""), "fault[0].target: expected one of scan, ob, mc_forewarner"),
    (("check = \"posture_never\"", "check = \"posture_nevr\""), "expect[0].check: expected one of hibernate_within"),
    (("posture = \"hibernate\"", "posture = \"CRUISE\""), "expect[0].posture: expected one of APEX, STALKER"),
    (("fault[0].end+5m", "fault[3].end"), "expect[1].window[1]: expected a time"),
    (("min = 0.5", "min = 5"), "expect[1].min: expected a number in [0, 1], got 5"),
    (("min = 0.5", "min = 0.5\nmix = 1"), "expect[1].mix: expected a parameter of r_total_within"),
    (("within = \"45m\"", "within = \"forever\""), "liveness.within: expected a duration >= 0"),
    (("\"fault[0].start\", \"fault[0].end+5m\"", "\"2h\", \"3h\""),
     "expect[1].window: expected a window inside the run [0, 7200 s] with from <= to, got '[2h, 3h] = [7200 s, 10800 s]'"),
    (("\"fault[0].start\", \"fault[0].end+5m\"", "\"fault[0].end\", \"fault[0].start\""),
     "expect[1].window: expected a window inside the run [0, 7200 s] with from <= to, got "
     "'[fault[0].end, fault[0].start] = [2400 s, 1800 s]'"),
    (("\"fault[0].start\", \"fault[0].end+5m\"", "\"fault[0].start-31m\", \"fault[0].end\""),
     "expect[1].window: expected a window inside the run"),
    (("posture = \"hibernate\"", "posture = \"hibernate\"\nwindow = [\"1h\", \"end+1s\"]"),
     "expect[0].window: expected a window inside the run [0, 7200 s]"),
    (("posture = \"hibernate\"", "posture = \"hibernate\"\nwindow = [\"1h\", \"end\"]\n[[expect]]\n"
      "check = \"recovers_to\"\nwithin = \"1h30m\""),
     "expect[1].within: expected a window inside the run [0, 7200 s] with from <= to, got "
     "'[faults.end, faults.end+5400s] = [2400 s, 7800 s]'"),
    (("companions = [\"nofault\"]", "companions = [\"oracle\"]"), "companions: expected an array of companion names"),
])
def test_invalid_files_are_rejected_precisely(write_scenario, edit, fragment) -> None:
    old, new = edit
    assert old in GOOD
    path = write_scenario("bad", GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioFileError) as info:
        load_scenario(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


def test_toml_syntax_and_missing_controller_file(write_scenario) -> None:
    with pytest.raises(ScenarioFileError, match=r"bad.toml: \(syntax\): expected valid TOML"):
        load_scenario(write_scenario("bad", "name = \n"))
    with pytest.raises(ScenarioFileError, match="controller: expected survival, static_ladder, seed_template"):
        load_scenario(write_scenario("bad2", "name='x'\nduration=60\ncontroller='nope.toml'\n"))


def test_swarm_scenarios_draw_per_seed_and_forbid_fault_indices(write_scenario) -> None:
    s = load_scenario(write_scenario("sw", "name='sw'\nduration='4h'\n[swarm]\nhorizon='2h'\nenable_ratio=1.0\n"
                                           "max_rate_per_h=3.0\nkinds=['sensor_stale','link_latency']\n"
                                           "[liveness]\nwithin='30m'\n"))
    a, b = s.faults_for(1), s.faults_for(2)
    assert a and a != b and a == s.faults_for(1)
    assert {f.kind for f in a + b} <= {"sensor_stale", "link_latency"}
    with pytest.raises(ScenarioFileError, match=r"no fault\[i\]"):
        load_scenario(write_scenario("sw2", "name='sw2'\nduration='5h'\nliveness={enabled=false}\n[swarm]\n[[expect]]\ncheck='hibernate_within'"
                                            "\nwithin='1m'\nafter='fault[0].start'\n"))


def test_the_built_in_suites_are_valid_and_cover_the_spec() -> None:
    default = load_scenarios([DEFAULT_SUITE])
    assert len(default) >= 25
    kinds = {f.kind for s in default for f in s.faults}
    assert {"sensor_stale", "sensor_down", "sensor_flap", "sensor_degraded", "ob_latency", "ob_depth_decay",
            "node_loss", "node_restart", "network_partition", "link_latency", "link_loss", "link_down", "clock_skew",
            "data_corruption", "ledger_desync", "heartbeat_loss", "exf_shock", "exchange_outage", "order_rejects",
            "fill_friction"} <= kinds
    assert sum(1 for s in default if s.name.startswith("compound_")) >= 3
    assert all(s.expectations or s.swarm for s in default)
    assert load_scenarios([SMOKE_SUITE])


LIVE = """
name = "live"
duration = "{duration}"
[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "30m"
{fault_for}
{liveness}
"""


@pytest.mark.parametrize("duration, fault_for, liveness, fragment", [
    ("2h", 'for = "10m"', "", "duration: expected a duration >= 9600 s: the last fault heals at 2400 s and liveness "
                              "needs [liveness] within = 7200 s after it"),
    ("1h", 'for = "10m"', "[liveness]\nwithin = '30m'", "duration: expected a duration >= 4200 s"),
    ("6h", "", "", "fault[0].for: expected a duration: liveness (APEX regained after every fault heals) cannot be "
                   "judged for a fault that never heals"),
    ("6h", 'for = "10m"', "[liveness]\nwithin = '0s'", "liveness.within: expected a duration > 0"),
    ("6h", 'for = "10m"', "[liveness]\nslack = '15m'", "liveness.slack: expected one of enabled, posture, within"),
])
def test_liveness_must_be_judgeable_from_the_scenario_alone(write_scenario, duration, fault_for, liveness,
                                                             fragment) -> None:
    """The bound is the scenario's (default 2 h after the last heal), and the run must last that long."""
    path = write_scenario("live", LIVE.format(duration=duration, fault_for=fault_for, liveness=liveness))
    with pytest.raises(ScenarioFileError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value), str(info.value)


def test_liveness_bounds_that_fit_are_accepted(write_scenario) -> None:
    s = load_scenario(write_scenario("a", LIVE.format(duration="2h40m", fault_for='for = "10m"', liveness="")))
    assert s.liveness.within_s == 7200.0 and s.liveness.enabled
    s = load_scenario(write_scenario("b", LIVE.format(duration="6h", fault_for="", liveness="[liveness]\n"
                                                                                            "enabled = false")))
    assert not s.liveness.enabled
    assert load_scenario(write_scenario("c", "name = 'c'\nduration = '5m'\n")).duration_s == 300.0   # nothing heals


def test_a_swarm_scenario_is_sized_from_its_horizon_and_longest_fault(write_scenario) -> None:
    """sensor_stale lasts up to 1 h: horizon 1 h + 1 h + the 2 h bound = 4 h at least."""
    text = "name='sw'\nduration='{d}'\n[swarm]\nhorizon='1h'\nkinds=['sensor_stale', 'link_down']\n"
    with pytest.raises(ScenarioFileError, match=r"duration: expected a duration >= 14400 s: a drawn fault may heal "
                                                r"as late as 7200 s \(swarm horizon 3600 s"):
        load_scenario(write_scenario("sw", text.format(d="3h59m")))
    assert load_scenario(write_scenario("sw", text.format(d="4h"))).duration_s == 14400.0
