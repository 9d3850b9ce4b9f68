"""Chaos through the real Toxiproxy server: the real client, the adapter and three real members.

The agent reaches the members only through the client proxies ``c<i>`` (the members advertise
them, so reconnects cross them too); the sensor writer is a unisocket client straight to member 0.
Timing: a loaded 2-core machine, so every wait is on a condition with a generous timeout, and
assertions are orderings and bounds the mechanism guarantees (e.g. a record that crossed a latency
toxic is at least ``latency - jitter`` old), never "fast enough" wall times. "Immediate" steps are
shown with a driver whose timer never fires during the test.
"""

from __future__ import annotations

import statistics
import threading
import time

from adapters.hazelcast import ControllerDriver, HzConfig, load_hz_config
from controller import Posture, SurvivalController, default_config

FAST = dict(heartbeat_interval_s=0.3, heartbeat_timeout_s=1.0, probe_interval_s=0.05,
            invocation_timeout_s=2.0, reconnect_bound_s=2.0, connect_timeout_s=60.0)


def agent_cfg(cluster, **kw) -> HzConfig:
    """The agent: every member, through the client proxies."""
    return load_hz_config(env={}, members=cluster.client_addresses, cluster_name=cluster.settings.cluster_name,
                          map_name="DOLPHIN_HEALTH_GRID", **{**FAST, **kw})


def writer_cfg(cluster, member: int = 0) -> HzConfig:
    """A sensor: one member, directly (unisocket), so agent-side toxics never touch it."""
    return load_hz_config(env={}, members=(cluster.direct_client_addresses[member],),
                          cluster_name=cluster.settings.cluster_name, map_name="DOLPHIN_HEALTH_GRID",
                          smart_routing=False, **FAST)


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
        self._thread.join(10.0)


def start_agent(cluster, make_writer, start_service, services, nominal, ctl, publish=True, **cfg):
    """Writer to member 0, agent service through the proxies, controller driver on top."""
    writer = make_writer(writer_cfg(cluster))
    writer.publish_many(nominal)
    publisher = None
    if publish:
        publisher = Publisher(writer, nominal)
        services.append(publisher)
        publisher.start()
    svc = start_service(agent_cfg(cluster, **cfg), ctl, expect=tuple(nominal))
    driver = ControllerDriver(ctl, svc, period_s=0.05)
    services.append(driver.start())
    assert driver.step().posture == Posture.APEX, "nominal signals through the proxy: full risk"
    return svc, driver, writer, publisher


def event_driver(svc, services):
    """A driver whose timer never fires here: each step it takes is an immediate (event) step.
    Records (decision, snapshot, monotonic time) on the stepping thread, at the step."""
    seen = []
    driver = ControllerDriver(SurvivalController(default_config()), svc, period_s=600.0,
                              on_decision=lambda d: seen.append((d, svc.state.snapshot(), time.monotonic())))
    services.append(driver.start())
    return driver, seen


def all_client_proxies(cluster):
    return [cluster.proxy(f"c{i}") for i in range(cluster.size)]


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
    svc, driver, _, _ = start_agent(chaos, make_writer, start_service, services, nominal,
                                    SurvivalController(default_config()), heartbeat_timeout_s=5.0)
    base = _samples(svc, "scan.age_s", 0.6)
    phases = []
    for latency_ms in (150, 350):
        for proxy in all_client_proxies(chaos):
            if phases:
                proxy.destroy_toxic("lag")
            proxy.add_toxic(type="latency", name="lag", attributes={"latency": latency_ms, "jitter": 30})
        time.sleep(latency_ms / 1000.0 + 0.3)  # settle: every record now held crossed the toxic
        phases.append(_samples(svc, "scan.age_s", 0.8))
    heartbeat = statistics.median(_samples(svc, "heartbeat.age_s", 0.4))
    mid, high = phases
    # guaranteed: a record that crossed the toxic left the writer >= latency - jitter before it arrived
    assert min(mid) >= 0.150 - 0.030 and min(high) >= 0.350 - 0.030, (min(mid), min(high))
    med = [statistics.median(v) for v in (base, mid, high)]
    assert med[0] < med[1] < med[2], f"ages rise with the added delay: {med}"
    assert med[2] - med[0] < 0.350 + 0.030 + 1.0, f"smoothly, by about the delay (no jump): {med}"
    assert heartbeat < 1.5, "delayed but steady traffic is still contact: no keepalive alarm"
    assert svc.signals(time.time())["hz.quorum"] == 1.0 and svc.state.snapshot().connected
    assert driver.last_decision.posture == Posture.APEX, "sub-second staleness is inside every deadband"


