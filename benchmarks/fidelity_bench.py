"""Fidelity of the twin's cluster model: the same timings measured on real Hazelcast 5.7.0 members.

Starts 3 real members behind the real Toxiproxy server with the settings the twin's ``[cluster]``
defaults claim to model (silent-member detection = ``detection_delay_s`` through
``hazelcast.max.no.heartbeat.seconds`` with 1 s heartbeats; crash detection needs no setting; client heartbeat timeout =
``client_heartbeat_timeout_s``; backup count; near-cache invalidations unbatched) and measures:

* member-failure detection after SIGKILL (twin: ``crash_detection_s``) and after SIGSTOP (twin:
  ``detection_delay_s``) (fault -> a surviving member's view shrinks)
* migration: detection -> the cluster reports itself safe again (backups re-created; 2 ms polls)
* split-brain merge: every member link cut until each member is alone, then healed -> member 0
  sees another member again, and all of them (twin: ``merge_delay_s``)
* client cut off (Toxiproxy ``timeout`` toxic on every client proxy) -> DISCONNECTED
* reconnect after heal (client proxies disabled, then enabled -> CONNECTED; the twin: its next retry
  after a heal that comes as long after the disconnect, plus ``client_reconnect_s``)
* near-cache invalidation latency (write sent -> the reader's near cache invalidated; printed for
  reference: the twin's agent, like the Hazelcast adapter, reads a write from its entry event)
* write sent -> entry event in another client (the twin: the writer's hop to the owner plus the
  owner's event to the agent, drawn from the twin's own links)

Each is printed beside the twin's value for the same setting with the ratio twin/real.
``NOR_FIDELITY_N`` samples per figure (default 3). Takes a few minutes.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.hazelcast import build_client, load_hz_config  # noqa: E402
from infra import LocalCluster, MemberSettings  # noqa: E402
from twin.client import retry_backoffs  # noqa: E402
from twin.config import ClusterConfig, NetworkConfig  # noqa: E402
from twin.network import Link  # noqa: E402
from twin.rng import Streams  # noqa: E402


def _wait(pred, timeout_s: float, what: str, poll_s: float = 0.005) -> float:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic()


def _size(cluster, i):
    h = cluster.member(i).health(timeout_s=0.5)
    return None if h is None else (h.get("clusterSize"), h.get("clusterSafe"))


def member_faults(cluster, n: int) -> dict[str, list[float]]:
    out = {"detect_sigkill": [], "detect_sigstop": [], "migration": []}
    for _ in range(n):
        for kind in ("sigkill", "sigstop"):
            cluster.heal()
            t0 = time.monotonic()
            if kind == "sigkill":
                cluster.kill(2)
            else:
                cluster.pause(2)
            t_det = _wait(lambda: (_size(cluster, 0) or (0,))[0] == 2, 60.0, "removal", 0.02)
            out[f"detect_{kind}"].append(t_det - t0)
            if kind == "sigkill":
                t_safe = _wait(lambda: _size(cluster, 0) == (2, True) and _size(cluster, 1) == (2, True),
                               120.0, "safe", 0.002)
                out["migration"].append(t_safe - t_det)
    cluster.heal()
    return out


def merges(cluster, n: int) -> dict[str, list[float]]:
    """Every member link cut (each member alone once detected), then healed: heal -> member 0 sees a
    merged cluster again (first another member, then all)."""
    out = {"merge_first": [], "merge_all": []}
    for _ in range(n):
        cluster.heal()
        for i in range(cluster.size):
            for stream in ("downstream", "upstream"):
                cluster.proxy(f"m{i}").add_toxic(type="timeout", stream=stream, name=f"cut_{stream}",
                                                 attributes={"timeout": 0})
        _wait(lambda: (_size(cluster, 0) or (0,))[0] == 1, 60.0, "split", 0.05)
        t0 = time.monotonic()
        cluster.toxiproxy.api().reset()
        out["merge_first"].append(_wait(lambda: (_size(cluster, 0) or (0,))[0] >= 2, 120.0, "merge", 0.02) - t0)
        out["merge_all"].append(_wait(lambda: (_size(cluster, 0) or (0,))[0] == 3, 120.0, "merge", 0.02) - t0)
    cluster.heal()
    return out


def _client(cluster, twin: ClusterConfig, near_cache: bool, listeners=()):
    cfg = load_hz_config(env={}, members=cluster.client_addresses, cluster_name=cluster.settings.cluster_name,
                         map_name="NOR_FIDELITY", heartbeat_interval_s=1.0,
                         heartbeat_timeout_s=twin.client_heartbeat_timeout_s, invocation_timeout_s=30.0,
                         connect_timeout_s=600.0, near_cache_ttl_s=3600.0)
    return build_client(cfg, near_cache=near_cache, async_start=False, lifecycle_listeners=listeners), cfg


def client_faults(cluster, twin: ClusterConfig, n: int) -> dict[str, list[float]]:
    out = {"disconnect": [], "reconnect": [], "refused": []}
    events: list[tuple[float, str]] = []
    client, _ = _client(cluster, twin, False, [lambda s: events.append((time.monotonic(), s))])
    proxies = [cluster.proxy(f"c{i}") for i in range(cluster.size)]
    try:
        for _ in range(n):
            for p in proxies:
                p.add_toxic(type="timeout", name="cut", stream="downstream", attributes={"timeout": 0})
                p.add_toxic(type="timeout", name="cut_up", stream="upstream", attributes={"timeout": 0})
            t0 = time.monotonic()
            _wait(lambda: any(s == "DISCONNECTED" and t >= t0 for t, s in events), 120.0, "DISCONNECTED", 0.01)
            t_down = next(t for t, s in events if s == "DISCONNECTED" and t >= t0)
            out["disconnect"].append(t_down - t0)
            for p in proxies:  # from a swallowed cut to a clean refusal: the client retries, then heal
                p.disable()
                p.destroy_toxic("cut")
                p.destroy_toxic("cut_up")
            time.sleep(1.0)
            t1 = time.monotonic()
            out["refused"].append(t1 - t_down)   # the client has been retrying this long at the heal
            for p in proxies:
                p.enable()
            _wait(lambda: any(s == "CONNECTED" and t >= t1 for t, s in events), 120.0, "CONNECTED", 0.01)
            out["reconnect"].append(next(t for t, s in events if s == "CONNECTED" and t >= t1) - t1)
    finally:
        client.shutdown()
        cluster.heal()
    return out


def data_paths(cluster, twin: ClusterConfig, n: int) -> dict[str, list[float]]:
    out = {"invalidation": [], "entry_event": []}
    reader, cfg = _client(cluster, twin, True)
    writer, _ = _client(cluster, twin, False)
    got = threading.Event()
    stamp: list[float] = []
    rmap = reader.get_map(cfg.map_name)
    rmap.add_entry_listener(include_value=True, updated_func=lambda e: (stamp.append(time.monotonic()), got.set()),
                            added_func=lambda e: None).result()
    near = rmap._near_cache  # the proxy's own near cache (hazelcast-python-client 5.7.0)
    wmap = writer.get_map(cfg.map_name).blocking()
    grid = rmap.blocking()
    try:
        wmap.put("k", 0)
        time.sleep(0.5)
        for i in range(max(n, 20)):
            grid.get("k")  # cached now
            inv = near.get_statistics()["invalidations"]
            got.clear()
            stamp.clear()
            t0 = time.monotonic()
            wmap.put("k", i + 1)
            t_inv = _wait(lambda: near.get_statistics()["invalidations"] > inv, 30.0, "invalidation", 0.0002)
            got.wait(30.0)
            out["invalidation"].append(t_inv - t0)
            out["entry_event"].append(stamp[0] - t0)
            time.sleep(0.05)
        wmap.destroy()
    finally:
        reader.shutdown()
        writer.shutdown()
    return out


def twin_reconnect_s(twin: ClusterConfig, retrying_s: float) -> float:
    """The twin's reconnect after a heal that comes ``retrying_s`` after the disconnect: the wait for
    the next attempt of :func:`twin.client.retry_backoffs` (the first at the disconnect) plus
    ``client_reconnect_s`` (the model in :meth:`twin.client.Client._attempt`)."""
    attempt = 0.0
    for wait in retry_backoffs(twin):
        if attempt >= retrying_s:
            break
        attempt += wait
    return attempt - retrying_s + twin.client_reconnect_s


def twin_entry_event_s(net: NetworkConfig, n: int = 20001) -> float:
    """The twin's write -> entry event with ``net``: the writer's hop to the owner
    (``sensor.<name>->cluster``) plus the owner's event to the agent (``cluster<->agent``), median of
    ``n`` draws from the twin's own links (the model in :meth:`twin.cluster.Cluster.store`)."""
    streams = Streams(0)
    hops = [Link(name, net.link(name), streams.buffer(f"bench.{name}"), lambda *a: None)
            for name in ("sensor.scan->cluster", "cluster<->agent")]
    return statistics.median(sum(h.delay_s() for h in hops) for _ in range(n))


