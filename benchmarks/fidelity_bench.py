"""Fidelity of the twin's cluster model: the same timings measured on real Hazelcast 5.7.0 members.

Starts 3 real members behind the real Toxiproxy server with the settings the twin's ``[cluster]``
defaults claim to model (silent-member detection = ``detection_delay_s`` through
``hazelcast.max.no.heartbeat.seconds`` with 1 s heartbeats; crash detection needs no setting; client heartbeat timeout =
``client_heartbeat_timeout_s``; backup count; near-cache invalidations unbatched) and measures:

* member-failure detection after SIGKILL (twin: ``crash_detection_s``) and after SIGSTOP (twin:
  ``detection_delay_s``) (fault -> a surviving member's view shrinks)
* migration: detection -> the cluster reports itself safe again (backups re-created; 2 ms polls)
* split-brain merge: every member link cut until each member is alone, then healed at a random
  instant (uniform over one merge period after the split, so that the heal's phase against the
  members' merge ticks is not systematic) -> member 0 sees another member again, and all of them;
  the twin plays the same (partition, detection, heal at the same offsets) with :mod:`twin.merge`
  twice: with layouts drawn from several seeds (the pool), and paired — one world per real sample
  playing that cluster's own merge-tick grids, check order, ages and address ranks, read from the
  members' logs (:mod:`member_logs`), healed at the same phase of every grid (per sample and per run).
  Also printed: the real merge decision -> merged (the members' MERGING -> MERGED log lines; twin:
  ``merge_join_s``)
* a client's member view after a member is lost, by the member its view listener is on: the merge
  samples' cut, and a member paused (the ``membership`` part; ``member_views``)
* client cut off (Toxiproxy ``timeout`` toxic on every client proxy) -> DISCONNECTED
* the agent's adapter (``HazelcastHealthService`` with the adapter's defaults) cut off and healed at
  a random instant -> CONNECTED, and its try schedule with every address refusing, each printed
  beside the twin's (:mod:`benchmarks.fidelity_client`)
* near-cache invalidation latency (write sent -> the reader's near cache invalidated; printed for
  reference: the twin's agent, like the Hazelcast adapter, reads a write from its entry event)
* write sent -> entry event in another client (the twin: the writer's hop to the owner plus the
  owner's event to the agent, drawn from the twin's own links)

Each is printed beside the twin's value for the same setting with the ratio twin/real.
``NOR_FIDELITY_N`` samples per figure (default 3), printed as median, quartiles and range; the random
heal instants come from ``NOR_FIDELITY_SEED`` (default 13). Takes a few minutes. The real samples are
saved as JSON (``NOR_FIDELITY_SAVE``, default the cluster's work directory); ``NOR_FIDELITY_REAL=<file>``
plays the twin side again on them, without a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import member_logs  # noqa: E402
import member_views  # noqa: E402
from adapters.hazelcast import build_client, load_hz_config  # noqa: E402
from infra import LocalCluster, MemberSettings  # noqa: E402
from fidelity_client import client_faults, spread_line  # noqa: E402
from merge_twin import RealMerge, address_ranks, twin_merges, twin_merges_paired  # noqa: E402
from twin import WorldConfig  # noqa: E402
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


def merges(cluster, n: int, rng: random.Random, twin: ClusterConfig) -> dict[str, list[float]]:
    """Every member link cut (each member alone once detected), then healed a random time later:
    heal -> member 0 sees a merged cluster again (first another member, then all). Also: cut -> a
    client's member view shrinks (``member_views``), with the member its view listener is on."""
    out = {"merge_first": [], "merge_all": [], "merge_offset": [], "merge_cut_wall": [], "merge_heal_wall": [],
           "view_split": [], "view_split_listener": []}
    period = cluster.settings.merge_next_run_delay_s
    client = _client(cluster, twin, False)[0]
    watch = member_views.ViewWatch(client)
    for _ in range(n):
        cluster.heal()
        out["merge_cut_wall"].append(time.time())
        t_cut = time.monotonic()
        out["view_split_listener"].append(member_views.listener_index(cluster, client))
        for i in range(cluster.size):
            for stream in ("downstream", "upstream"):
                cluster.proxy(f"m{i}").add_toxic(type="timeout", stream=stream, name=f"cut_{stream}",
                                                 attributes={"timeout": 0})
        _wait(lambda: all((_size(cluster, i) or (0,))[0] == 1 for i in range(cluster.size)), 60.0, "split", 0.05)
        _wait(lambda: watch.first(t_cut, -1) is not None, 30.0, "the client's member_removed", 0.01)
        out["view_split"].append(watch.first(t_cut, -1) - t_cut)
        offset = rng.uniform(0.0, period)
        time.sleep(offset)
        t0 = time.monotonic()
        out["merge_heal_wall"].append(time.time())
        cluster.toxiproxy.api().reset()
        out["merge_first"].append(_wait(lambda: (_size(cluster, 0) or (0,))[0] >= 2, 120.0, "merge", 0.02) - t0)
        out["merge_all"].append(_wait(lambda: (_size(cluster, 0) or (0,))[0] == 3, 120.0, "merge", 0.02) - t0)
        out["merge_offset"].append(offset)
    client.shutdown()
    cluster.heal()
    return out