def test_agent_cut_off_by_a_timeout_toxic_ages_hibernates_and_the_reconnect_watchdog_recovers(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    """Bytes to and from every member swallowed: no reply, no event. The heartbeat age grows, the
    keepalive breaks (HIBERNATE); the client's own reconnect is swallowed too (authentication),
    so only our reconnect watchdog gets out of it once the toxic is gone."""
    svc, driver, _, _ = start_agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller)
    for proxy in all_client_proxies(chaos):
        for stream in ("downstream", "upstream"):
            proxy.add_toxic(type="timeout", stream=stream, name=f"blackhole_{stream}", attributes={"timeout": 0})
    t_cut = time.time()
    ages = []
    eventually(lambda: ages.append(svc.signals(time.time())["heartbeat.age_s"]) or ages[-1] > 1.5, 15.0,
               "the heartbeat age grows while swallowed")
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 15.0, "HIBERNATE while cut off")
    layers = driver.last_decision.layers
    assert layers["keepalive"] == 0.0 or layers["hz_quorum"] == 0.0, "an invariant (keepalive or quorum) broke"
    assert svc.signals(time.time())["heartbeat.age_s"] >= 0.0 and time.time() - t_cut >= 1.0
    eventually(lambda: not svc.state.snapshot().connected, 15.0, "the client notices (heartbeat timeout)")
    assert svc.signals(time.time())["hz.quorum"] == 0.0, "DISCONNECTED reads quorum 0"
    eventually(lambda: svc.recreations >= 1, 20.0, "the reconnect watchdog replaces the stuck client")
    assert driver.last_decision.posture == Posture.HIBERNATE, "still cut off: still HIBERNATE"
    for proxy in all_client_proxies(chaos):
        proxy.destroy_toxic("blackhole_downstream")
        proxy.destroy_toxic("blackhole_upstream")
    eventually(lambda: svc.state.snapshot().connected, 30.0, "connected again after the toxic is removed")
    eventually(lambda: not driver.last_decision.invariant_broken, 15.0, "the invariants hold again")
    eventually(lambda: svc.signals(time.time())["heartbeat.age_s"] < 1.0, 10.0, "fresh heartbeat")


def test_proxies_down_disconnect_reads_quorum_zero_and_steps_at_once_then_recovers(
        chaos, make_writer, start_service, services, nominal, eventually, fast_keepalive_controller):
    """``member_removed`` never fires when only the agent is cut off (the members are fine):
    DISCONNECTED alone must read ``hz.quorum = 0`` and step the controller at once (as the twin)."""
    svc, driver, _, _ = start_agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller)
    flip_driver, seen = event_driver(svc, services)
    assert flip_driver.step().posture == Posture.APEX and svc.state.snapshot().member_count == 3
    for proxy in all_client_proxies(chaos):
        proxy.disable()
    eventually(lambda: any(d.posture == Posture.HIBERNATE for d, _, _ in seen), 10.0, "an immediate HIBERNATE step")
    assert flip_driver.immediate_steps >= 1
    decision, snap, _ = next((d, s, t) for d, s, t in seen if d.posture == Posture.HIBERNATE)
    assert not snap.connected and snap.member_count == 3, "DISCONNECTED with every member still in view"
    assert decision.layers["hz_quorum"] == 0.0 and decision.invariant_broken
    for proxy in all_client_proxies(chaos):
        proxy.enable()
    eventually(lambda: svc.state.snapshot().connected, 20.0, "reconnected through the proxies")
    eventually(lambda: svc.signals(time.time())["hz.quorum"] == 1.0, 10.0, "quorum back once connected")
    eventually(lambda: not driver.last_decision.invariant_broken, 15.0, "invariants hold again")


