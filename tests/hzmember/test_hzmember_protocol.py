"""The wire-level test member (a TEST DOUBLE of the Hazelcast client protocol) with the real client."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import hazelcast
import pytest
from hazelcast.errors import UnsupportedOperationError

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.hzmember.member import WireMember, make_member_info  # noqa: E402


@pytest.fixture
def member():
    m = WireMember().start()
    yield m
    m.stop()


@pytest.fixture
def client_of():
    clients = []

    def make(m: WireMember, **kw) -> hazelcast.HazelcastClient:
        opts = dict(cluster_members=[m.address], cluster_connect_timeout=5.0, heartbeat_interval=0.3,
                    heartbeat_timeout=1.0, retry_initial_backoff=0.05, retry_max_backoff=0.2)
        opts.update(kw)
        c = hazelcast.HazelcastClient(**opts)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.shutdown()


def _wait(pred, timeout_s: float = 10.0) -> None:
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout_s, "timed out"
        time.sleep(0.01)


def test_map_operations_round_trip(member, client_of):
    grid = client_of(member).get_map("m").blocking()
    assert grid.put("a", 1) is None and grid.put("a", 2) == 1
    grid.set("b", "two")
    grid.put_all({f"k{i}": i for i in range(50)})
    assert grid.get("a") == 2 and grid.get("b") == "two" and grid.get("zz") is None
    assert grid.get_all(["k3", "k40", "missing"]) == {"k3": 3, "k40": 40}
    assert grid.size() == 52 and grid.contains_key("k7") and not grid.contains_key("nope")
    assert grid.remove("a") == 2 and grid.remove("a") is None
    grid.delete("b")
    assert grid.put_if_absent("k1", 99) == 1 and grid.get("k1") == 1
    assert sorted(grid.key_set())[:2] == ["k0", "k1"] and len(grid.entry_set()) == 50
    grid.clear()
    assert grid.size() == 0


def test_entry_listeners_receive_events_map_wide_and_per_key(member, client_of):
    writer = client_of(member).get_map("ev").blocking()
    reader = client_of(member).get_map("ev").blocking()
    everything, only_x = [], []
    reader.add_entry_listener(include_value=True, added_func=lambda e: everything.append(("added", e.key, e.value)),
                              updated_func=lambda e: everything.append(("updated", e.key, e.value)),
                              removed_func=lambda e: everything.append(("removed", e.key, e.old_value)))
    reader.add_entry_listener(key="x", include_value=False, added_func=lambda e: only_x.append((e.key, e.value)))
    writer.put("x", 1)
    writer.put("y", 2)
    writer.put("x", 3)
    writer.remove("y")
    _wait(lambda: len(everything) == 4)
    assert everything == [("added", "x", 1), ("added", "y", 2), ("updated", "x", 3), ("removed", "y", 2)]
    assert only_x == [("x", None)], "key listener, without values"


def test_near_cache_invalidation(member, client_of):
    writer = client_of(member).get_map("nc").blocking()
    reader_client = client_of(member, near_caches={"nc": {"invalidate_on_change": True}})
    reader = reader_client.get_map("nc").blocking()
    writer.put("k", "v1")
    assert reader.get("k") == "v1"
    before = member.messages_handled
    for _ in range(20):
        assert reader.get("k") == "v1"
    assert member.messages_handled - before < 5, "repeat reads are served by the near cache"
    writer.put("k", "v2")
    _wait(lambda: reader.get("k") == "v2")


def test_compact_schema_is_fetched_by_a_second_client(member, client_of):
    from adapters.hazelcast import HealthRecordSerializer, make_record

    rec = make_record("scan.age_s", 1.0, 10.0, 1, 1)
    client_of(member, compact_serializers=[HealthRecordSerializer()]).get_map("c").blocking().put("r", rec)
    other = client_of(member, compact_serializers=[HealthRecordSerializer()]).get_map("c").blocking()
    assert other.get("r") == rec


def test_wrong_cluster_name_or_credentials_are_refused():
    with WireMember(cluster_name="prod", username="u", password="p") as m:
        for kw in ({"cluster_name": "dev"}, {"cluster_name": "prod", "creds_username": "u", "creds_password": "x"}):
            with pytest.raises(Exception):
                hazelcast.HazelcastClient(cluster_members=[m.address], cluster_connect_timeout=0.5, **kw)
        ok = hazelcast.HazelcastClient(cluster_members=[m.address], cluster_connect_timeout=3.0,
                                       cluster_name="prod", creds_username="u", creds_password="p")
        ok.shutdown()


def test_unimplemented_operations_fail_clearly(member, client_of):
    with pytest.raises(UnsupportedOperationError, match="test member does not implement"):
        client_of(member).get_queue("q").blocking().offer(1)


def test_fault_hooks_drop_restart_push_members_and_freeze(member, client_of):
    states = []
    client = client_of(member, lifecycle_listeners=[states.append])
    grid = client.get_map("h").blocking()
    grid.put("k", 1)
    member.drop_connections()
    _wait(lambda: "DISCONNECTED" in states)
    _wait(lambda: states.count("CONNECTED") >= 2)
    old_uuid = member.member_uuid
    member.restart(new_cluster_id=True)
    _wait(lambda: any(m.uuid == member.member_uuid for m in client.cluster_service.get_members()))
    assert member.member_uuid != old_uuid and grid.get("k") is None, "a restart loses the data"
    removed = threading.Event()
    client.cluster_service.add_listener(member_removed=lambda m: removed.set())
    member.push_member_list([make_member_info("127.0.0.1", 9)])
    _wait(lambda: len(client.cluster_service.get_members()) == 2)
    member.push_member_list([])
    assert removed.wait(3.0)
    member.freeze()
    n = states.count("DISCONNECTED")
    _wait(lambda: states.count("DISCONNECTED") > n, 10.0)  # heartbeat timeout on a hung member
    connected = states.count("CONNECTED")
    member.thaw()
    _wait(lambda: states.count("CONNECTED") > connected, 6.0)
    grid.put("k", 2)
    assert grid.get("k") == 2


def test_advertised_address_is_what_clients_see(member, client_of):
    member.advertise("127.0.0.1", 15999)
    client = client_of(member)
    assert [m.address.port for m in client.cluster_service.get_members()] == [15999]