def _client(cluster, twin: ClusterConfig, near_cache: bool, listeners=()):
    cfg = load_hz_config(env={}, members=cluster.client_addresses, cluster_name=cluster.settings.cluster_name,
                         map_name="NOR_FIDELITY", heartbeat_interval_s=1.0,
                         heartbeat_timeout_s=twin.client_heartbeat_timeout_s, invocation_timeout_s=30.0,
                         connect_timeout_s=600.0, near_cache_ttl_s=3600.0)
    return build_client(cfg, near_cache=near_cache, async_start=False, lifecycle_listeners=listeners), cfg


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


def twin_entry_event_s(net: NetworkConfig, n: int = 20001) -> float:
    """The twin's write -> entry event with ``net``: the writer's hop to the owner
    (``sensor.<name>->cluster``) plus the owner's event to the agent (``cluster<->agent``), median of
    ``n`` draws from the twin's own links (the model in :meth:`twin.cluster.Cluster.store`)."""
    streams = Streams(0)
    hops = [Link(name, net.link(name), streams.buffer(f"bench.{name}"), lambda *a: None)
            for name in ("sensor.scan->cluster", "cluster<->agent")]
    return statistics.median(sum(h.delay_s() for h in hops) for _ in range(n))


def _spread(xs: list[float]) -> str:
    """median [quartiles] (range) of ``xs``."""
    if len(xs) < 2:
        return f"{xs[0]:.4f}" if xs else "-"
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return f"{statistics.median(xs):.4f} [{q[0]:.4f}-{q[2]:.4f}] ({min(xs):.4f}-{max(xs):.4f})"


def _measure(cluster, twin: ClusterConfig, n: int, rng: random.Random, only: set[str]) -> dict[str, list[float]]:
    real: dict[str, list[float]] = {}
    parts = (("members", lambda: member_faults(cluster, n)), ("merges", lambda: merges(cluster, n, rng, twin)),
             ("membership", lambda: member_views.pauses(cluster, lambda: _client(cluster, twin, False)[0], n, _wait)),
             ("client", lambda: client_faults(cluster, WorldConfig(cluster=twin), n, rng)),
             ("data", lambda: data_paths(cluster, twin, n)))
    for name, fn in parts:
        if not only or name in only:
            real.update(fn())
    return real


