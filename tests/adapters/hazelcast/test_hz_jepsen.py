"""Jepsen-style faults on real member processes: SIGKILL, SIGSTOP/SIGCONT, member links cut.

Three members, backup count 1, split-brain protection minimum 2 on the health grid, member
failure detection after ``max.no.heartbeat`` (5 s) with 1 s heartbeats (``infra.MemberSettings``).
The sensor writer talks to member 0 only; faults hit members 1 and 2. Assertions are what the
mechanism guarantees — bounds and orderings — with waits on conditions.
"""

from __future__ import annotations

import math
import time

import hazelcast

from adapters.hazelcast import HazelcastAdapterError, HealthWriter, build_client
from controller import Posture, SurvivalController, default_config

from .test_hz_chaos import agent_cfg, event_driver, start_agent, writer_cfg

FILLERS = [f"filler.{i:03d}" for i in range(60)]


def _grid_now(cluster, keys):
    """What the grid holds now, read by a fresh client without a near cache."""
    client = build_client(writer_cfg(cluster), near_cache=False, async_start=False)
    try:
        return client.get_map("DOLPHIN_HEALTH_GRID").blocking().get_all(list(keys))
    finally:
        client.shutdown()


def _cluster_size(cluster, i):
    h = cluster.member(i).health()
    return None if h is None else h.get("clusterSize")


