"""Fixtures for the Hazelcast adapter tests.

Integration tests take the ``hz_target`` fixture: the wire-level test member (always), and a real
cluster when ``NOR_HZ_MEMBERS`` is set (reported as not run, with the reason, otherwise). The
test bodies are identical for both. Chaos tests need the test member's fault hooks and run against
it only, through the embedded fault proxy driven by toxiproxy-python.
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
from tests.hzmember.member import WireMember  # noqa: E402

REAL_REASON = ("NOR_HZ_MEMBERS is not set: no real Hazelcast cluster to test against "
               "(run `docker run -p 5701:5701 hazelcast/hazelcast:5.5` and set NOR_HZ_MEMBERS=127.0.0.1:5701)")

NOMINAL = {
    "ledger.consistent": 1.0, "data.checksum_ok": 1.0, "mc_forewarner.age_s": 0.0, "scan.age_s": 0.0,
    "ob.age_s": 0.0, "ob.latency_ms": 5.0, "ob.depth_ratio": 1.0, "exf.age_s": 0.0, "exf.shock": 0.0,
    "esof.age_s": 0.0, "portfolio.drawdown": 0.0,
}


@dataclass
class HzTarget:
    """Where a test connects: members, cluster name, and the test member when it is one.

    Every ``NOR_TEST_*`` map handed out by :meth:`config` is destroyed by :meth:`destroy_maps`
    when the test ends, so a real cluster is left as it was found.
    """

    kind: str
    members: tuple[str, ...]
    cluster_name: str
    member: WireMember | None = None
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


@pytest.fixture(params=["member", pytest.param("real", marks=pytest.mark.skipif(
    not os.environ.get("NOR_HZ_MEMBERS"), reason=REAL_REASON))])
def hz_target(request):
    if request.param == "real":
        members = tuple(m.strip() for m in os.environ["NOR_HZ_MEMBERS"].split(",") if m.strip())
        target = HzTarget("real", members, os.environ.get("NOR_HZ_CLUSTER", "dev"))
        yield target
        target.destroy_maps()
        return
    member = WireMember().start()
    try:
        target = HzTarget("member", (member.address,), "dev", member)
        yield target
        target.destroy_maps()
        assert not [n for n in member.map_names() if n.startswith("NOR_TEST_")], "a test map was left behind"
    finally:
        member.stop()


@pytest.fixture
def wire_member():
    member = WireMember().start()
    yield member
    member.stop()


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
        eventually(lambda: all(k in svc.state.snapshot().records for k in expect), 10.0,
                   f"the service reads {expect}")
        return svc

    return start


@dataclass
class Chaos:
    """The test member behind the fault proxy; the member advertises the proxy's address."""

    member: WireMember
    proxy: object  # toxiproxy.Proxy
    server: object  # faults.proxy.FaultProxyServer

    @property
    def proxy_address(self) -> str:
        return self.proxy.listen


@pytest.fixture
def chaos(wire_member):
    from toxiproxy import Toxiproxy

    from faults.proxy import FaultProxyServer

    server = FaultProxyServer(seed=11).start()
    api = Toxiproxy()
    api.update_api_consumer(*server.api_address)
    proxy = api.create(upstream=wire_member.address, name="hazelcast")
    host, port = proxy.listen.rsplit(":", 1)
    wire_member.advertise(host, int(port))  # or reconnects would bypass the proxy
    try:
        yield Chaos(wire_member, proxy, server)
    finally:
        server.stop()


@pytest.fixture
def fast_keepalive_controller():
    """The default controller with a 2 s keepalive bound, so chaos tests stay short."""
    from controller import SurvivalController, apply_overrides, default_config

    cfg = apply_overrides(default_config(), {"layers": {"keepalive": {"inputs": {"heartbeat.age_s": {"max": 2.0}}}}},
                          "chaos tests")
    return SurvivalController(cfg)