def test_whole_cluster_restart_with_a_new_cluster_id_is_detected(chaos, make_writer, start_service, services,
                                                                 nominal, eventually, fast_keepalive_controller):
    svc, _, _, _ = start_agent(chaos, make_writer, start_service, services, nominal, fast_keepalive_controller)
    flip_driver, _ = event_driver(svc, services)
    before = svc.state.snapshot().records["scan.age_s"].seq
    chaos.restart_all()  # every member killed, then started again: a new cluster, the grid empty
    eventually(lambda: svc.state.snapshot().cluster_restarts == 1, 30.0, "cluster restart detected")
    assert flip_driver.immediate_steps >= 1, "the connection loss stepped the controller at once"
    # the live sensor republishes into the new cluster and the agent reads it again
    eventually(lambda: svc.state.snapshot().records["scan.age_s"].seq > before, 30.0, "fresh records after restart")
    eventually(lambda: svc.signals(time.time())["hz.quorum"] == 1.0, 10.0, "quorum in the new cluster")
    assert svc.signals(time.time())["data.checksum_ok"] == 1.0


def test_a_member_whose_connection_hangs_gets_a_renewed_client_without_a_quorum_step(
        chaos, make_writer, services, nominal, eventually):
    """Member 2's client proxy swallows every byte from the start, so the client has member 2 in view
    but no connection to it: the agent is deaf to that member's entry events. The service renews its
    client make-before-break: a second client is dropped while member 2 still hangs, and once the
    toxic is gone the agent listens on every member again — without DISCONNECTED, so ``hz.quorum``
    never drops. (Here the old client also gets its connection once Toxiproxy drops the held one, and
    which client ends up listening is a race, so the take-over itself is not asserted. Why renewal is
    needed: a CI run saw a member in view left unconnected for 60 s after a heal, where re-registering
    the listener 28 times did nothing.)"""
    from adapters.hazelcast import HazelcastHealthService

    writer = make_writer(writer_cfg(chaos))
    writer.publish_many(nominal)
    proxy = chaos.proxy("c2")
    for stream in ("downstream", "upstream"):
        proxy.add_toxic(type="timeout", stream=stream, name=f"hang_{stream}", attributes={"timeout": 0})
    svc = HazelcastHealthService(agent_cfg(chaos)).start()
    services.append(svc)
    # (the first connection may itself pick the hanging address: the reconnect watchdog replaces that client)
    eventually(lambda: "no connection to" in svc.deaf_to(), 30.0, "deaf to member 2: its connection hangs")
    replaced = svc.recreations
    quorum: list[float] = []
    deadline = time.monotonic() + 3 * agent_cfg(chaos).reconnect_bound_s
    while time.monotonic() < deadline:   # renewals are tried and dropped while the member hangs
        quorum.append(svc.signals(time.time())["hz.quorum"])
        time.sleep(0.02)
    assert not svc.listening and svc.renewals == 0, "no second client can reach member 2 either: none took over"
    assert svc.renew_attempts >= 1, "a renewal tried (and dropped) while member 2 hangs"
    for stream in ("downstream", "upstream"):
        proxy.destroy_toxic(f"hang_{stream}")
    eventually(lambda: quorum.append(svc.signals(time.time())["hz.quorum"]) or svc.listening, 30.0,
               f"listening on every member after the toxic is gone ({svc.deaf_to()})")
    assert svc.recreations == replaced, "never DISCONNECTED-and-replaced: a renewal is make before break"
    assert min(quorum) == 1.0, "a renewal is make before break: no DISCONNECTED, no quorum step"


def test_heal_puts_back_a_disabled_proxy_and_removes_toxics(chaos):
    """``heal`` resets the proxies when one is dirty (it skips the reset only when none is: a reset
    re-links every open connection; see ``LocalCluster.heal``)."""
    api = chaos.toxiproxy.api()
    chaos.proxy("c1").add_toxic(type="latency", name="slow", attributes={"latency": 50})
    chaos.proxy("c2").disable()
    chaos.heal()
    after = api.proxies()
    assert all(p.enabled for p in after.values()), "a disabled proxy is enabled again"
    assert not any(p.toxics() for p in after.values()), "every toxic removed"

