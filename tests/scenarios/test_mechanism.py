"""The fault -> signals -> layers map recorded for attribution is derived from the twin's wiring (what
each component the world builds declares it reads), the parts each fault kind touches and the
controller's config; the scenario's reaction checks say which faults must be reacted to."""

from __future__ import annotations

import dataclasses

from controller import default_config
from faults import KINDS, Fault
from scenarios import load_scenario
from scenarios.cli import DEFAULT_SUITE
from scenarios.mechanism import expects_reaction, fault_layers, fault_signals, mechanism_entries
from twin import SIGNALS, World, WorldConfig


def test_the_wiring_is_what_the_world_built_and_every_fault_kind_touches_parts_of_it() -> None:
    w = World(WorldConfig(), seed=1)
    wiring = w.wiring
    for signal in SIGNALS:
        assert wiring.sources(signal), signal              # every signal derives from some part
    for name, sensor in w.sensors.items():                # every sensor's records feed a signal, over its link
        assert wiring.reach([f"sensor.{name}"], "timing"), name
        assert wiring.reach([f"link.{sensor.link.name}"], "timing") == wiring.reach([f"sensor.{name}"], "timing")
    for kind in KINDS.values():                           # every part a fault kind touches exists in the world
        for target in kind.targets(w.config):
            parts, effect = kind.acts_on(Fault(kind.name, target, 0.0, 60.0), wiring)
            wiring.reach(parts, effect)
    members = [f"member.{m}" for m in w.ctx.cluster.names]
    assert wiring.reach(members[:1], "timing") == ("hz.quorum",)   # the grid is replicated ...
    assert set(wiring.reach(members, "timing")) == set(SIGNALS) - {"ledger.consistent", "portfolio.drawdown"}


def test_the_map_follows_the_configured_world() -> None:
    """A partition that cuts hz0 and hz1 off leaves a 3-member grid readable (only the quorum moves) but
    cuts a 2-member world's grid off entirely; the agent's clock moves every age and nothing else."""
    cut = Fault("network_partition", "network", 0.0, 60.0, (("groups", (("hz0", "hz1"),)),))
    three = fault_signals(cut, WorldConfig())
    assert three == ("hz.quorum",)
    two = dataclasses.replace(WorldConfig(), cluster=dataclasses.replace(WorldConfig().cluster, members=2))
    assert "scan.age_s" in fault_signals(cut, two) and "hz.quorum" in fault_signals(cut, two)
    skew = Fault("clock_skew", "agent", 0.0, 60.0, (("offset_s", 30.0),))   # the agent's clock ages every record
    assert set(fault_signals(skew, WorldConfig())) == {s for s in SIGNALS if s.endswith(".age_s")}


def test_removing_a_layer_from_the_config_changes_the_map() -> None:
    fault = Fault("link_down", "sensor.mc_forewarner->cluster", 600.0, 600.0)
    signals = fault_signals(fault, WorldConfig())
    assert signals == ("mc_forewarner.age_s",)
    full = default_config()
    assert fault_layers(signals, full) == ("mc_forewarner",)
    without = dataclasses.replace(full, layers=tuple(ly for ly in full.layers if ly.name != "mc_forewarner"))
    assert fault_layers(signals, without) == ()
    # a reaction check naming no fault expects a reaction only to faults reaching one of the controller's layers
    s = load_scenario(DEFAULT_SUITE / "hz_quorum_lost.toml")
    unnamed = [e for e in s.expectations if e.check == "hibernate_within"]
    assert unnamed and "fault[" not in str(unnamed[0].raw)
    assert expects_reaction(unnamed, [fault], [signals], full) == [True]
    assert expects_reaction(unnamed, [fault], [signals], without) == [False]


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