def test_sigkill_one_member_backups_promoted_nothing_lost_no_hibernate_once_detected(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    svc, driver, writer, _ = start_agent(chaos, make_writer, start_service, services, nominal,
                                         fast_keepalive_controller, min_members=2)
    writer.publish_many({k: 0.0 for k in FILLERS})
    strict = start_service(agent_cfg(chaos, min_members=3), expect=tuple(nominal))  # needs all three
    _, strict_seen = event_driver(strict, services)
    decisions = []
    driver._on_decision = lambda d: decisions.append((time.monotonic(), d))
    chaos.kill(2)
    eventually(lambda: svc.state.snapshot().member_count == 2, 20.0, "the agent sees the member removed")
    t_detected = time.monotonic()
    # a view below min_members = 3 is a quorum loss at once, still connected
    eventually(lambda: any(d.posture == Posture.HIBERNATE for d, _, _ in strict_seen), 10.0, "strict agent hibernates")
    _, snap, _ = next(x for x in strict_seen if x[0].posture == Posture.HIBERNATE)
    assert snap.connected and snap.member_count == 2 and strict.signals(time.time())["hz.quorum"] == 0.0
    # backups promoted: every entry is still there (backup count 1, one member lost)
    chaos.wait_safe(2, 60.0)
    held = _grid_now(chaos, FILLERS + list(nominal))
    assert sorted(held) == sorted(FILLERS + list(nominal)), "no entry lost with one member down"
    eventually(lambda: time.monotonic() - t_detected > 3.0, 5.0, "three seconds of decisions after detection")
    after = [d.posture for t, d in decisions if t > t_detected + 0.5]
    assert after and Posture.HIBERNATE not in after, f"two of three members are a quorum: {set(after)}"
    assert svc.signals(time.time())["hz.quorum"] == 1.0


def test_sigkill_two_members_at_once_loses_entries_that_the_agent_reads_as_missing(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    svc, driver, writer, _ = start_agent(chaos, make_writer, start_service, services, nominal,
                                         fast_keepalive_controller, publish=False, min_members=2)
    writer.publish_many({k: 0.0 for k in FILLERS})
    chaos.kill(1, 2)  # the owner and the backup of every partition they shared are gone
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 20.0, "one member left: HIBERNATE")
    assert svc.signals(time.time())["hz.quorum"] == 0.0 or driver.last_decision.layers["keepalive"] == 0.0
    chaos.heal()  # the two restarted as new, empty members; the cluster is whole and safe again
    keys = FILLERS + list(nominal)
    held = _grid_now(chaos, keys)
    lost = [k for k in keys if k not in held]
    assert [k for k in lost if k.startswith("filler.")], "with backup count 1, two members down lose entries"
    # data.checksum_ok is the adapter's own integrity verdict when no record is held (1.0 while
    # every record it saw was intact), so it is not expected to read NaN
    lost_signals = [k for k in lost if k in nominal and k != "data.checksum_ok"]

    def agent_reads_the_grid():
        sig = svc.signals(time.time())
        return all(math.isnan(sig[k]) for k in lost_signals) and \
            all(not math.isnan(sig[k]) for k in nominal if k not in lost_signals)
    eventually(agent_reads_the_grid, 30.0, f"the agent reads exactly the lost signals {lost_signals} as missing")
    now = time.time()
    decision = SurvivalController(default_config()).step(now, svc.signals(now))
    for k in lost_signals:  # (none of the 11 signals lost has a chance of (2/3)^11: vacuous then)
        assert any(r.startswith(f"{k} NaN: worst case") for r in decision.reasons), (k, decision.reasons)
    if "ledger.consistent" in lost_signals:
        assert decision.posture == Posture.HIBERNATE


def test_sigstop_member_is_removed_only_after_the_no_heartbeat_timeout_then_merges_back(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    svc, _, _, _ = start_agent(chaos, make_writer, start_service, services, nominal,
                               fast_keepalive_controller, min_members=2)
    s = chaos.settings
    t_pause = time.monotonic()
    chaos.pause(2)
    eventually(lambda: _cluster_size(chaos, 0) == 2, 30.0, "member 0 removes the paused member")
    detected_s = time.monotonic() - t_pause
    # paused, not dead: its sockets stay open, so only the missing heartbeats remove it
    assert detected_s >= s.max_no_heartbeat_s - s.heartbeat_interval_s - 0.5, detected_s
    eventually(lambda: svc.state.snapshot().member_count == 2, 20.0, "the agent's view follows")
    assert time.monotonic() - t_pause >= s.max_no_heartbeat_s - s.heartbeat_interval_s - 0.5
    t_resume = time.monotonic()
    chaos.resume(2)
    eventually(lambda: all(_cluster_size(chaos, i) == 3 for i in range(3)), 60.0, "the split member merges back")
    merged_s = time.monotonic() - t_resume
    eventually(lambda: svc.state.snapshot().member_count == 3, 30.0, "the agent sees three members again")
    # hz.quorum also needs the client connected: a client renewed while the member was paused (its
    # connection to the paused member lost) can still be settling when the view is whole again
    eventually(lambda: svc.signals(time.time())["hz.quorum"] == 1.0, 20.0,
               f"hz.quorum back (renewals {svc.renewals}, attempts {svc.renew_attempts}, "
               f"recreations {svc.recreations})")
    assert merged_s > 0.0


def test_split_brain_protection_refuses_operations_when_the_member_links_are_cut(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    """Every member link cut (``m<i>`` proxies down): each member is a cluster of one, below the
    protection's minimum of 2, so the health grid refuses reads and writes; clients still reach
    every member (``c<i>`` up). The agent cannot get a probe answered: HIBERNATE."""
    svc, driver, _, _ = start_agent(chaos, make_writer, start_service, services, nominal,
                                    fast_keepalive_controller, min_members=2)
    for i in range(chaos.size):
        chaos.proxy(f"m{i}").disable()
    eventually(lambda: all(_cluster_size(chaos, i) == 1 for i in range(3)), 30.0, "every member alone")
    client = build_client(writer_cfg(chaos), near_cache=False, async_start=False)
    probe = HealthWriter(client, "DOLPHIN_HEALTH_GRID", timeout_s=10.0)  # a well-formed record

    def refused() -> bool:
        try:
            probe.publish("split.probe", 1.0)
        except HazelcastAdapterError as exc:
            return isinstance(exc.__cause__, hazelcast.errors.SplitBrainProtectionError) or \
                "SplitBrainProtection" in str(exc)
        return False
    try:
        eventually(refused, 30.0, "a write refused by split-brain protection")
        eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 20.0, "the agent hibernates")
        for i in range(chaos.size):
            chaos.proxy(f"m{i}").enable()
        eventually(lambda: all(_cluster_size(chaos, i) == 3 for i in range(3)), 60.0, "merged after the heal")
        eventually(lambda: probe.publish("split.probe", 2.0) is not None, 30.0, "writes accepted again")
    finally:
        client.shutdown()
    try:
        eventually(lambda: not driver.last_decision.invariant_broken, 30.0, "the agent recovers")
    except AssertionError:
        snap = svc.state.snapshot()
        raise AssertionError(f"not recovered: {driver.last_decision.reasons[:3]} connected={snap.connected} "
                             f"members={snap.member_count} recreations={svc.recreations} "
                             f"signals={dict(svc.signals(time.time()))}") from None
