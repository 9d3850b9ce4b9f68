"""The agent observes only through its client: partitions, cuts, loss, lost entries, retries, migration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.twin.fidelity import assert_quorum_waits_for_the_client, first_quorum_drop_s
from twin import World, WorldConfig


def _at(cols: dict[str, list], t: float) -> int:
    """Row of the last step at or before ``t``."""
    return max(i for i, x in enumerate(cols["t_s"]) if x <= t)


def _cut(kind: str) -> World:
    w = World(WorldConfig(), "survival", 5)
    if kind == "partition":
        w.at(600.0, lambda: w.ports["network"].partition([["agent"], ["hz*"]]))
    else:
        w.at(600.0, w.ports["link.cluster<->agent"].down)
    w.run(700.0)
    return w


def test_a_partition_drops_quorum_after_the_heartbeat_timeout_like_the_same_cut_as_link_down() -> None:
    drop_partition = assert_quorum_waits_for_the_client(_cut("partition"), 600.0)
    drop_link = assert_quorum_waits_for_the_client(_cut("link"), 600.0)
    assert drop_partition == drop_link <= 600.0 + 10.0 + 1.0


def test_a_minority_member_tells_the_agent_through_its_membership_event() -> None:
    w = World(WorldConfig(), "survival", 5)
    w.at(600.0, lambda: w.ports["network"].partition([["agent", "hz0"], ["hz1", "hz2"]]))
    w.run(700.0)
    drop = first_quorum_drop_s(w.trace(), 600.0)
    detected = 600.0 + w.config.cluster.detection_delay_s
    assert detected < drop < detected + 0.5        # the member's own view (hz0 alone), after the link's transit
    dec = w.trace().tables["decisions"]
    i = dec.column("t_s").to_pylist().index(drop)
    assert dec.column("trigger")[i].as_py() == "invariant" and dec.column("posture")[i].as_py() == "HIBERNATE"


def test_nothing_written_on_the_far_side_of_a_cut_reaches_the_near_cache() -> None:
    # a long client timeout keeps the client "connected" through the cut: the near cache must still freeze
    w = World(WorldConfig.from_mapping({"cluster": {"client_heartbeat_timeout_s": 120.0}}), "survival", 6)
    w.at(600.0, lambda: w.ports["network"].partition([["agent"]]))      # sensors keep writing to the members
    w.run(700.0)
    obs = w.trace().tables["signals_observed"].to_pydict()
    i = _at(obs, 699.0)
    assert w.client.connected                      # the client has not noticed yet
    assert obs["scan.age_s"][i] > 95.0 and obs["ob.age_s"][i] > 95.0 and obs["mc_forewarner.age_s"][i] > 95.0


def _mean_heartbeat_age(loss: float) -> float:
    links = {"cluster<->agent": {"latency_ms": 9800.0, "loss_ratio": loss}}
    w = World(WorldConfig.from_mapping({"network": {"links": links}}), "survival", 7)
    obs = w.run(1200.0).tables["signals_observed"].to_pydict()
    ages = [a for t, a in zip(obs["t_s"], obs["heartbeat.age_s"]) if t >= 300.0]
    return float(np.mean(ages))


def test_a_lossy_link_never_makes_what_the_agent_reads_fresher() -> None:
    lossless, lossy = _mean_heartbeat_age(0.0), _mean_heartbeat_age(0.3)
    assert lossless >= 9.8                  # never fresher than the link's transit
    assert lossy > lossless                # lost fetches are retried after the client's pause: older, never fresher


def test_entries_lost_with_their_partition_read_nan_and_the_controller_leaves_apex() -> None:
    # 5 members, backup 1: health.exf and health.esof live on hz0 and hz1 only; 3 of 5 keep the quorum
    w = World(WorldConfig.from_mapping({"cluster": {"members": 5}}), "survival", 8)
    cluster = w.ctx.cluster
    for key in ("health.exf", "health.esof"):
        assert set(cluster.replicas[cluster.partition_id(key)]) == {0, 1}
    w.at(620.0, lambda: (cluster.kill_member(0), cluster.kill_member(1)))   # between publishes
    trace = w.run(700.0)
    assert {"health.exf", "health.esof"} <= set(cluster.lost_keys)
    obs, dec = trace.tables["signals_observed"].to_pydict(), trace.tables["decisions"].to_pydict()
    assert all(q == 1.0 for q in obs["hz.quorum"])
    later = [i for i, t in enumerate(obs["t_s"]) if 627.0 <= t < 660.0]     # until ExF publishes again
    assert later and all(math.isnan(obs["exf.age_s"][i]) and math.isnan(obs["esof.age_s"][i]) for i in later)
    assert all(dec["posture"][i] != "APEX" and dec["layer.exf"][i] < 0.5 for i in later)
    i = _at(obs, 665.0)
    assert obs["exf.age_s"][i] < 10.0 and math.isnan(obs["esof.age_s"][i])   # the next publish re-creates it


def test_a_write_to_a_dead_owner_is_retried_until_the_death_is_detected() -> None:
    # health.mc_forewarner is owned by hz1 (backup hz2); it publishes at 120 s, after hz1 died, before
    # the crash is detected (a slow crash detection, so that the window spans agent steps)
    w = World(WorldConfig.from_mapping({"cluster": {"crash_detection_s": 4.0}}), "survival", 9)
    cluster = w.ctx.cluster
    assert cluster.replicas[cluster.partition_id("health.mc_forewarner")] == [1, 2]
    w.at(118.0, lambda: cluster.kill_member(1))
    obs = w.run(140.0).tables["signals_observed"].to_pydict()
    detected = 118.0 + w.config.cluster.crash_detection_s
    i = _at(obs, detected + 2.0)
    assert obs["mc_forewarner.age_s"][i] < 10.0     # the 120 s record arrived once hz2 took the partition over
    assert obs["mc_forewarner.age_s"][_at(obs, detected - 1.0)] > 60.0   # ... and not before


def test_journal_writes_on_a_lossy_link_are_retried_not_dropped() -> None:
    links = {"cluster<->agent": {"loss_ratio": 0.5}}
    w = World(WorldConfig.from_mapping({"network": {"links": links}}), "survival", 8)
    trace = w.run(3600.0)
    journal = w.agent.portfolio.journal
    assert len(journal) > 10
    assert all(key in w.ctx.cluster.data for _, key, _ in journal[:-3])
    assert not w.agent.journal_damaged
    assert min(trace.tables["signals_true"].column("data.checksum_ok").to_pylist()) == 1.0


def test_a_second_death_inside_the_migration_window_loses_the_partitions_left_on_it() -> None:
    w = World(WorldConfig.from_mapping({"cluster": {"members": 5, "migration_s": 30.0}}), "survival", 10)
    cluster = w.ctx.cluster
    crash = w.config.cluster.crash_detection_s
    w.at(100.0, lambda: cluster.kill_member(0))     # detected 100.35 s, backups re-created at 130.35 s
    w.at(130.0, lambda: cluster.kill_member(1))     # hz1 holds the only copy of hz0's old partitions
    trace = w.run(200.0)
    events = trace.tables["events"].to_pydict()
    lost = [i for i, k in enumerate(events["kind"]) if k == "partition_lost"]
    assert len(lost) == 1 and events["t_s"][lost[0]] == pytest.approx(130.0 + crash)
    assert '"partitions": 55' in events["detail"][lost[0]]      # p % 5 == 0: replicas [hz0, hz1]
    owned, backed = cluster.replica_count()
    assert owned == 271                                          # re-owned (empty) by the survivors
