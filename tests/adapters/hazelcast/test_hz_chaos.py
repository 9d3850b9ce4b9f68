"""Chaos on real connections: the real client, the adapter, the fault proxy and the test member.

Timing: these run on a loaded 2-core machine, so every wait is on a condition with a generous
timeout, and assertions are orderings and bounds the mechanism guarantees (e.g. a record that
crossed a latency toxic is at least ``latency - jitter`` old), never "fast enough" wall times.
"Immediate" steps are shown with a driver whose timer never fires during the test.
"""

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


def _start_agent(chaos, make_writer, start_service, services, nominal, ctl, **cfg):
    """Writer straight to the member, agent service through the proxy, controller driver on top."""
    writer = make_writer(_cfg((chaos.member.address,)))
    publisher = Publisher(writer, nominal)
    services.append(publisher)
    writer.publish_many(nominal)
    publisher.start()
    svc = start_service(_cfg((chaos.proxy_address,), **cfg), ctl, expect=tuple(nominal))
    driver = ControllerDriver(ctl, svc, period_s=0.05)
    services.append(driver.start())
    assert driver.step().posture == Posture.APEX, "nominal signals through the proxy: full risk"
    return svc, driver


@pytest.fixture
def agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller):
    return _start_agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller)


def _event_driver(svc, services):
    """A driver whose timer never fires here: each step it takes is an immediate (event) step.
    Records (decision, snapshot) on the stepping thread, at the step."""
    seen = []
    driver = ControllerDriver(SurvivalController(default_config()), svc, period_s=600.0,
                              on_decision=lambda d: seen.append((d, svc.state.snapshot())))
    services.append(driver.start())
    return driver, seen


def _samples(svc, name: str, duration_s: float) -> list[float]:
    values = []
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        values.append(svc.signals(time.time())[name])
        time.sleep(0.01)
    return values


def test_latency_and_jitter_raise_observed_ages_smoothly(chaos, make_writer, start_service, services, nominal):
    # the default 10 s keepalive and a 5 s client heartbeat timeout: a scheduling stall on a busy
    # machine must not be mistaken for the (sub-second) staleness this test is about
    svc, driver = _start_agent(chaos, make_writer, start_service, services, nominal,
                               SurvivalController(default_config()), heartbeat_timeout_s=5.0)
    base = _samples(svc, "scan.age_s", 0.6)
    phases = []
    for latency_ms in (150, 350):
        if phases:
            chaos.proxy.destroy_toxic("lag")
        chaos.proxy.add_toxic(type="latency", name="lag", attributes={"latency": latency_ms, "jitter": 30})
        time.sleep(latency_ms / 1000.0 + 0.3)  # settle: every record now held crossed the toxic
        phases.append(_samples(svc, "scan.age_s", 0.8))
    heartbeat = statistics.median(_samples(svc, "heartbeat.age_s", 0.4))
    mid, high = phases
    # guaranteed: a record that crossed the toxic left the writer >= latency - jitter before it arrived
    assert min(mid) >= 0.150 - 0.030 and min(high) >= 0.350 - 0.030, (min(mid), min(high))
    med = [statistics.median(v) for v in (base, mid, high)]
    assert med[0] < med[1] < med[2], f"ages rise with the added delay: {med}"
    assert med[2] - med[0] < 0.350 + 0.030 + 1.0, f"smoothly, by about the delay (no jump): {med}"
    assert heartbeat < 1.0, "delayed but steady traffic is still contact: no keepalive alarm"
    assert svc.signals(time.time())["hz.quorum"] == 1.0 and svc.state.snapshot().connected
    assert driver.last_decision.posture == Posture.APEX, "sub-second staleness is inside every deadband"


def test_timeout_toxic_reaches_hibernate_and_the_reconnect_watchdog_recovers(chaos, agent, eventually):
    svc, driver = agent
    for stream in ("downstream", "upstream"):
        chaos.proxy.add_toxic(type="timeout", stream=stream, name=f"blackhole_{stream}", attributes={"timeout": 0})
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 15.0, "HIBERNATE while swallowed")
    layers = driver.last_decision.layers
    assert layers["keepalive"] == 0.0 or layers["hz_quorum"] == 0.0, "an invariant (keepalive or quorum) broke"
    eventually(lambda: not svc.state.snapshot().connected, 15.0, "the client notices (heartbeat timeout)")
    assert svc.signals(time.time())["hz.quorum"] == 0.0, "DISCONNECTED reads quorum 0"
    # the reconnect attempt's authentication is swallowed too: only our watchdog gets out of it
    eventually(lambda: svc.recreations >= 1, 20.0, "the reconnect watchdog replaces the stuck client")
    chaos.proxy.destroy_toxic("blackhole_downstream")
    chaos.proxy.destroy_toxic("blackhole_upstream")
    eventually(lambda: svc.state.snapshot().connected, 30.0, "connected again after the toxic is removed")
    eventually(lambda: not driver.last_decision.invariant_broken, 10.0, "the invariants hold again")
    eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] < 1.0, 10.0, "fresh heartbeat")


