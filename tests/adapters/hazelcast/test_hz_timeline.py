"""The same fault scripts on the real stack and in the twin: their decision timelines agree.

Real: three Hazelcast 5.7.0 members (the session cluster), the real Toxiproxy server, a health
writer publishing every ``SENSOR_PERIOD_S`` to member 0, the agent's Hazelcast adapter through the
client proxies and the controller stepped every ``STEP_S`` and at once on invariant flips, in
wall-clock time. Twin: the same script, settings and controller config (see ``timeline.py``).
Checked: the same posture sequence, HIBERNATE reached after the fault and APEX after the heal
within 20 % or 2 s of each other (``quorum_lost``: APEX -> HIBERNATE -> APEX on both sides, each
reached inside the window the settings imply, see ``timeline.windows``: the real spread is the
cluster's own merge-check phase).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from adapters.hazelcast import ControllerDriver, build_client
from controller import Posture, SurvivalController

from .test_hz_chaos import Publisher, agent_cfg, writer_cfg
from .timeline import CLIENT, SCRIPTS, SENSOR_PERIOD_S, STEP_S, Script, Timeline, compare, controller_config, \
    twin_config, twin_timeline, windows

HELD_S = 2.0   # recovered = APEX regained and held this long (a relapse inside it shows)


def by_age(cluster) -> list[int]:
    """The local cluster's member indices, oldest first: a client's member list is the master's, in
    join order (members advertise their client proxy's address)."""
    client = build_client(agent_cfg(cluster, **CLIENT), near_cache=False, async_start=False)
    try:
        order = [cluster.client_addresses.index(f"{m.address.host}:{m.address.port}")
                 for m in client.cluster_service.get_members()]
    finally:
        client.shutdown()
    assert sorted(order) == list(range(cluster.size)), f"the client sees members {order}, not the whole cluster"
    return order


def _fault(cluster, script: Script, ages: list[int]) -> None:
    if script.fault == "kill":
        cluster.kill(*(ages[i] for i in script.members))
        return
    prefix = "c" if script.fault == "cut_agent" else "m"   # every client proxy / every member link
    for i in range(cluster.size):
        proxy = cluster.proxy(f"{prefix}{i}")
        for stream in ("downstream", "upstream"):
            proxy.add_toxic(type="timeout", stream=stream, name=f"cut_{stream}", attributes={"timeout": 0})


def _heal(cluster, script: Script, ages: list[int]) -> float:
    """Heal; returns when the heal took effect (monotonic): at once for a cut, and for killed members
    when the first restarted one has joined (the master's own view grew): a new process's start-up
    is the machine's, not the cluster model's, so both timelines count from the join."""
    if script.fault != "kill":
        cluster.toxiproxy.api().reset()
        return time.monotonic()
    joined: list[float] = []
    size = 3 - len(script.members)

    def watch() -> None:
        while not joined:
            h = cluster.member(ages[0]).health(timeout_s=0.5)
            if h is not None and (h.get("clusterSize") or 0) > size:
                joined.append(time.monotonic())
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cluster.heal()   # restarts the killed members one at a time (blocking)
    watcher.join(30.0)
    return joined[0]


def real_timeline(cluster, script: Script, services, make_writer, start_service, eventually, nominal) -> Timeline:
    ages = by_age(cluster)   # the sensor writes to the master: the one member no script kills
    writer = make_writer(writer_cfg(cluster, ages[0]))
    writer.publish_many(nominal)
    services.append(Publisher(writer, nominal, SENSOR_PERIOD_S).start())
    svc = start_service(agent_cfg(cluster, **CLIENT), SurvivalController(controller_config()), expect=tuple(nominal))
    seen: list[tuple[float, Posture]] = []
    why: list[str] = []   # the reasons of the first HIBERNATE (for the report)

    def on_decision(d) -> None:
        seen.append((time.monotonic(), d.posture))
        if d.posture == Posture.HIBERNATE and not why:
            why.append(f"{'; '.join(d.reasons[:2])} (members in view {svc.state.snapshot().member_count})")

    driver = ControllerDriver(SurvivalController(controller_config()), svc, period_s=STEP_S, on_decision=on_decision)
    services.append(driver.start())
    eventually(lambda: len(seen) >= 4 and all(p == Posture.APEX for _, p in seen[-4:]), 20.0, "a steady APEX first")
    t_fault = time.monotonic()
    _fault(cluster, script, ages)
    time.sleep(max(0.0, t_fault + script.hold_s - time.monotonic()))
    if script.hibernates:   # a loaded machine may notice later: heal once HIBERNATE is seen (bounded)
        try:
            eventually(lambda: any(p == Posture.HIBERNATE for t, p in seen if t > t_fault), 10.0, "HIBERNATE")
        except AssertionError:
            pass            # no HIBERNATE on the real side: the comparison below says so
    t_heal = _heal(cluster, script, ages)
    def held() -> bool:
        recent = [p for t, p in list(seen) if t > t_heal and t >= seen[-1][0] - HELD_S]
        return len(recent) >= HELD_S / STEP_S and all(p == Posture.APEX for p in recent)

    try:
        eventually(held, 60.0, "APEX after the heal, held")
    except AssertionError as exc:
        last = driver.last_decision
        raise AssertionError(f"{exc}; last decision {last.posture.name} r={last.r_total:.3f} {last.reasons}; "
                             f"signals {dict(svc.signals(time.time()))}") from None
    print(f"{script.name}: real HIBERNATE because {why[0] if why else '-'}")
    return Timeline([(t - t_fault, p) for t, p in list(seen) if t >= t_fault - 1.0], t_heal - t_fault)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_real_and_twin_decision_timelines_agree(script, chaos, services, make_writer, start_service, eventually,
                                                nominal):
    real = real_timeline(chaos, script, services, make_writer, start_service, eventually, nominal)
    # the twin heals when the real stack was healed (the fault starts at 0 on both)
    # the twin runs at least 30 s past the heal: when the real cluster came back at once (a fast merge), the
    # real timeline ends seconds after the heal, before the twin's own merge delay has passed
    cfg = twin_config(chaos.settings)
    window = windows(chaos.settings, cfg)
    twin = twin_timeline(dataclasses.replace(script, hold_s=real.heal_s), cfg,
                         max(real.points[-1][0] + 1.0, real.heal_s + window["apex"][1] + 1.0))
    report = (f"{script.name}: real {real.sequence()} hibernate {real.to_hibernate_s()} apex {real.to_apex_s()} "
              f"(heal at {real.heal_s:.2f} s); twin {twin.sequence()} hibernate {twin.to_hibernate_s()} "
              f"apex {twin.to_apex_s()}" + ("" if script.exact else f"; windows {window}"))
    print(report)
    assert real.sequence()[0] == "APEX" and real.sequence()[-1] == "APEX", report
    problems = compare(real, twin, script.exact, window)
    assert not problems, f"{report}\n" + "\n".join(problems)
