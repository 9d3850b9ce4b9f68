"""Fault tables are validated with precise messages; swarm schedules are seeded and within their model."""

from __future__ import annotations

import numpy as np
import pytest

from faults import (KINDS, FaultSpecError, NumpyChooser, default_fault_model, draw_count_schedule, draw_swarm,
                    parse_fault)
from twin import WorldConfig

CFG = WorldConfig()


def _err(table: dict, duration: float = 3600.0) -> str:
    with pytest.raises(FaultSpecError) as info:
        parse_fault(table, "s.toml", "fault[2]", CFG, duration)
    return str(info.value)


def test_valid_fault_resolves_defaults_and_durations() -> None:
    f = parse_fault({"kind": "ob_latency", "at": "5m", "for": "90s"}, "s.toml", "fault[0]", CFG, 3600)
    assert (f.kind, f.target, f.at_s, f.for_s) == ("ob_latency", "ob", 300.0, 90.0)
    assert f.param("latency_ms") == 800.0
    assert parse_fault({"kind": "node_restart", "target": "hz2", "at": 10}, "s", "f", CFG).for_s == 30.0
    assert parse_fault({"kind": "node_loss", "target": "hz2", "at": 10}, "s", "f", CFG).for_s is None


@pytest.mark.parametrize("table, fragment", [
    ({"kind": "sensor_nap", "at": 1}, "s.toml: fault[2].kind: expected one of"),
    ({"kind": "sensor_stale", "target": "oracle", "at": 1, "for": 5}, "fault[2].target: expected one of scan, ob"),
    ({"kind": "sensor_stale", "target": "ob", "for": 5}, "fault[2].at: expected a start time >= 0"),
    ({"kind": "sensor_stale", "target": "ob", "at": "2h", "for": 5}, "before the scenario's end (3600 s)"),
    ({"kind": "link_loss", "target": "cluster<->agent", "at": 1, "for": 5, "loss_ratio": 1.5},
     "fault[2].loss_ratio: expected a number in [0, 1], got 1.5"),
    ({"kind": "sensor_stale", "target": "ob", "at": 1, "for": 5, "factor": 0.2},
     "fault[2].factor: expected one of the keys of a sensor_stale fault"),
    ({"kind": "sensor_stale", "target": "ob", "at": 1, "for": "soon"}, "fault[2].for: expected a duration > 0"),
    ({"kind": "node_loss", "target": "hz7", "at": 1}, "fault[2].target: expected one of hz0, hz1, hz2"),
    ({"kind": "network_partition", "at": 1, "for": 5}, "fault[2].groups: expected at least one group"),
    ({"kind": "network_partition", "at": 1, "for": 5, "groups": [["agent"], ["moon*"]]},
     "fault[2].groups[1][0]: expected a node name"),
    ({"kind": "sensor_flap", "target": "ob", "at": 1, "for": 5, "period_s": 0}, "fault[2].period_s: expected"),
    ({"kind": "sensor_flap", "target": "ob", "at": 1, "for": 5, "period_s": 0.001}, "fault[2].period_s: expected a number of seconds or a duration like \"30s\" in [0.01"),
])
def test_invalid_fault_tables_name_file_field_and_expectation(table: dict, fragment: str) -> None:
    assert fragment in _err(table)


def test_swarm_draws_are_seeded_within_the_model() -> None:
    model = default_fault_model(3600.0)
    a = draw_swarm(model, NumpyChooser(np.random.default_rng(7)), CFG)
    b = draw_swarm(model, NumpyChooser(np.random.default_rng(7)), CFG)
    c = draw_swarm(model, NumpyChooser(np.random.default_rng(8)), CFG)
    assert a == b and a != c
    kinds = {k.kind: k for k in model.kinds}
    schedules = [draw_swarm(model, NumpyChooser(np.random.default_rng(s)), CFG) for s in range(40)]
    for faults in schedules:
        assert len(faults) <= model.max_faults
        for f in faults:
            km = kinds[f.kind]
            assert 0 <= f.at_s < model.horizon_s and km.for_s[0] <= f.for_s <= km.for_s[1]
            assert f.target in (km.targets or KINDS[f.kind].targets(CFG))
    enabled = [len({f.kind for f in faults}) for faults in schedules]
    assert 0 < min(enabled + [1]) and max(enabled) < len(model.kinds)    # per seed, only some kinds are enabled


def test_count_schedules_respect_a_restricted_model() -> None:
    model = default_fault_model(600.0).restricted(["heartbeat_loss", "link_down"])
    for s in range(20):
        faults = draw_count_schedule(model, NumpyChooser(np.random.default_rng(s)), CFG)
        assert 1 <= len(faults) <= model.max_faults
        assert {f.kind for f in faults} <= {"heartbeat_loss", "link_down"}
    with pytest.raises(FaultSpecError, match="swarm.kinds"):
        model.restricted(["teleport"])
