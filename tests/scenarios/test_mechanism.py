"""The fault -> signals map recorded for attribution follows the twin's wiring, and the scenario's
reaction checks say which faults must be reacted to."""

from __future__ import annotations

from scenarios import load_scenario
from scenarios.cli import DEFAULT_SUITE
from scenarios.mechanism import mechanism_entries
from twin import SIGNALS, World
from twin.reach import GRID_SIGNALS, SENSOR_SIGNALS


def test_every_observed_signal_has_a_source_and_sensors_feed_what_the_watchdog_reads() -> None:
    sourced = set(GRID_SIGNALS) | {"ledger.consistent", "portfolio.drawdown"}
    assert set(SIGNALS) == sourced
    w = World(seed=1)
    assert set(SENSOR_SIGNALS) == set(w.sensors)


def _entries(name: str) -> list[dict]:
    s = load_scenario(DEFAULT_SUITE / f"{name}.toml")
    return mechanism_entries(s.expectations, s.faults, s.world, s.controller)


def test_compound_partition_ledger_expects_the_reaction_to_the_desync_only() -> None:
    link, desync, partition = _entries("compound_partition_ledger")
    assert (link["expects_reaction"], desync["expects_reaction"], partition["expects_reaction"]) == (False, True, False)
    assert link["signals"] == ["ledger.consistent"] and partition["signals"] == ["scan.age_s"]
    assert "ledger.consistent" in desync["signals"]


def test_no_harm_and_reaction_scenarios() -> None:
    assert [e["expects_reaction"] for e in _entries("hz_node_lost")] == [False]
    assert [e["expects_reaction"] for e in _entries("hz_quorum_lost")] == [True, True]
    assert _entries("order_rejects") == [{"signals": [], "expects_reaction": False}]
    (agent,) = _entries("agent_partition")
    assert agent["expects_reaction"] and {"hz.quorum", "heartbeat.age_s", "scan.age_s"} <= set(agent["signals"])
