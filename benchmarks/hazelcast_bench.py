"""Hazelcast adapter figures against real Hazelcast 5.7.0 members: a local 3-member cluster started
here (or the cluster at NOR_HZ_MEMBERS when set).

Prints, per target: put/get latency of one health entry (median, p99), near-cache read latency,
the latency from an invariant flip written by one client to the controller's HIBERNATE decision
in another (spec bound: < 10 ms), and put/get of a 400-asset feature table as Arrow IPC bytes
(spec expectation: < 2 ms). The local cluster is reached directly (no Toxiproxy in the path).
Also prints the members' start-up time and what the real-cluster tests add to ``make test`` (it runs
them: ~2.5 min; set NOR_BENCH_SKIP_TEST_COST=1 to skip).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.hazelcast import HazelcastHealthService, HealthWriter, build_client, load_hz_config  # noqa: E402
from controller import Posture, SurvivalController, default_config  # noqa: E402
from infra import LocalCluster  # noqa: E402

NOMINAL = {
    "ledger.consistent": 1.0, "data.checksum_ok": 1.0, "mc_forewarner.age_s": 0.0, "scan.age_s": 0.0,
    "ob.age_s": 0.0, "ob.latency_ms": 5.0, "ob.depth_ratio": 1.0, "exf.age_s": 0.0, "exf.shock": 0.0,
    "esof.age_s": 0.0, "portfolio.drawdown": 0.0,
}
FLIP_TARGET_MS = 10.0
ARROW_TARGET_MS = 2.0


def _stats_ms(samples_s: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples_s) * 1000.0
    return float(np.median(arr)), float(np.percentile(arr, 99))


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _feature_table_ipc(assets: int = 400) -> bytes:
    rng = np.random.default_rng(0)
    cols = {"asset": pa.array([f"A{i:03d}USDT" for i in range(assets)])}
    for name in ("v50", "v750", "vel_div", "ret_1m", "ret_5m", "vol_1h", "funding", "depth"):
        cols[name] = pa.array(rng.standard_normal(assets))
    sink = pa.BufferOutputStream()
    table = pa.table(cols)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytearray(sink.getvalue().to_pybytes())  # bytearray: the client's byte-array serializer


def _flip_latencies(svc: HazelcastHealthService, writer: HealthWriter, n: int) -> list[float]:
    cfg = default_config()
    box: dict = {}
    lock = threading.Lock()

    def on_flip() -> None:
        with lock:
            ctl, t0 = box.get("ctl"), box.get("t0")
            if ctl is None or t0 is None:
                return
            now = time.time()
            if ctl.step(now, svc.signals(now)).posture == Posture.HIBERNATE:
                box["dt"], box["t0"] = time.perf_counter() - t0, None
                box["done"].set()

    svc.on_invariant_change(on_flip)
    out = []
    for _ in range(n):
        ctl = SurvivalController(cfg)
        now = time.time()
        assert ctl.step(now, svc.signals(now)).posture != Posture.HIBERNATE
        with lock:
            box.update(ctl=ctl, done=threading.Event(), t0=time.perf_counter())
        writer.publish("ledger.consistent", 0.0)
        if not box["done"].wait(2.0):
            raise RuntimeError("no HIBERNATE decision within 2 s of the flip")
        out.append(box["dt"])
        with lock:
            box["ctl"] = None
        writer.publish("ledger.consistent", 1.0)
        deadline = time.monotonic() + 2.0
        while svc.signals(time.time())["ledger.consistent"] != 1.0 and time.monotonic() < deadline:
            time.sleep(0.001)
    return out


def bench_target(label: str, members: tuple[str, ...], cluster_name: str, n: int) -> None:
    cfg = load_hz_config(env={}, members=members, cluster_name=cluster_name, probe_interval_s=0.2,
                         map_name=f"NOR_BENCH_{int(time.time() * 1000)}")
    wclient = build_client(cfg, near_cache=False, async_start=False)
    svc = HazelcastHealthService(cfg).start()
    try:
        if not svc.wait_connected(20.0):
            raise RuntimeError(f"{label}: the health service did not connect")
        writer = HealthWriter(wclient, cfg.map_name)
        writer.publish_many(NOMINAL)
        plain = wclient.get_map(cfg.map_name).blocking()
        rec = writer.record("scan.age_s", 0.0)
        put = _stats_ms(_timed(lambda: plain.set("scan.age_s", rec), n))
        get = _stats_ms(_timed(lambda: plain.get("scan.age_s"), n))
        near = svc.client.get_map(cfg.map_name).blocking()
        near.get("scan.age_s")
        near_get = _stats_ms(_timed(lambda: near.get("scan.age_s"), n))
        deadline = time.monotonic() + 5.0
        while any(k not in svc.state.snapshot().records for k in NOMINAL) and time.monotonic() < deadline:
            time.sleep(0.01)
        flip = _stats_ms(_flip_latencies(svc, writer, max(20, n // 20)))
        blob = _feature_table_ipc()
        put_arrow = _stats_ms(_timed(lambda: plain.set("features.400", blob), max(50, n // 4)))
        get_arrow = _stats_ms(_timed(lambda: plain.get("features.400"), max(50, n // 4)))
    finally:
        svc.stop()
        try:
            wclient.get_map(cfg.map_name).destroy()  # leave a real cluster as it was found
        finally:
            wclient.shutdown()
    print(f"== {label}: {','.join(members)}")
    print(f"health entry put        median {put[0]:7.3f} ms  p99 {put[1]:7.3f} ms")
    print(f"health entry get        median {get[0]:7.3f} ms  p99 {get[1]:7.3f} ms")
    print(f"near-cache read         median {near_get[0]:7.3f} ms  p99 {near_get[1]:7.3f} ms"
          f"  (remote get / near cache = {get[0] / max(near_get[0], 1e-9):.0f}x)")
    print(f"invariant flip->HIBERNATE median {flip[0]:5.3f} ms  p99 {flip[1]:7.3f} ms"
          f"  (p99 / {FLIP_TARGET_MS:g} ms bound = {flip[1] / FLIP_TARGET_MS:.2f})")
    print(f"arrow 400-asset put ({len(blob)} B) median {put_arrow[0]:6.3f} ms  p99 {put_arrow[1]:6.3f} ms"
          f"  (median / {ARROW_TARGET_MS:g} ms = {put_arrow[0] / ARROW_TARGET_MS:.2f})")
    print(f"arrow 400-asset get ({len(blob)} B) median {get_arrow[0]:6.3f} ms  p99 {get_arrow[1]:6.3f} ms"
          f"  (median / {ARROW_TARGET_MS:g} ms = {get_arrow[0] / ARROW_TARGET_MS:.2f})")


def main() -> int:
    n = int(os.environ.get("NOR_BENCH_N", "1000"))
    real = os.environ.get("NOR_HZ_MEMBERS")
    if real:
        print(f"hazelcast_bench n={n} against NOR_HZ_MEMBERS")
        bench_target("NOR_HZ_MEMBERS", tuple(m.strip() for m in real.split(",") if m.strip()),
                     os.environ.get("NOR_HZ_CLUSTER", "dev"), n)
        return 0
    t0 = time.monotonic()
    with LocalCluster(3, proxied=False) as cluster:
        up_s = time.monotonic() - t0
        print(f"hazelcast_bench n={n}: local cluster of 3 real members up in {up_s:.1f} s "
              f"(member start-up to a safe cluster: {', '.join(f'{s:.1f}' for s in cluster.startup_s)} s)")
        bench_target("local cluster", cluster.direct_client_addresses, cluster.settings.cluster_name, n)
    test_cost()
    return 0


def test_cost() -> None:
    """Wall time of the tests that need the real cluster (what they add to ``make test``)."""
    if os.environ.get("NOR_BENCH_SKIP_TEST_COST"):
        print("cost added to make test: not measured (NOR_BENCH_SKIP_TEST_COST is set)")
        return
    root = Path(__file__).resolve().parents[1]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/adapters/hazelcast", "tests/infra"], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.monotonic() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no output)"
    print(f"cost added to make test: tests/adapters/hazelcast + tests/infra on real members took {took:.0f} s "
          f"({last}); budget ~180 s -> {took / 180.0:.2f} of it")


if __name__ == "__main__":
    sys.exit(main())