def main() -> int:
    n = int(os.environ.get("NOR_FIDELITY_N", "3"))
    rng = random.Random(int(os.environ.get("NOR_FIDELITY_SEED", "13")))
    only = {x for x in os.environ.get("NOR_FIDELITY_ONLY", "").split(",") if x}   # members,merges,membership,client,data
    world = WorldConfig()
    twin, net = world.cluster, NetworkConfig()
    if os.environ.get("NOR_FIDELITY_REAL"):   # the twin side again, on real samples saved by runs
        real, paired, runs = _load_saved(os.environ["NOR_FIDELITY_REAL"].split(os.pathsep))
        _report(real, world, net, paired, runs)
        return 0
    settings = MemberSettings(cluster_name=f"nor-fidelity-{os.getpid()}", heartbeat_interval_s=1,
                              max_no_heartbeat_s=max(1, round(twin.detection_delay_s)),
                              merge_first_run_delay_s=max(1, round(twin.merge_first_run_delay_s)),
                              merge_next_run_delay_s=max(1, round(twin.merge_next_run_delay_s)),
                              backup_count=twin.backup_count,
                              client_max_no_heartbeat_s=max(1, round(twin.client_heartbeat_timeout_s)))
    # millisecond timestamps and the merge checks in the members' logs (see member_logs)
    cluster = LocalCluster(twin.members, settings=settings)
    props = cluster.workdir / "logging.properties"
    props.write_text(member_logs.LOGGING_PROPERTIES)
    os.environ["JAVA_TOOL_OPTIONS"] = f"-Djava.util.logging.config.file={props}"
    print(f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    t0 = time.monotonic()
    paired: list[RealMerge] = []
    with cluster:
        print(f"fidelity_bench: {twin.members} real members up in {time.monotonic() - t0:.1f} s "
              f"(start-up {', '.join(f'{s:.1f}' for s in cluster.startup_s)} s); member settings: heartbeat "
              f"{settings.heartbeat_interval_s} s, max.no.heartbeat {settings.max_no_heartbeat_s} s, merge runs "
              f"{settings.merge_first_run_delay_s} s / every {settings.merge_next_run_delay_s} s, backups "
              f"{settings.backup_count}; client heartbeat timeout {twin.client_heartbeat_timeout_s:g} s; n={n}",
              flush=True)
        real = _measure(cluster, twin, n, rng, only)
        if "merge_first" in real:
            logs = member_logs.read_logs(cluster.workdir, [int(s.ports.member_public.rsplit(":", 1)[1])
                                                           for s in cluster.slots])
            joins = member_logs.merge_join_times(logs)
            wait = twin.merge_join_wait_s
            real["merge_join"] = [j for j in joins if j < wait]
            real["merge_join_waited"] = [j for j in joins if j >= wait]
            real["merge_connect_wait"] = member_logs.connect_waits(logs)
            paired = _real_merges(logs, real, [s.ports.member_public for s in cluster.slots], twin)
    saved = Path(os.environ.get("NOR_FIDELITY_SAVE", cluster.workdir / "fidelity_real.json"))
    saved.write_text(json.dumps({"real": real, "paired": [dataclasses.asdict(s) for s in paired]}))
    print(f"real samples saved to {saved} (NOR_FIDELITY_REAL={saved} replays the twin side without a cluster)")
    _report(real, world, net, paired)
    cpu = os.times()
    print(f"cpu (this process) user+sys {cpu.user + cpu.system:.1f} s; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _load_saved(paths: list[str]) -> tuple[dict[str, list[float]], list[RealMerge], int]:
    """The real samples saved by one or more runs (``NOR_FIDELITY_SAVE``), pooled: each figure's samples
    concatenated, the paired merge layouts kept only if every run paired all of its merge samples. Returns
    (samples, layouts, runs)."""
    real: dict[str, list[float]] = {}
    paired: list[RealMerge] = []
    whole = True
    for path in paths:
        try:
            saved = json.loads(Path(path).read_text())
            runs_real, runs_paired = saved["real"], saved["paired"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"NOR_FIDELITY_REAL: {path}: expected a file saved by fidelity_bench "
                             f"(NOR_FIDELITY_SAVE), got {type(exc).__name__}: {exc}") from None
        for key, xs in runs_real.items():
            real.setdefault(key, []).extend(xs)
        real.setdefault("merge_runs", []).append(runs_real.get("merge_offset", []))
        whole = whole and len(runs_paired) == len(runs_real.get("merge_first", []))
        paired += [RealMerge(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})
                   for s in runs_paired]
    return real, paired if whole else [], len(paths)


def _real_merges(logs, real: dict[str, list[float]], addresses: list[str], twin: ClusterConfig) -> list[RealMerge]:
    """Each merge sample's layout on the real cluster, from its members' logs: every member's tick grid
    (checked: how many ticks lie on it, and how far the farthest is), the checks' order (checked: the
    observed pairs it contradicts), the member list's order before the cut (ages) and the address ranks."""
    period = twin.merge_next_run_delay_s
    grids = [member_logs.grid_phase(log, period) for log in logs]
    order, contra = member_logs.check_order(logs)
    ranks = address_ranks(addresses)
    print("merge layout (member logs): grid phases " + ", ".join(
        f"m{i} {ph:.3f} s ({k} ticks, max off {off:.3f})" for i, (ph, k, off) in enumerate(grids))
        + f"; check order {['m%d' % m for m in order]} ({contra} observed pairs against it); address ranks {ranks}")
    out = []
    for offset, cut, heal in zip(real["merge_offset"], real["merge_cut_wall"], real["merge_heal_wall"]):
        ages = member_logs.ages_before(logs, member_logs.seconds_of_day(cut))
        if ages is None or any(k == 0 for _, k, _ in grids):
            print(f"  merge sample at offset {offset:.2f}: no layout in the logs, not paired")
            continue
        det = member_logs.detection_after(logs, member_logs.seconds_of_day(cut))
        own = member_logs.member_detections_after(logs, member_logs.seconds_of_day(cut))
        lags = tuple(d - min(own) for d in own) if own else ()
        # the heal's place against the first member's own detection (both on the members' log clock)
        anchor = (member_logs.seconds_of_day(heal) - member_logs.seconds_of_day(cut) - min(own)) if own else math.nan
        out.append(RealMerge(offset, member_logs.seconds_of_day(heal), tuple(ph for ph, _, _ in grids),
                             tuple(order.index(m) for m in range(len(logs))), tuple(ages), ranks,
                             det if det is not None else math.nan, lags, anchor))
    return out


def _rows(real: dict[str, list[float]], world: WorldConfig, net: NetworkConfig, runs: int = 1) -> list[tuple]:
    """(label, real key, twin setting, twin samples) for every figure measured (``runs``: how many real
    clusters the samples come from)."""
    twin = world.cluster
    link = net.link("cluster<->agent")
    hops = f"network latency {link.latency_ms:g} ms + jitter {link.jitter_ms:g} ms per hop, 2 hops"
    rows = [
        ("member failure detection, SIGKILL", "detect_sigkill", "crash_detection_s", [twin.crash_detection_s]),
        ("member failure detection, SIGSTOP", "detect_sigstop", "detection_delay_s", [twin.detection_delay_s]),
        ("migration: backups re-created", "migration", "migration_s", [twin.migration_s]),
        ("client cut off -> DISCONNECTED", "disconnect", "client_heartbeat_timeout_s",
         [twin.client_heartbeat_timeout_s]),
        ("write -> entry event", "entry_event", hops, [twin_entry_event_s(net)] if "entry_event" in real else []),
    ]
    if "merge_first" in real:
        groups = real.get("merge_runs") or [real["merge_offset"]]
        sim = twin_merges(world, groups, int(os.environ.get("NOR_FIDELITY_WORLDS", "30")))
        # a real cluster has one layout (its members' start instants fix their grids); the twin draws one per
        # world: the drawn layouts are a figure for samples pooled over many clusters, the paired rows per run
        rounds = (f"merge ticks every {twin.merge_next_run_delay_s:g} s (layouts from the seeds, the script "
                  f"in {os.environ.get('NOR_FIDELITY_WORLDS', '30')} worlds per run; real: "
                  f"{runs} cluster{'s' if runs > 1 else ''}'{'' if runs > 1 else 's'} layout{'s' if runs > 1 else ''}), "
                  f"connect wait {twin.merge_connect_timeout_s:g} s, merge_join_s {twin.merge_join_s:g}")
        rows += [("partition healed -> first merge", "merge_first", rounds, sim["merge_first"]),
                 ("partition healed -> all merged", "merge_all", rounds, sim["merge_all"]),
                 ("check's wait on a cut member (logs)", "merge_connect_wait", "merge_connect_timeout_s",
                  [twin.merge_connect_timeout_s]),
                 ("merge decision -> merged (logs)", "merge_join", "merge_join_s", [twin.merge_join_s]),
                 ("  ... MERGED 1 s later (logs)", "merge_join_waited", "merge_join_s + merge_join_wait_s",
                  [twin.merge_join_s + twin.merge_join_wait_s])]
    if "reconnect" in real:
        rows += [("reconnect after a cut's heal", "reconnect",
                  f"held try fails at the next clean-up run (every {twin.client_connect_attempt_s:g} s + up to "
                  f"{twin.client_reactor_poll_s:g} s), next "
                  f"address + client_reconnect_s {twin.client_reconnect_s:g}", real["reconnect_twin"]),
                 ("  ... twin at the real clean-up phase", "reconnect", "the same, the real client's timer phase",
                  real["reconnect_matched"]),
                 ("heal -> held try failed", "held_fail", "the real client's clean-up timer due (Timer.end; "
                  f"the run follows within client_reactor_poll_s {twin.client_reactor_poll_s:g})",
                  [w if w > 0 else w + twin.client_connect_attempt_s for w in real["cleanup_wait"]]),
                 ("refused try: start -> failed", "refused_try", "client_connect_attempt_s",
                  [twin.client_connect_attempt_s]),
                 ("refused: DISCONNECTED -> give-up", "refused_give_up",
                  f"client_cluster_connect_timeout_s {twin.client_cluster_connect_timeout_s:g} + pass",
                  real["refused_give_up_twin"])]
    return [r for r in rows if r[1] in real and real[r[1]] and r[3]]


def _report(real: dict[str, list[float]], world: WorldConfig, net: NetworkConfig,
            paired: list[RealMerge] = (), runs: int = 1) -> None:
    twin = world.cluster
    rows = _rows(real, world, net, runs)
    if "view_pause_layout" in real and not paired:
        rows += member_views.view_rows(real, world, [])
    if paired and len(paired) == len(real["merge_first"]):
        sim = twin_merges_paired(world, paired)
        rows += [("healed -> first merge, paired", "merge_first", "the real cluster's merge layout per sample",
                  sim["merge_first"]),
                 ("healed -> all merged, paired", "merge_all", "the real cluster's merge layout per sample",
                  sim["merge_all"])]
        rows += member_views.view_rows(real, world, paired)
        print("merge samples paired (offset s, ages, real first / twin first, real all / twin all):")
        for k, s in enumerate(paired):
            lags = "/".join(f"{1000 * x:.0f}" for x in s.detection_lag_s) or "-"
            print(f"  {s.offset_s:5.2f} ages {s.age} detection {s.detection_s:5.2f} (lags {lags} ms) "
                  f"{real['merge_first'][k]:6.3f} / {sim['merge_first'][k]:6.3f}  "
                  f"{real['merge_all'][k]:6.3f} / {sim['merge_all'][k]:6.3f}")
    rows = [r for r in rows if real.get(r[1]) and r[3]]
    print(f"{'figure':34s} {'real median':>11s} {'twin median':>11s} {'twin/real':>9s}  twin setting")
    for label, key, setting, twin_s in rows:
        med, tmed = statistics.median(real[key]), statistics.median(twin_s)
        ratio = tmed / med if med > 0 else float("inf")
        flag = "" if 0.8 <= ratio <= 1.2 else "  (outside 20 %)"
        if flag and "layouts from the seeds" in setting and runs < 10:
            flag += f" — drawn layouts against {runs} real one(s): pool runs, or see the paired row"
        print(f"{label:34s} {med:9.4f} s {tmed:9.4f} s {ratio:9.2f}  {setting}{flag}")
    print("spread: median [quartiles] (range), s")
    for key in dict.fromkeys(r[1] for r in rows):   # a figure with two twin rows shows its samples once
        print(f"  {key:14s} real {_spread(real[key])}: " + " ".join(f"{v:.3f}" for v in sorted(real[key])))
        for label, _, _, twin_s in (r for r in rows if r[1] == key and len(r[3]) > 1):
            print(f"  {'':14s} twin {_spread(twin_s)}  ({label.strip()})")
    if "reconnect" in real:
        print(f"reconnect: real - twin at the real phase, per heal {spread_line(real['matched_residual'])} s")
        if real.get("phase_target"):
            print("reconnect: heal phases (the clean-up timer's wait at the heal), stratum -> achieved: " + ", ".join(
                f"{t:.4f}->{w:.4f}" for t, w in sorted(zip(real["phase_target"], real["cleanup_wait"]))))
        if real.get("close_after_heal"):
            print(f"reconnect: the held connection closed (the client's reactor log) after the heal "
                  f"{spread_line(real['close_after_heal'])} s (the twin's cut heals then)")
        print(f"reconnect: heal offsets after DISCONNECTED {spread_line(real['heal_offset'])} s; refused: give-up -> "
              f"replaced real {spread_line(real['refused_replace'])} s, twin {spread_line(real['refused_replace_twin'])} s "
              f"(the service tick's phase: uniform over client_probe_interval_s {world.cluster.client_probe_interval_s:g} s)")
    if "invalidation" in real:
        print(f"near-cache invalidation {_spread(real['invalidation'])} s (not on the twin's path: the agent "
              "reads a write from its entry event, which carries the value)")
    if "merge_offset" in real:
        print("merge: heal offsets after the split " + " ".join(f"{v:.2f}" for v in real["merge_offset"]))


if __name__ == "__main__":
    sys.exit(main())
