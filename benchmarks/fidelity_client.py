"""The fidelity bench's client figures: the agent's Hazelcast adapter losing every connection and
coming back, on the real cluster, beside the twin (:mod:`twin.client`, :mod:`twin.reconnect`).

The real side is the adapter as the agent runs it: a ``HazelcastHealthService`` with the adapter's
own defaults (``HzConfig``: connect timeout 5 s for both the cluster connect timeout and the
socket's, replacement bound 10 s, service tick 0.5 s), except the client heartbeat timeout, which is
the twin's ``client_heartbeat_timeout_s`` (the figure "cut off -> DISCONNECTED" checks it). A
logging handler stamps the pinned client's own log lines (each try, each failure, each backoff,
the give-up) and the service's replacements with the monotonic clock: that is the real try schedule,
printed beside the twin's for the same sample.

* **cut**: a Toxiproxy ``timeout`` toxic on every client proxy (the agent partitioned, as in the
  timeline test) -> DISCONNECTED; healed (``reset``, as the timeline test) at a random instant
  0.5-15 s after the DISCONNECTED (before and after the service's first replacement), then at the
  sample's stratum of the client's clean-up timer phase (:func:`stratified_phases`) -> CONNECTED.
  The twin plays the same: the agent partitioned, healed as long after its own DISCONNECTED, at the
  phase its seed draws (its own distribution) and, beside it, at the real heal's achieved phase.
* **refused**: the proxies disabled after the DISCONNECTED (every address refuses), held 7 s (past
  the give-up and a replacement): the per-try cost, the give-up and the replacement; the twin's
  schedule with every member's address refusing (every member dead) beside it.
"""

from __future__ import annotations

import logging
import math
import random
import re
import statistics
import threading
import time

from adapters.hazelcast import HazelcastHealthService, HzConfig, load_hz_config
from twin import World, WorldConfig

__all__ = ["TryLog", "client_faults", "stratified_phases", "twin_cut", "twin_refused", "adapter_settings"]

_KINDS = (("Trying to connect to", "try"), ("Error during initial connection", "fail"),
          ("retry in", "backoff"), ("cluster connect timeout (", "gave up"), ("replacing the hazelcast", "replaced"),
          ("is DISCONNECTED", "DISCONNECTED"), ("is CONNECTED", "CONNECTED"),
          ("Connection closed by server", "closed"), ("closed. Reason", "closed"))
_PORT = re.compile(r"port=(\d+)|\]:(\d+)")


class TryLog(logging.Handler):
    """The pinned client's and the service's log lines that make the try schedule, stamped with
    ``time.monotonic()`` as they are emitted: (t, kind, port or "")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        t = time.monotonic()
        msg = record.getMessage()
        for needle, kind in _KINDS:
            if needle in msg:
                m = _PORT.search(msg) if kind in ("try", "fail") else None
                with self._lock:
                    self.events.append((t, kind, (m[1] or m[2]) if m else ""))
                return

    def since(self, t0: float) -> list[tuple[float, str, str]]:
        with self._lock:
            return [e for e in self.events if e[0] >= t0]

    def attach(self) -> "TryLog":
        for name in ("hazelcast.connection", "hazelcast.lifecycle", "hazelcast.reactor", "adapters.hazelcast.service"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.INFO)
            logger.addHandler(self)
        return self


def adapter_settings(cluster, world: WorldConfig) -> HzConfig:
    """The adapter's defaults with the cluster's addresses and the twin's client heartbeat timeout."""
    return load_hz_config(env={}, members=cluster.client_addresses, cluster_name=cluster.settings.cluster_name,
                          map_name="NOR_FIDELITY", heartbeat_timeout_s=world.cluster.client_heartbeat_timeout_s)


def _schedule(events: list[tuple[float, str, str]], t0: float, ports: dict[str, int], upto: float) -> str:
    """Compact schedule after ``t0``: kind[member]@seconds."""
    out = []
    for t, kind, port in events:
        if t0 <= t <= upto and kind != "DISCONNECTED":
            who = f"[m{ports[port]}]" if port in ports else ""
            out.append(f"{kind}{who}@{t - t0:.3f}")
    return " ".join(out)


