"""Crash is not silence: a killed member is noticed after the connection-close delay, a silent one
(partitioned) only after the heartbeat timeout; and the agent sees a write with its entry event."""

from __future__ import annotations

from tests.twin.fidelity import first_quorum_drop_s
from twin import World, WorldConfig
from twin.cluster import Record


def _membership(world: World) -> list[tuple[float, str]]:
    events = world.trace().tables["events"].to_pydict()
    return [(t, d) for t, k, d in zip(events["t_s"], events["kind"], events["detail"]) if k == "membership"]


def test_a_crash_is_noticed_after_the_connection_close_delay_silence_after_the_heartbeat_timeout() -> None:
    cfg = WorldConfig()
    crash, silence = cfg.cluster.crash_detection_s, cfg.cluster.detection_delay_s
    assert crash < silence
    killed = World(cfg, "survival", 3)
    killed.at(40.0, lambda: killed.ports["cluster"].kill_member(2))
    killed.run(60.0)
    cut = World(cfg, "survival", 3)
    cut.at(40.0, lambda: cut.ports["network"].partition([["hz2"]]))
    cut.run(60.0)
    (t_kill, d_kill), = _membership(killed)
    (t_cut, d_cut), = _membership(cut)
    assert abs(t_kill - (40.0 + crash)) < 1e-9 and '"hz2"' not in d_kill
    assert abs(t_cut - (40.0 + silence)) < 1e-9 and '"hz2"' not in d_cut


def test_a_crash_detection_does_not_reveal_a_partition_not_yet_noticed() -> None:
    w = World(WorldConfig(), "survival", 3)
    w.at(40.0, lambda: w.ports["network"].partition([["hz1"]]))      # silent: noticed at 45
    w.at(41.0, lambda: w.ports["cluster"].kill_member(2))            # crash: noticed at 41.35
    w.run(60.0)
    crash, silence = w.config.cluster.crash_detection_s, w.config.cluster.detection_delay_s
    (t1, d1), (t2, d2) = _membership(w)
    assert abs(t1 - (41.0 + crash)) < 1e-9 and '"hz0", "hz1"' in d1 and '"quorate": true' in d1
    assert abs(t2 - (40.0 + silence)) < 1e-9 and '"hz1"' not in d2 and '"quorate": false' in d2


def test_losing_the_listener_member_and_another_drops_quorum_after_the_crash_not_the_heartbeat_timeout() -> None:
    # hz0 holds the client's cluster-view listener: its connection is reset, the listener moves to hz2,
    # whose member list (hz2 alone once the crashes are noticed) breaks the quorum
    w = World(WorldConfig(), "survival", 4)
    w.at(40.0, lambda: (w.ports["cluster"].kill_member(0), w.ports["cluster"].kill_member(1)))
    w.run(70.0)
    drop = first_quorum_drop_s(w.trace(), 40.0)
    bound = 40.0 + w.config.cluster.crash_detection_s + w.config.agent.step_interval_s + 0.1
    assert 40.0 + w.config.cluster.crash_detection_s < drop <= bound, drop


def test_the_agent_sees_a_write_one_event_transit_after_it_reached_its_owner() -> None:
    links = {"cluster<->agent": {"latency_ms": 300.0, "jitter_ms": 0.0}}
    w = World(WorldConfig.from_mapping({"network": {"links": links}}), "survival", 5)
    cluster = w.ctx.cluster
    key = "health.scan"
    old = cluster.read(key, 0.0)
    new = Record(10.0, (1.0, 2.0), "scan")
    cluster.store(key, 10.0, 10.0, new)
    assert cluster.read(key, 10.2999) is old
    assert cluster.read(key, 10.3) is new      # the entry event carries the value: no fetch, no extra delay


def test_a_fast_ledger_checksum_skips_the_rounds_it_cannot_read() -> None:
    # below 1 s the checksum publisher is batched; a round whose partition has no owner publishes
    # nothing (it used to send a record without a payload, and the watchdog crashed on it)
    sensors = {"checksum_interval_s": 0.25, "scan_interval_s": 0.25}      # fast scans: trades, a journal
    w = World(WorldConfig.from_mapping({"sensors": sensors, "agent": {"step_interval_s": 0.25}}), "survival", 1)
    w.at(30.0, lambda: w.ports["cluster"].kill_member(2))
    trace = w.run(40.0)
    assert w.agent.portfolio.journal, "the agent has journal entries to check"
    assert trace.tables["decisions"].num_rows > 0
