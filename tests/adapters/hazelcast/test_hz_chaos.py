"""Chaos on real connections: the real client, the adapter, the fault proxy and the test member."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from adapters.hazelcast import ControllerDriver, HzConfig, load_hz_config
from controller import Posture, SurvivalController, default_config
from tests.hzmember.member import make_member_info

FAST = dict(heartbeat_interval_s=0.3, heartbeat_timeout_s=1.0, probe_interval_s=0.05,
            invocation_timeout_s=2.0, reconnect_bound_s=2.0, connect_timeout_s=60.0)


def _cfg(members: tuple[str, ...], map_name: str = "DOLPHIN_HEALTH_GRID", **kw) -> HzConfig:
    return load_hz_config(env={}, members=members, map_name=map_name, **{**FAST, **kw})


class Publisher:
    """Publishes ``values`` every ``period_s`` from its own thread (a live sensor service)."""

    def __init__(self, writer, values: dict[str, float], period_s: float = 0.05) -> None:
        self._writer, self._values, self._period_s = writer, values, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self._writer.publish_many(self._values)
            except Exception:  # the member may be restarting; a sensor keeps trying
                pass

    def start(self) -> "Publisher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


@pytest.fixture
def agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller):
    """Writer straight to the member, agent service through the proxy, controller driver on top."""
    writer_cfg = _cfg((chaos.member.address,))
    writer = make_writer(writer_cfg)
    publisher = Publisher(writer, nominal)
    services.append(publisher)
    writer.publish_many(nominal)
    publisher.start()
    ctl = fast_keepalive_controller
    svc = start_service(_cfg((chaos.proxy_address,)), ctl, expect=tuple(nominal))
    driver = ControllerDriver(ctl, svc, period_s=0.05)
    services.append(driver.start())
    assert driver.step().posture == Posture.APEX, "nominal signals through the proxy: full risk"
    return svc, driver


def _sample(svc, name: str, duration_s: float) -> float:
    values = []
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        values.append(svc.signals(time.time())[name])
        time.sleep(0.01)
    return statistics.median(values)


def test_latency_and_jitter_raise_observed_ages_smoothly(chaos, agent):
    svc, driver = agent
    base = _sample(svc, "scan.age_s", 0.6)
    chaos.proxy.add_toxic(type="latency", name="lag", attributes={"latency": 150, "jitter": 30})
    time.sleep(0.4)
    mid = _sample(svc, "scan.age_s", 0.8)
    chaos.proxy.destroy_toxic("lag")
    chaos.proxy.add_toxic(type="latency", name="lag", attributes={"latency": 350, "jitter": 30})
    time.sleep(0.6)
    high = _sample(svc, "scan.age_s", 0.8)
    heartbeat = _sample(svc, "heartbeat.age_s", 0.4)
    assert base < mid < high, (base, mid, high)
    assert 0.08 < mid - base < 0.35 and 0.25 < high - base < 0.6, (base, mid, high)
    assert heartbeat < 1.0, "delayed but steady traffic is still contact: no keepalive alarm"
    assert driver.last_decision.posture == Posture.APEX, "sub-second staleness is inside every deadband"


def test_timeout_toxic_reaches_hibernate_and_the_reconnect_watchdog_recovers(chaos, agent, eventually):
    svc, driver = agent
    for stream in ("downstream", "upstream"):
        chaos.proxy.add_toxic(type="timeout", stream=stream, name=f"blackhole_{stream}", attributes={"timeout": 0})
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 6.0, "HIBERNATE while swallowed")
    assert svc.signals(time.time())["heartbeat.age_s"] > 2.0
    eventually(lambda: not svc.state.snapshot().connected, 4.0, "the client notices (heartbeat timeout)")
    chaos.proxy.destroy_toxic("blackhole_downstream")
    chaos.proxy.destroy_toxic("blackhole_upstream")
    eventually(lambda: svc.state.snapshot().connected, 12.0, "connected again after the toxic is removed")
    assert svc.recreations >= 1, "recovery needed our reconnect watchdog: the swallowed auth never completes"
    eventually(lambda: not driver.last_decision.invariant_broken, 3.0, "the keepalive invariant holds again")
    assert svc.signals(time.time())["heartbeat.age_s"] < 1.0


def test_proxy_down_drives_quorum_to_zero_with_a_single_member_at_once(chaos, agent, services, eventually):
    """One member: ``member_removed`` never fires on a fault, only DISCONNECTED does. The
    disconnect alone must read ``hz.quorum = 0`` and step the controller at once (as the twin)."""
    svc, _ = agent
    seen = []  # (decision, snapshot) taken on the stepping thread, at the step
    ctl = SurvivalController(default_config())
    flip_driver = ControllerDriver(ctl, svc, period_s=600.0,  # no timer step: every step is an event
                                   on_decision=lambda d: seen.append((d, svc.state.snapshot())))
    services.append(flip_driver.start())
    assert flip_driver.step().posture == Posture.APEX and svc.state.snapshot().member_count == 1
    chaos.proxy.disable()
    eventually(lambda: any(d.posture == Posture.HIBERNATE for d, _ in seen), 10.0, "an immediate HIBERNATE step")
    assert flip_driver.immediate_steps >= 1
    decision, snap = next((d, s) for d, s in seen if d.posture == Posture.HIBERNATE)
    assert not snap.connected and snap.member_count == 1, "DISCONNECTED with the single member still in view"
    assert decision.layers["hz_quorum"] == 0.0 and decision.invariant_broken
    chaos.proxy.enable()
    eventually(lambda: svc.state.snapshot().connected, 15.0, "reconnected through the proxy")
    eventually(lambda: svc.signals(time.time())["hz.quorum"] == 1.0, 5.0, "quorum back once connected")


def test_proxy_down_reaches_hibernate_and_recovers_when_it_is_back(chaos, agent, eventually):
    svc, driver = agent
    chaos.proxy.disable()
    eventually(lambda: not svc.state.snapshot().connected, 10.0, "DISCONNECTED on proxy down")
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 10.0, "HIBERNATE with the grid gone")
    chaos.proxy.enable()
    eventually(lambda: svc.state.snapshot().connected, 15.0, "reconnected through the proxy")
    eventually(lambda: not driver.last_decision.invariant_broken, 5.0, "invariants hold again")


def test_member_restart_with_a_new_cluster_id_is_detected(chaos, agent, eventually):
    svc, driver = agent
    old_cluster = chaos.member.cluster_id
    steps_before = driver.immediate_steps
    chaos.member.restart(new_cluster_id=True)
    assert chaos.member.cluster_id != old_cluster
    eventually(lambda: svc.state.snapshot().cluster_restarts == 1, 10.0, "cluster restart detected")
    assert driver.immediate_steps > steps_before, "the quorum flip stepped the controller at once"
    # the restarted member lost the grid; the live sensor republishes and the agent reads it again
    eventually(lambda: chaos.member.map_entries("DOLPHIN_HEALTH_GRID"), 5.0, "sensor republished")
    before = svc.state.snapshot().records["scan.age_s"].seq
    eventually(lambda: svc.state.snapshot().records["scan.age_s"].seq > before, 5.0, "fresh records after restart")
    assert svc.signals(time.time())["data.checksum_ok"] == 1.0


def test_member_list_below_quorum_hibernates_at_once(wire_member, make_writer, start_service, services,
                                                     nominal, eventually, fast_keepalive_controller):
    cfg = _cfg((wire_member.address,), min_members=2)
    make_writer(cfg).publish_many(nominal)
    wire_member.push_member_list([make_member_info("127.0.0.1", 9)])  # a second (unreachable) member
    ctl = fast_keepalive_controller
    svc = start_service(cfg, ctl, expect=tuple(nominal))
    eventually(lambda: svc.state.snapshot().member_count == 2, 5.0, "two members in view")
    driver = ControllerDriver(ctl, svc, period_s=60.0)
    services.append(driver.start())
    assert driver.step().posture != Posture.HIBERNATE
    t0 = time.perf_counter()
    wire_member.push_member_list([])
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 2.0, "HIBERNATE on lost quorum")
    assert time.perf_counter() - t0 < 0.5 and svc.signals(time.time())["hz.quorum"] == 0.0


def test_frozen_member_ages_the_heartbeat_then_recovers_when_thawed(chaos, agent, eventually):
    svc, driver = agent
    chaos.member.freeze()
    try:
        eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] > 0.8, 3.0, "heartbeat ages while frozen")
        eventually(lambda: not svc.state.snapshot().connected, 4.0, "client heartbeat timeout disconnects")
    finally:
        chaos.member.thaw()
    eventually(lambda: svc.state.snapshot().connected, 10.0, "reconnected after thaw")
    eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] < 0.5, 3.0, "fresh heartbeat")