def test_proxy_down_drives_quorum_to_zero_with_a_single_member_at_once(chaos, agent, services, eventually):
    """One member: ``member_removed`` never fires on a fault, only DISCONNECTED does. The
    disconnect alone must read ``hz.quorum = 0`` and step the controller at once (as the twin)."""
    svc, _ = agent
    flip_driver, seen = _event_driver(svc, services)
    assert flip_driver.step().posture == Posture.APEX and svc.state.snapshot().member_count == 1
    chaos.proxy.disable()
    eventually(lambda: any(d.posture == Posture.HIBERNATE for d, _ in seen), 10.0, "an immediate HIBERNATE step")
    assert flip_driver.immediate_steps >= 1
    decision, snap = next((d, s) for d, s in seen if d.posture == Posture.HIBERNATE)
    assert not snap.connected and snap.member_count == 1, "DISCONNECTED with the single member still in view"
    assert decision.layers["hz_quorum"] == 0.0 and decision.invariant_broken
    chaos.proxy.enable()
    eventually(lambda: svc.state.snapshot().connected, 15.0, "reconnected through the proxy")
    eventually(lambda: svc.signals(time.time())["hz.quorum"] == 1.0, 10.0, "quorum back once connected")


def test_proxy_down_reaches_hibernate_and_recovers_when_it_is_back(chaos, agent, eventually):
    svc, driver = agent
    chaos.proxy.disable()
    eventually(lambda: not svc.state.snapshot().connected, 10.0, "DISCONNECTED on proxy down")
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 10.0, "HIBERNATE with the grid gone")
    chaos.proxy.enable()
    eventually(lambda: svc.state.snapshot().connected, 15.0, "reconnected through the proxy")
    eventually(lambda: not driver.last_decision.invariant_broken, 10.0, "invariants hold again")


def test_member_restart_with_a_new_cluster_id_is_detected(chaos, agent, services, eventually):
    svc, _ = agent
    flip_driver, _ = _event_driver(svc, services)
    old_cluster = chaos.member.cluster_id
    chaos.member.restart(new_cluster_id=True)
    assert chaos.member.cluster_id != old_cluster
    eventually(lambda: svc.state.snapshot().cluster_restarts == 1, 15.0, "cluster restart detected")
    assert flip_driver.immediate_steps >= 1, "the connection loss stepped the controller at once"
    # the restarted member lost the grid; the live sensor republishes and the agent reads it again
    eventually(lambda: chaos.member.map_entries("DOLPHIN_HEALTH_GRID"), 10.0, "sensor republished")
    before = svc.state.snapshot().records["scan.age_s"].seq
    eventually(lambda: svc.state.snapshot().records["scan.age_s"].seq > before, 10.0, "fresh records after restart")
    assert svc.signals(time.time())["data.checksum_ok"] == 1.0


def test_member_list_below_quorum_hibernates_at_once(chaos, make_writer, start_service, services,
                                                     nominal, eventually, fast_keepalive_controller):
    make_writer(_cfg((chaos.member.address,))).publish_many(nominal)
    chaos.member.push_member_list([make_member_info("127.0.0.1", 9)])  # a second (unreachable) member
    svc = start_service(_cfg((chaos.proxy_address,), min_members=2), fast_keepalive_controller,
                        expect=tuple(nominal))
    eventually(lambda: svc.state.snapshot().member_count == 2, 10.0, "two members in view")
    flip_driver, seen = _event_driver(svc, services)
    assert flip_driver.step().posture != Posture.HIBERNATE
    chaos.member.push_member_list([])
    eventually(lambda: any(d.posture == Posture.HIBERNATE for d, _ in seen), 10.0, "HIBERNATE on lost quorum")
    decision, snap = next((d, s) for d, s in seen if d.posture == Posture.HIBERNATE)
    assert snap.connected and snap.member_count == 1, "still connected: the member view alone lost quorum"
    assert decision.layers["hz_quorum"] == 0.0 and flip_driver.immediate_steps >= 1


def test_frozen_member_ages_the_heartbeat_then_recovers_when_thawed(chaos, agent, eventually):
    svc, driver = agent
    chaos.member.freeze()
    try:
        eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] > 0.8, 10.0, "heartbeat ages while frozen")
        eventually(lambda: not svc.state.snapshot().connected, 10.0, "client heartbeat timeout disconnects")
        assert svc.signals(time.time())["hz.quorum"] == 0.0
        eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 10.0, "HIBERNATE while frozen")
    finally:
        chaos.member.thaw()
    eventually(lambda: svc.state.snapshot().connected, 15.0, "reconnected after thaw")
    eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] < 0.5, 10.0, "fresh heartbeat")