def _twin_schedule(tries: list[tuple[float, int, str]], t0: float, upto: float) -> str:
    return " ".join(f"{what}{'' if m < 0 else f'[m{m}]'}@{t - t0:.3f}" for t, m, what in tries if t0 <= t <= upto)


def _wait_event(log: TryLog, kind: str, after: float, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        hit = next((t for t, k, _ in log.since(after) if k == kind), None)
        if hit is not None:
            return hit
        time.sleep(0.005)
    raise TimeoutError(f"no {kind} within {timeout_s} s")


def _cut(proxies) -> None:
    for p in proxies:
        for stream in ("downstream", "upstream"):
            p.add_toxic(type="timeout", stream=stream, name=f"cut_{stream}", attributes={"timeout": 0})


def client_faults(cluster, world: WorldConfig, n: int, rng: random.Random, seeds: int = 50) -> dict[str, list[float]]:
    """``n`` cut samples and ``max(2, n // 4)`` refused ones on the real adapter, each printed with its
    try schedule beside the twin's (``seeds`` twin worlds per cut sample)."""
    out: dict[str, list[float]] = {"disconnect": [], "reconnect": [], "reconnect_twin": [], "heal_offset": [],
                                   "held_fail": [], "cleanup_wait": [], "phase_target": [], "close_after_heal": [],
                                   "reconnect_matched": [], "matched_residual": [],
                                   "refused_try": [], "refused_give_up": [], "refused_replace": [],
                                   "refused_give_up_twin": [], "refused_replace_twin": []}
    log = TryLog().attach()
    ports = {a.rsplit(":", 1)[1]: i for i, a in enumerate(cluster.client_addresses)}
    proxies = [cluster.proxy(f"c{i}") for i in range(cluster.size)]
    phases = stratified_phases(n, world.cluster.client_connect_attempt_s, rng)
    svc = HazelcastHealthService(adapter_settings(cluster, world)).start()
    try:
        for k in range(n + max(2, n // 4)):
            refused = k >= n
            if not svc.wait_connected(60.0):
                raise TimeoutError("the adapter did not connect")
            time.sleep(1.0)
            t0 = time.monotonic()
            _cut(proxies)
            t_down = _wait_event(log, "DISCONNECTED", t0, 120.0)
            if refused:
                _refused_sample(cluster, world, proxies, log, ports, t_down, out)
                continue
            out["disconnect"].append(t_down - t0)
            offset = rng.uniform(0.5, 15.0)
            time.sleep(max(0.0, t_down + offset - time.monotonic()))
            missed = _wait_phase(svc, phases[k])
            wait = _cleanup_wait(svc)
            t_heal = time.monotonic()
            cluster.toxiproxy.api().reset()
            reset_s = time.monotonic() - t_heal   # the held connections close inside this call
            t_up = _wait_event(log, "CONNECTED", t_heal, 60.0)
            t_fail = next((t for t, kind, _ in log.since(t_heal) if kind == "fail"), float("nan"))
            # the proxy closes the held connection inside the reset call: the client's reactor logs it
            close_s = next((t - t_heal for t, kind, _ in log.since(t_heal) if kind == "closed" and t <= t_up), reset_s)
            out["close_after_heal"].append(close_s)
            out["heal_offset"].append(t_heal - t_down)
            out["reconnect"].append(t_up - t_heal)
            out["held_fail"].append(t_fail - t_heal)
            out["cleanup_wait"].append(wait)
            out["phase_target"].append(phases[k])
            # the twin's cut heals when the real held connection closed (the client's reactor saw it; the
            # end of the reset call if no close was logged), and at the real phase its timer is due when
            # the real one was, relative to that close
            healed = t_heal + close_s - t_down
            twin_up, tries, twin_down = twin_cut(world, healed, range(100 * k, 100 * k + seeds))
            out["reconnect_twin"] += [u + close_s for u in twin_up]
            matched = twin_cut(world, healed, [100 * k], cleanup_wait=wait - close_s)[0][0] + close_s
            out["reconnect_matched"].append(matched)
            out["matched_residual"].append(t_up - t_heal - matched)
            print(f"  cut {k}: heal {t_heal - t_down:.2f} s after DISCONNECTED; the client's next clean-up run "
                  f"{wait:.4f} s after the heal (stratum {phases[k]:.4f} s, {missed} timer runs let pass), the held try failed {t_fail - t_heal:.3f} s after it; reconnect "
                  f"real {t_up - t_heal:.3f} s, twin {twin_up[0] + close_s:.3f} s (at the real clean-up phase {matched:.3f} s; "
                  f"reset call {reset_s:.4f} s, the held connection closed {close_s:.4f} s after the heal)\n"
                  f"    real: {_schedule(log.since(t_down), t_down, ports, t_up)}\n"
                  f"    twin: {_twin_schedule(tries, twin_down, twin_down + (t_heal - t_down) + 1.0)}", flush=True)
    finally:
        svc.stop()
        cluster.heal()
    return out


def stratified_phases(n: int, period: float, rng: random.Random) -> list[float]:
    """The clean-up timer's remaining wait to heal at, one per stratum: sample k of ``n`` heals when the
    timer is due ``(j + 0.5) / n * period`` later, the strata ``j`` in a shuffled order. The phase is
    uniform for a heal at a random instant; stratifying it leaves the real median free of the phase's
    draw (a median of ``n`` uniform phases has a standard error of ~``period / (2 * sqrt(n))``)."""
    order = list(range(n))
    rng.shuffle(order)
    return [(j + 0.5) / n * period for j in order]


def _timer(svc):
    try:
        return svc.client._invocation_service._clean_resources_timer
    except AttributeError:
        return None


def _wait_phase(svc, target: float, give_up_s: float = 1.0) -> int:
    """Sleep until the current real client's clean-up timer is due ``target`` seconds later (its
    ``Timer.end`` is in ``time.time()``); when that instant of the current timer has passed, wait for
    the re-armed one. Returns how many timer runs were let pass (-1: no timer to read; the heal is
    then at the coarse instant). Gives up after ``give_up_s`` (a client being replaced)."""
    deadline = time.time() + give_up_s
    missed = 0
    while time.time() < deadline:
        timer = _timer(svc)
        if timer is None or timer.canceled:
            time.sleep(0.001)
            continue
        at = timer.end - target
        if at >= time.time():
            if at - time.time() > 0.003:
                time.sleep(at - time.time() - 0.002)
            while time.time() < at:     # the last 2 ms: sleep(0) yields the GIL to the reactor
                time.sleep(0)
            if _timer(svc) is timer:
                return missed
        missed += 1
        while _timer(svc) is timer and time.time() < deadline:
            time.sleep(0.0005)
    return -1


def _cleanup_wait(svc) -> float:
    """Seconds until the current real client's next clean-up run (its invocation service's timer,
    read from the pinned client's own object: ``Timer.end`` is in ``time.time()``); NaN if unknown."""
    timer = _timer(svc)
    return float("nan") if timer is None else timer.end - time.time()


def _refused_sample(cluster, world, proxies, log: TryLog, ports, t_down: float, out) -> None:
    for p in proxies:   # every address refuses from here on
        p.disable()
        p.destroy_toxic("cut_downstream")
        p.destroy_toxic("cut_upstream")
    t_off = time.monotonic()
    time.sleep(7.0)
    cluster.toxiproxy.api().reset()
    events = log.since(t_off)
    fails = [t for t, k, _ in events if k == "fail"]
    tries = [t for t, k, _ in events if k == "try"]
    # a try's cost inside a pass: from its start to its failure (the first one started before the refusal)
    costs = [f - t for t, f in zip(tries, fails[1:]) if 0 < f - t < 1.0]
    out["refused_try"] += costs
    gave = [t for t, k, _ in events if k == "gave up"]
    repl = [t for t, k, _ in events if k == "replaced"]
    if gave:
        out["refused_give_up"].append(gave[0] - t_down)
        out["refused_replace"] += [r - g for g, r in zip(gave, repl)]
    tw, give_ups, replaces = twin_refused(world)
    out["refused_give_up_twin"] += give_ups
    out["refused_replace_twin"] += replaces
    print(f"  refused: tries cost {statistics.median(costs):.4f} s (median of {len(costs)}); gave up "
          f"{gave[0] - t_down if gave else float('nan'):.2f} s after DISCONNECTED, replaced "
          f"{repl[0] - gave[0] if gave and repl else float('nan'):.2f} s later\n"
          f"    real: {_schedule(events, t_down, ports, t_down + 7.0)}\n    twin: {tw}", flush=True)


class _HealAfterDown(list):
    """A world's try log that heals the agent's partition ``offset`` after its first entry (the try
    made at the DISCONNECTED), so one run of the world finds its DISCONNECTED and heals after it."""

    def __init__(self, world: World, offset: float, cleanup_wait: float | None) -> None:
        super().__init__()
        self.world, self.offset, self.cleanup_wait = world, offset, cleanup_wait
        self.heal = math.nan

    def append(self, entry) -> None:
        if not self:
            self.heal = entry[0] + self.offset
            self.world.at(self.heal, self._healed)
        super().append(entry)

    def _healed(self) -> None:
        if self.cleanup_wait is not None and self.cleanup_wait == self.cleanup_wait:   # not NaN
            self.world.client.reconnect.cleanup_due(self.heal + self.cleanup_wait)
        self.world.ports["network"].heal()


def twin_cut(world: WorldConfig, offset: float, seeds=range(1), cleanup_wait: float | None = None
             ) -> tuple[list[float], list, float]:
    """The twin's heal -> connected when the agent's partition heals ``offset`` after its own
    DISCONNECTED; one value per seed, with the first world's tries and DISCONNECTED time. With
    ``cleanup_wait`` the client's clean-up timer is next due that long after the heal (the real
    client's timer, read at the heal), else at the phase the seed draws."""
    ups, first_tries, first_down = [], [], 0.0
    for s in seeds:
        w = World(world, "survival", s)
        tries = w.client.reconnect.tries = _HealAfterDown(w, offset, cleanup_wait)
        w.at(40.0, lambda w=w: w.ports["network"].partition([["agent"]]))
        w.run(40.0 + world.cluster.client_heartbeat_timeout_s + 5.0 + offset + 30.0)
        ev = w.trace().tables["events"].to_pydict()
        ups.append(next(t for t, k in zip(ev["t_s"], ev["kind"]) if k == "client_connected" and t >= tries.heal)
                   - tries.heal)
        if not first_tries:
            first_tries, first_down = list(tries), tries[0][0]
    return ups, first_tries, first_down


def twin_refused(world: WorldConfig, seeds=range(8)) -> tuple[str, list[float], list[float]]:
    """The twin when every member's address refuses (every member dead): the first world's schedule
    from its DISCONNECTED, and per world the give-up after the DISCONNECTED and the replacement after it."""
    text, give_ups, replaces = "", [], []
    for seed in seeds:
        w = World(world, "survival", seed)
        w.client.reconnect.tries = []
        w.at(40.0, lambda w=w: [w.ports["cluster"].kill_member(i) for i in range(world.cluster.members)])
        w.run(50.0 + world.cluster.client_heartbeat_timeout_s)
        tries = w.client.reconnect.tries
        down = tries[0][0]
        gave = next(t for t, _, what in tries if what == "gave up")
        give_ups.append(gave - down)
        replaces.append(next(t for t, _, what in tries if what == "replaced") - gave)
        text = text or _twin_schedule(tries, down, down + 7.0)
    return text, give_ups, replaces


def spread_line(xs: list[float]) -> str:
    return f"{statistics.median(xs):.4f} ({min(xs):.4f}-{max(xs):.4f}, n={len(xs)})" if xs else "-"