def main() -> int:
    n = int(os.environ.get("NOR_FIDELITY_N", "3"))
    twin, net = ClusterConfig(), NetworkConfig()
    settings = MemberSettings(cluster_name=f"nor-fidelity-{os.getpid()}", heartbeat_interval_s=1,
                              max_no_heartbeat_s=max(1, round(twin.detection_delay_s)),
                              backup_count=twin.backup_count,
                              client_max_no_heartbeat_s=max(1, round(twin.client_heartbeat_timeout_s)))
    t0 = time.monotonic()
    with LocalCluster(twin.members, settings=settings) as cluster:
        print(f"fidelity_bench: {twin.members} real members up in {time.monotonic() - t0:.1f} s "
              f"(start-up {', '.join(f'{s:.1f}' for s in cluster.startup_s)} s); member settings: heartbeat "
              f"{settings.heartbeat_interval_s} s, max.no.heartbeat {settings.max_no_heartbeat_s} s, backups "
              f"{settings.backup_count}; client heartbeat timeout {twin.client_heartbeat_timeout_s:g} s; n={n}")
        real = {**member_faults(cluster, n), **merges(cluster, n), **client_faults(cluster, twin, n),
                **data_paths(cluster, twin, n)}
    link = net.link("cluster<->agent")
    hops = f"network latency {link.latency_ms:g} ms + jitter {link.jitter_ms:g} ms per hop, 2 hops"
    rows = [
        ("member failure detection, SIGKILL", "detect_sigkill", "crash_detection_s", twin.crash_detection_s),
        ("member failure detection, SIGSTOP", "detect_sigstop", "detection_delay_s", twin.detection_delay_s),
        ("migration: backups re-created", "migration", "migration_s", twin.migration_s),
        ("partition healed -> first merge", "merge_first", "merge_delay_s", twin.merge_delay_s),
        ("partition healed -> all merged", "merge_all", "merge_delay_s", twin.merge_delay_s),
        ("client cut off -> DISCONNECTED", "disconnect", "client_heartbeat_timeout_s", twin.client_heartbeat_timeout_s),
        ("reconnect after heal", "reconnect", f"next retry ({twin.client_retry_initial_backoff_s:g} s x "
         f"{twin.client_retry_multiplier:g}^k <= {twin.client_retry_max_backoff_s:g} s) + client_reconnect_s "
         f"{twin.client_reconnect_s:g}", statistics.median(twin_reconnect_s(twin, r) for r in real["refused"])),
        ("write -> entry event", "entry_event", hops, twin_entry_event_s(net)),
    ]
    print(f"{'figure':36s} {'real median':>12s} {'real max':>10s}  {'twin':>9s}  {'twin/real':>9s}  twin setting")
    for label, key, setting, twin_s in rows:
        med, top = statistics.median(real[key]), max(real[key])
        ratio = twin_s / med if med > 0 else float("inf")
        flag = "" if 0.8 <= ratio <= 1.2 else "  (outside 20 %)"
        print(f"{label:36s} {med:10.4f} s {top:8.4f} s  {twin_s:7.4f} s  {ratio:9.2f}  {setting}{flag}")
    waits = [twin_reconnect_s(twin, r) - twin.client_reconnect_s for r in real["refused"]]
    handshake = statistics.median(r - w for r, w in zip(real["reconnect"], waits))
    print(f"{'reconnect: real - twin wait for retry':36s} {handshake:10.4f} s"
          f"  (the real handshake the twin's client_reconnect_s models; retrying at the heal "
          f"{statistics.median(real['refused']):.3f} s, twin wait {statistics.median(waits):.4f} s)")
    inv = real["invalidation"]
    print(f"{'near-cache invalidation':36s} {statistics.median(inv):10.4f} s {max(inv):8.4f} s  (not on the twin's "
          "path: the agent reads a write from its entry event, which carries the value)")
    for key in [r[1] for r in rows] + ["invalidation"]:
        print(f"  {key}: " + " ".join(f"{v:.4f}" for v in sorted(real[key])))
    cpu = os.times()
    print(f"cpu (this process) user+sys {cpu.user + cpu.system:.1f} s; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
