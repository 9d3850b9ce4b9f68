"""The Toxiproxy HTTP API of the embedded fault proxy, driven only through toxiproxy-python."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists


def test_create_list_get_and_destroy_proxy(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="alpha")
    assert proxy.enabled is True
    host, port = proxy.listen.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0, "port 0 must be resolved to the bound port"
    assert set(toxiproxy.proxies()) == {"alpha"}
    assert toxiproxy.get_proxy("alpha").upstream == echo.address
    assert toxiproxy.destroy(proxy) is True
    assert toxiproxy.proxies() == {}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=1.0)


def test_duplicate_proxy_is_a_conflict(toxiproxy, echo):
    toxiproxy.create(upstream=echo.address, name="dup")
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=echo.address, name="dup")


def test_disable_refuses_and_enable_restores_on_the_same_port(echo_proxy, dial):
    s = dial(echo_proxy)
    s.sendall(b"ping")
    assert s.recv(16) == b"ping"
    echo_proxy.disable()
    assert s.recv(16) == b"", "disabling drops live connections"
    with pytest.raises(ConnectionRefusedError):
        dial(echo_proxy)
    echo_proxy.enable()
    s2 = dial(echo_proxy)
    s2.sendall(b"again")
    assert s2.recv(16) == b"again"


def test_toxics_add_list_remove_and_reset(toxiproxy, echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 10, "jitter": 2})
    echo_proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", toxicity=0.5, attributes={"rate": 100})
    toxics = echo_proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    assert toxics["bw"].stream == "upstream" and toxics["bw"].toxicity == 0.5
    assert toxics["latency_downstream"].attributes == {"latency": 10, "jitter": 2}
    assert echo_proxy.destroy_toxic("bw") is True
    assert set(echo_proxy.toxics()) == {"latency_downstream"}
    echo_proxy.disable()
    assert toxiproxy.reset() is True
    proxy = toxiproxy.get_proxy("echo")
    assert proxy.enabled is True and proxy.toxics() == {}


@pytest.mark.parametrize("toxic, needle", [
    ({"type": "earthquake"}, "type"),
    ({"type": "latency", "stream": "sideways"}, "stream"),
    ({"type": "latency", "toxicity": 1.5}, "toxicity"),
    ({"type": "latency", "attributes": {"latency": -5}}, "latency"),
    ({"type": "latency", "attributes": {"speed": 5}}, "speed"),
    ({"type": "slicer", "attributes": {"average_size": 0}}, "average_size"),
])
def test_invalid_toxic_is_rejected_naming_the_field(echo_proxy, fault_server, toxic, needle):
    with pytest.raises(InvalidToxic) as info:
        echo_proxy.add_toxic(**toxic)
    assert needle in json.loads(info.value.args[0])["error"]


def test_duplicate_toxic_and_missing_names(echo_proxy, fault_server):
    echo_proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with pytest.raises(ProxyExists):
        echo_proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with pytest.raises(NotFound):
        echo_proxy.destroy_toxic("nope")


def test_update_toxic_and_missing_proxy_over_raw_http(echo_proxy, fault_server):
    base = "http://%s:%d" % fault_server.api_address
    echo_proxy.add_toxic(type="latency", name="lag", attributes={"latency": 5})
    r = requests.post(f"{base}/proxies/echo/toxics/lag", json={"attributes": {"latency": 40}}, timeout=5)
    assert r.status_code == 200 and r.json()["attributes"] == {"latency": 40, "jitter": 0}
    assert requests.get(f"{base}/proxies/ghost", timeout=5).status_code == 404
    bad = requests.post(f"{base}/proxies", data=b"{not json", timeout=5)
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    missing = requests.post(f"{base}/proxies", json={"name": "x"}, timeout=5)
    assert missing.status_code == 400 and "upstream" in missing.json()["error"]
