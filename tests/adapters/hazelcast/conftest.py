"""Fixtures for the Hazelcast adapter tests: real Hazelcast 5.7.0 members and a real Toxiproxy server.

One local cluster (three members as separate ``java`` processes, each behind Toxiproxy: ``c<i>``
for client traffic, ``m<i>`` for member links; see ``infra.LocalCluster``) is started once per
session, when the first test needs it, and stopped at the end (its processes also die with pytest).
Integration tests take ``hz_target``: that cluster, or the external cluster at ``NOR_HZ_MEMBERS``
(``NOR_HZ_CLUSTER``, credentials from ``NOR_HZ_USERNAME``/``NOR_HZ_PASSWORD``). Chaos tests take
``chaos``: they kill, pause and cut the local members, so they always use the local cluster, and
every chaos test ends with the cluster healed (proxies reset, members continued or restarted).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:  # tests/ is a rootdir-relative namespace package
    sys.path.insert(0, _ROOT)

from adapters.hazelcast import HealthWriter, HzConfig, build_client, load_hz_config  # noqa: E402
from infra import LocalCluster  # noqa: E402

NOMINAL = {
    "ledger.consistent": 1.0, "data.checksum_ok": 1.0, "mc_forewarner.age_s": 0.0, "scan.age_s": 0.0,
    "ob.age_s": 0.0, "ob.latency_ms": 5.0, "ob.depth_ratio": 1.0, "exf.age_s": 0.0, "exf.shock": 0.0,
    "esof.age_s": 0.0, "portfolio.drawdown": 0.0,
}


@dataclass
class HzTarget:
    """Where a test connects: member addresses and cluster name.

    Every ``NOR_TEST_*`` map handed out by :meth:`config` is destroyed by :meth:`destroy_maps`
    when the test ends, so a real cluster is left as it was found.
    """

    kind: str
    members: tuple[str, ...]
    cluster_name: str
    map_names: list[str] = field(default_factory=list)

    def config(self, **overrides) -> HzConfig:
        base = dict(members=self.members, cluster_name=self.cluster_name,
                    map_name=f"NOR_TEST_{uuid.uuid4().hex[:12]}", heartbeat_interval_s=0.5,
                    heartbeat_timeout_s=2.0, invocation_timeout_s=3.0, probe_interval_s=0.1,
                    reconnect_bound_s=3.0, connect_timeout_s=20.0)
        base.update(overrides)
        self.map_names.append(base["map_name"])
        return load_hz_config(env=_credentials_env(), **base)

    def destroy_maps(self) -> list[str]:
        """Destroy every map this target handed out (idempotent); returns their names."""
        names = list(dict.fromkeys(self.map_names))
        if not names:
            return []
        cfg = load_hz_config(env=_credentials_env(), members=self.members, cluster_name=self.cluster_name,
                             connect_timeout_s=20.0)
        client = build_client(cfg, near_cache=False, async_start=False)
        try:
            for name in names:
                client.get_map(name).destroy()
        finally:
            client.shutdown()
        return names


def _credentials_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("NOR_HZ_USERNAME", "NOR_HZ_PASSWORD")}


@pytest.fixture(scope="session")
def local_cluster():
    """Three real members behind the real Toxiproxy server, started once (member start-up printed)."""
    t0 = time.monotonic()
    cluster = LocalCluster(3).start()
    print(f"\nlocal Hazelcast cluster up in {time.monotonic() - t0:.1f} s "
          f"(per member: {', '.join(f'{s:.1f}' for s in cluster.startup_s)} s)")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def hz_target(request):
    external = os.environ.get("NOR_HZ_MEMBERS")
    if external:
        members = tuple(m.strip() for m in external.split(",") if m.strip())
        target = HzTarget("external", members, os.environ.get("NOR_HZ_CLUSTER", "dev"))
    else:
        cluster = request.getfixturevalue("local_cluster")
        target = HzTarget("local", cluster.client_addresses, cluster.settings.cluster_name)
    yield target
    target.destroy_maps()


@pytest.fixture
def make_writer():
    """Factory: a writer on its own (synchronously started) client; all shut down afterwards."""
    clients = []

    def make(cfg: HzConfig, **kwargs) -> HealthWriter:
        client = build_client(cfg, near_cache=False, async_start=False)
        clients.append(client)
        return HealthWriter(client, cfg.map_name, **kwargs)

    yield make
    for client in clients:
        client.shutdown()


@pytest.fixture
def services():
    """Collects started services/drivers and stops them after the test."""
    started = []
    yield started
    for thing in reversed(started):
        thing.stop()


@pytest.fixture
def eventually() -> Callable[..., float]:
    """``eventually(pred, timeout_s, what)``: poll until ``pred()`` is true; returns seconds waited."""

    def wait(pred: Callable[[], bool], timeout_s: float, what: str) -> float:
        t0 = time.monotonic()
        while not pred():
            if time.monotonic() - t0 > timeout_s:
                raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")
            time.sleep(0.005)
        return time.monotonic() - t0

    return wait


@pytest.fixture
def nominal() -> dict[str, float]:
    return dict(NOMINAL)


@pytest.fixture
def start_service(services, eventually):
    """Factory: a started health service, connected and with every published signal read."""
    from adapters.hazelcast import HazelcastHealthService

    def start(cfg: HzConfig, ctl=None, expect: tuple[str, ...] = (), **kwargs) -> HazelcastHealthService:
        names = ctl.signal_names if ctl is not None else None
        extra = {} if ctl is None else {"signal_names": names, "invariant_signals": ctl.invariant_signals}
        svc = HazelcastHealthService(cfg, **extra, **kwargs).start()
        services.append(svc)
        eventually(lambda: svc.wait_connected(0.01), 20.0, "the health service connects")
        try:
            eventually(lambda: svc.listening, 60.0, "the entry listener is registered")
        except AssertionError as exc:
            raise AssertionError(f"{exc} ({svc.deaf_to()}; re-registered {svc.relistens}×)") from None
        eventually(lambda: all(k in svc.state.snapshot().records for k in expect), 10.0,
                   f"the service reads {expect}")
        return svc

    return start


@pytest.fixture
def chaos(local_cluster):
    """The local cluster, whole and safe at the start; healed again (and waited on) at the end."""
    local_cluster.heal()
    try:
        yield local_cluster
    finally:
        local_cluster.heal()


@pytest.fixture
def fast_keepalive_controller():
    """The default controller with a 2 s keepalive bound, so chaos tests stay short."""
    from controller import SurvivalController, apply_overrides, default_config

    cfg = apply_overrides(default_config(), {"layers": {"keepalive": {"inputs": {"heartbeat.age_s": {"max": 2.0}}}}},
                          "chaos tests")
    return SurvivalController(cfg)
