"""The fault -> signals -> layers map recorded for attribution is derived from the twin's wiring (what
each component the world builds declares it reads), the parts each fault kind touches and the
controller's config; the scenario's reaction checks say which faults must be reacted to."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from controller import default_config
from faults import KINDS, Fault, inject
from scenarios import load_scenario
from scenarios.cli import DEFAULT_SUITE
from scenarios.mechanism import expects_reaction, fault_layers, fault_signals, mechanism_entries
from twin import SIGNALS, TwinError, World, WorldConfig


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
    cluster = w.ctx.cluster
    for m in cluster.names:    # a member: the quorum, the journal's checksum and the entries it holds a copy of
        held = {sig for name, sensor in w.sensors.items() if m in cluster.holders(sensor.key)
                for sig in wiring.reach([f"sensor.{name}"], "timing")}
        assert set(wiring.reach([f"member.{m}"], "timing")) == {"hz.quorum", "data.checksum_ok"} | held


def test_the_map_follows_the_configured_world() -> None:
    """Members, and so what a partition cutting some of them off moves, come from the ``[cluster]`` the
    world was built with; the agent's clock moves every age and nothing else."""
    cut = Fault("network_partition", "network", 0.0, 60.0, (("groups", (("hz0", "hz1"),)),))
    three = set(fault_signals(cut, WorldConfig()))
    assert "hz.quorum" in three and "ledger.consistent" not in three
    two = dataclasses.replace(WorldConfig(), cluster=dataclasses.replace(WorldConfig().cluster, members=2))
    assert set(fault_signals(cut, two)) == set(SIGNALS) - {"ledger.consistent", "portfolio.drawdown"}
    lost = Fault("node_loss", "hz4", 0.0, 60.0)
    with pytest.raises(TwinError, match="member.hz4"):
        fault_signals(lost, WorldConfig())
    five = dataclasses.replace(WorldConfig(), cluster=dataclasses.replace(WorldConfig().cluster, members=5))
    assert "hz.quorum" in fault_signals(lost, five)
    skew = Fault("clock_skew", "agent", 0.0, 60.0, (("offset_s", 30.0),))
    assert set(fault_signals(skew, WorldConfig())) == {s for s in SIGNALS if s.endswith(".age_s")}


def _observed(faults: list[Fault]) -> pa.Table:
    world = World(WorldConfig(), "survival", seed=3)
    inject(world, faults)
    return world.run(600.0)["signals_observed"]


def _moved(base: pa.Table, other: pa.Table) -> set[str]:
    """Signals whose observed value differs at some step both runs took."""
    _, ib, io = np.intersect1d(base["t_s"].to_numpy(), other["t_s"].to_numpy(), return_indices=True)
    return {s for s in SIGNALS if not np.array_equal(base[s].to_numpy()[ib], other[s].to_numpy()[io], equal_nan=True)}


_SOUNDNESS = [("link_down", "sensor.esof->cluster", {}), ("sensor_down", "ob", {}), ("data_corruption", "scan", {}),
              ("ledger_desync", "ledger", {}), ("node_loss", "hz1", {}), ("exf_shock", "market", {}),
              ("ob_depth_decay", "exchange", {}), ("clock_skew", "agent", {"offset_s": 30.0}),
              ("exchange_outage", "exchange", {}), ("network_partition", "sensor.mc_forewarner", {}),
              ("ob_latency", "ob", {"latency_ms": 3000.0})]


def test_the_derived_map_covers_what_really_moves_in_the_twin() -> None:
    """Soundness against behaviour: a 10-min world with one fault (200 s in, 300 s long) next to the same
    seed without it; every observed signal that differs is in the fault's derived map. The drawdown is
    left out: it follows the agent's own trading (a reaction changes it), which is the plant, not a sensing
    path (the market's moves are in the map: an ExF shock moves it). A member loss moves the entries it
    owned (their writes wait for the failover), which a hand-kept table had missed — when the failover is
    slower than a step: a crashed member is detected in ``crash_detection_s`` (0.35 s), so with the default
    timings its loss may move nothing observed at all (sound either way; every other fault must move something,
    or the comparison proves nothing)."""
    base = _observed([])
    silent = []
    for kind, target, params in _SOUNDNESS:
        full = {p.name: p.default for p in KINDS[kind].params} | params
        fault = Fault(kind, target, 200.0, 300.0, tuple(sorted(full.items())))
        moved = _moved(base, _observed([fault])) - {"portfolio.drawdown"}
        derived = set(fault_signals(fault, WorldConfig()))
        assert moved <= derived, (kind, target, sorted(moved - derived))
        if not moved:
            silent.append(kind)
    assert set(silent) <= {"node_loss"}, silent


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
    assert _entries("order_rejects") == [{"touches": ["exchange.orders"], "effect": "value", "signals": [],
                                          "expects_reaction": False}]
    (agent,) = _entries("agent_partition")
    assert agent["expects_reaction"] and {"hz.quorum", "heartbeat.age_s", "scan.age_s"} <= set(agent["signals"])
