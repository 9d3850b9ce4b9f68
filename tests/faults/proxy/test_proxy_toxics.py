"""Toxic behaviour on real loopback TCP connections through the embedded fault proxy."""

from __future__ import annotations

import socket
import time

import pytest


def _rtt_ms(sock: socket.socket, payload: bytes = b"x" * 16) -> float:
    t0 = time.perf_counter()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection closed during a round trip"
        got += chunk
    return (time.perf_counter() - t0) * 1000.0


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_delays_each_round_trip_in_either_direction(echo_proxy, dial, stream):
    s = dial(echo_proxy)
    base = _rtt_ms(s)
    echo_proxy.add_toxic(type="latency", stream=stream, attributes={"latency": 80})
    delayed = [_rtt_ms(s) for _ in range(3)]
    assert base < 40
    assert all(78 <= d < 200 for d in delayed), delayed


def test_latency_jitter_spreads_delays_within_bounds(echo_proxy, dial):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 60, "jitter": 40})
    s = dial(echo_proxy)
    delays = [_rtt_ms(s) for _ in range(12)]
    assert all(19 <= d < 160 for d in delays), delays
    assert max(delays) - min(delays) > 15, f"jitter should spread the delays: {delays}"


def test_latency_is_pipelined_not_cumulative(echo_proxy, dial):
    echo_proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
    s = dial(echo_proxy)
    t0 = time.perf_counter()
    for _ in range(5):
        s.sendall(b"abcd")
        time.sleep(0.02)
    got = b""
    while len(got) < 20:
        got += s.recv(64)
    assert (time.perf_counter() - t0) < 0.35, "five chunks sent 20 ms apart arrive ~100 ms late, not 500 ms"


def test_bandwidth_limits_throughput(echo_proxy, dial):
    echo_proxy.add_toxic(type="bandwidth", stream="upstream", attributes={"rate": 100})  # 100 KB/s
    s = dial(echo_proxy, timeout_s=5.0)
    payload = b"b" * 40_000
    t0 = time.perf_counter()
    elapsed_ms = _rtt_ms(s, payload)
    assert (time.perf_counter() - t0) >= 0.35, f"40 KB at 100 KB/s takes >= 0.4 s, took {elapsed_ms:.0f} ms"


def test_timeout_zero_swallows_data_until_removed_and_keeps_the_connection(echo_proxy, dial):
    s = dial(echo_proxy, timeout_s=0.3)
    echo_proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    s.sendall(b"lost")
    with pytest.raises(socket.timeout):
        s.recv(16)
    echo_proxy.destroy_toxic("timeout_downstream")
    s.sendall(b"fresh")
    assert s.recv(16) == b"fresh", "data swallowed while the toxic was active is gone, new data flows"


def test_timeout_closes_the_connection_after_its_delay(echo_proxy, dial):
    s = dial(echo_proxy, timeout_s=2.0)
    t0 = time.perf_counter()
    echo_proxy.add_toxic(type="timeout", attributes={"timeout": 150})
    s.sendall(b"dropped")
    assert s.recv(16) == b""
    assert 0.12 <= time.perf_counter() - t0 < 1.0


def test_reset_peer_resets_the_connection(echo_proxy, dial):
    echo_proxy.add_toxic(type="reset_peer", attributes={"timeout": 50})
    s = dial(echo_proxy, timeout_s=2.0)
    s.sendall(b"hello")
    with pytest.raises(ConnectionResetError):
        for _ in range(10):
            if not s.recv(16):
                break
            time.sleep(0.02)
        s.recv(16)


def test_slow_close_delays_the_close(toxiproxy, greeter, dial):
    proxy = toxiproxy.create(upstream=greeter.address, name="greeter")
    proxy.add_toxic(type="slow_close", attributes={"delay": 300})
    s = dial(proxy)
    t0 = time.perf_counter()
    data = _read_all(s)
    assert data == b"bye" * 10
    assert time.perf_counter() - t0 >= 0.28


def test_slicer_cuts_data_into_small_delayed_pieces(echo_proxy, dial):
    echo_proxy.add_toxic(type="slicer", attributes={"average_size": 10, "size_variation": 0, "delay": 20_000})
    s = dial(echo_proxy)
    s.sendall(b"s" * 100)
    sizes, t0 = [], time.perf_counter()
    while sum(sizes) < 100:
        sizes.append(len(s.recv(65536)))
    assert max(sizes) <= 20 and len(sizes) >= 5, sizes
    assert time.perf_counter() - t0 >= 0.15, "nine 20 ms gaps between ten slices"


def test_limit_data_closes_after_the_byte_budget(echo_proxy, dial):
    echo_proxy.add_toxic(type="limit_data", attributes={"bytes": 50})
    s = dial(echo_proxy)
    s.sendall(b"d" * 120)
    assert _read_all(s) == b"d" * 50


def test_toxicity_zero_never_applies_and_half_applies_to_some_connections(echo_proxy, dial):
    echo_proxy.add_toxic(type="latency", name="never", toxicity=0.0, attributes={"latency": 300})
    assert _rtt_ms(dial(echo_proxy)) < 100
    echo_proxy.destroy_toxic("never")
    echo_proxy.add_toxic(type="latency", name="half", toxicity=0.5, attributes={"latency": 60})
    delayed = [_rtt_ms(dial(echo_proxy)) >= 55 for _ in range(16)]
    assert 0 < sum(delayed) < 16, f"a coin per connection: {delayed}"
