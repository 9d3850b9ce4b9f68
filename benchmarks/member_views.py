"""When a client's member view shrinks after a member is lost, on the real cluster and in the twin (for
``fidelity_bench``).

The client hears of membership from one member only: the one its cluster-view listener is registered on
(its first connection). That member publishes a new member list when it changes its own: the master at
the detection, a member that lost its master only at the end of its mastership claim (Hazelcast's
``MembershipManager``; the claim asks the members not suspected for their lists and waits up to 5 s on
one it cannot reach). Measured here:

* a member paused (SIGSTOP) while the listener's member is another one: the master paused (the
  listener's member the youngest: the next-oldest claims and reaches it at once) and the youngest paused
  (the listener's member the master) -> the client's ``member_removed``;
* every member link cut (each member alone; the merge samples of ``fidelity_bench``) -> the client's view
  below the split-brain minimum of 2, by the listener member's age (the master and the youngest publish
  at the detection, the middle member after its claim's wait on the youngest).

The twin plays the same with the real ages and the listener's member: the instant that member's own view
(:meth:`twin.cluster.Cluster.member_view`) shrinks.
"""

from __future__ import annotations

import time

from twin import World, WorldConfig
from twin.merge import MergeLayout

__all__ = ["ViewWatch", "listener_index", "ages_now", "pauses", "twin_view_drop_s"]


class ViewWatch:
    """A client's membership events: (monotonic instant, member port, +1 added / -1 removed)."""

    def __init__(self, client) -> None:
        self.events: list[tuple[float, int, int]] = []
        self.client = client
        client.cluster_service.add_listener(
            member_added=lambda m: self.events.append((time.monotonic(), m.address.port, +1)),
            member_removed=lambda m: self.events.append((time.monotonic(), m.address.port, -1)))

    def first(self, since: float, change: int) -> float | None:
        return next((t for t, _, c in self.events if t >= since and c == change), None)


def _index(cluster, port: int) -> int | None:
    for i, s in enumerate(cluster.slots):
        if port in (int(s.ports.member_public.rsplit(":", 1)[1]), int(s.ports.client_public.rsplit(":", 1)[1]),
                    s.ports.member, s.ports.client):
            return i
    return None


def listener_index(cluster, client) -> int | None:
    """The member the client's cluster-view listener is registered on (hazelcast-python-client 5.7.0's
    own service: its first connection)."""
    conn = client._cluster_view_listener._listener_added_connection
    return None if conn is None or conn.remote_address is None else _index(cluster, conn.remote_address.port)


def ages_now(cluster, client) -> list[int] | None:
    """Each member's age (0: the master) in the client's member list (the member list order)."""
    ports = [m.address.port for m in client.cluster_service.get_members()]
    idx = [_index(cluster, p) for p in ports]
    if len(idx) != cluster.size or None in idx:
        return None
    return [idx.index(i) for i in range(cluster.size)]


def pauses(cluster, make_client, n: int, wait) -> dict[str, list]:
    """SIGSTOP the master, then the youngest, each while the client listens on another member: pause ->
    the client's ``member_removed``. Returns the delays and, per sample, (ages, listener, paused)."""
    out: dict[str, list] = {"view_pause_master": [], "view_pause_youngest": [], "view_pause_layout": []}
    for _ in range(n):
        for role in ("master", "youngest"):
            cluster.heal()
            client = make_client()
            try:
                watch = ViewWatch(client)
                ages, lis = ages_now(cluster, client), listener_index(cluster, client)
                if ages is None or lis is None:
                    continue
                target = ages.index(0) if role == "master" else ages.index(cluster.size - 1)
                if target == lis:   # the listener's member would be the one paused: not this sample
                    continue
                t0 = time.monotonic()
                cluster.pause(target)
                wait(lambda: watch.first(t0, -1) is not None, 60.0, "member_removed")
                out[f"view_pause_{role}"].append(watch.first(t0, -1) - t0)
                out["view_pause_layout"].append((role, tuple(ages), lis, target))
            finally:
                client.shutdown()
    cluster.heal()
    return out


def twin_view_drop_s(cfg: WorldConfig, ages: tuple[int, ...], listener: int, cut: list[list[int]]) -> float:
    """The twin: members grouped as ``cut`` (member indexes; the rest stay together) from 40 s, with the
    real ``ages``: seconds until the ``listener``'s own member view shrinks."""
    n = cfg.cluster.members
    w = World(cfg, "survival", 1)
    cluster = w.ctx.cluster
    cluster.merges.apply_layout(MergeLayout(tuple(0.0 for _ in range(n)), tuple(range(n)), tuple(range(n)),
                                            tuple(ages)))
    seen: list[float] = []
    cluster.membership_hooks.append(
        lambda: seen.append(w.ctx.now()) if len(cluster.member_view(listener)) < n and not seen else None)
    w.at(40.0, lambda: w.ports["network"].partition([[f"hz{i}" for i in g] for g in cut]))
    w.run(80.0)
    return seen[0] - 40.0 if seen else float("nan")


def view_rows(real: dict[str, list], world: WorldConfig, paired: list) -> list[tuple]:
    """The bench's rows (label, real key, twin setting, twin samples) for the member-view figures; adds to
    ``real`` the split samples grouped by the listener member's age."""
    rows = []
    n = world.cluster.members
    for role in ("master", "youngest"):
        layouts = [x for x in real.get("view_pause_layout", []) if x[0] == role]
        if not real.get(f"view_pause_{role}"):
            continue
        sim = [twin_view_drop_s(world, tuple(a), lis, [[t]]) for _, a, lis, t in layouts]
        rows.append((f"{role} paused -> client view shrinks", f"view_pause_{role}",
                     "listener member's own view (detection, + its claim)", sim))
    if paired and len(paired) == len(real.get("view_split", [])):
        by_age: dict[int, tuple[list[float], list[float]]] = {}
        for s, d, lis in zip(paired, real["view_split"], real["view_split_listener"]):
            if lis is None:
                continue
            r, t = by_age.setdefault(s.age[lis], ([], []))
            r.append(d)
            t.append(twin_view_drop_s(world, s.age, lis, [[i] for i in range(n)]))
        for age, (r, t) in sorted(by_age.items()):
            key = f"view_split_age{age}"
            real[key] = r
            rows.append((f"all cut -> client view, listener age {age}", key,
                         "listener member's own view (detection, + its claim)", t))
    return rows
