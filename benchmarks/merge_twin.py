"""The fidelity bench's merge script played in the twin: every member alone, healed an offset later;
heal -> member 0's own member list grows (first merge), then is whole (all merged).

Two ways: :func:`twin_merges` draws each world's merge layout from its seed and plays a real run's whole
cut/heal script in it (several worlds per run: the default layouts' spread), :func:`twin_merges_paired` plays one world per real sample with that real
cluster's own layout (:class:`twin.merge.MergeLayout`: tick grids, address ranks, check order, ages, read
from its members' logs by :mod:`member_logs`), the heal at the same phase of every member's grid.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from twin import World, WorldConfig
from twin.merge import MergeLayout

__all__ = ["RealMerge", "twin_merges", "twin_merges_paired", "address_ranks"]


@dataclass(frozen=True)
class RealMerge:
    """One real sample: the heal's offset after every member was alone and its instant (the members' log
    clock), each member's tick phase on that clock, the checks' order, ages, address ranks."""

    offset_s: float
    heal_s: float
    phases_s: tuple[float, ...]
    check_order: tuple[int, ...]
    age: tuple[int, ...]
    address_rank: tuple[int, ...]
    detection_s: float = math.nan       # cut -> the first member's detection (nan: the twin's setting)
    detection_lag_s: tuple[float, ...] = ()   # each member's own detection after the first's (): none logged
    heal_after_detection_s: float = math.nan  # the first member's own detection -> the heal (nan: none logged)


def address_ranks(addresses: list[str]) -> tuple[int, ...]:
    """Each member's place when the addresses sort as Hazelcast compares them in a merge check of equal
    sides (``"[host]:port"`` strings; the side whose master sorts first takes the other in)."""
    keys = ["[{}]:{}".format(*a.rsplit(":", 1)) for a in addresses]
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return tuple(order.index(i) for i in range(len(keys)))


def _watch(w: World, heal: list[float]) -> dict[str, float]:
    """Seconds from the heal at ``heal[0]`` (read at each membership change) until member 0's own list holds
    another member (``merge_first``) and every member (``merge_all``): the dict, filled as ``w`` runs."""
    cluster, n = w.ctx.cluster, w.config.cluster.members
    seen: dict[str, float] = {}

    def hook() -> None:
        size, now = len(cluster.member_view(0)), w.ctx.now()
        if now >= heal[0] and size >= 2:
            seen.setdefault("merge_first", now - heal[0])
        if now >= heal[0] and size == n:
            seen.setdefault("merge_all", now - heal[0])

    cluster.membership_hooks.append(hook)
    return seen


def _play(cfg: WorldConfig, seed: int, offset: float, layout_at=None,
          heal_after_detection_s: float = math.nan) -> dict[str, float]:
    """One world: partitioned at 40 s, healed ``offset`` after the detection and the last mastership claim
    (or, if ``heal_after_detection_s`` is given, that long after the detection: the real heal's place against
    the members' own detections); ``layout_at(heal_s)`` (if given) is the layout to play for a heal at ``heal_s``."""
    n = cfg.cluster.members
    anchored = math.isfinite(heal_after_detection_s)
    heal = 40.0 + cfg.cluster.detection_delay_s + (heal_after_detection_s if anchored else offset)
    if layout_at is not None and not anchored:   # the claims (and so the heal) depend on the ages only
        probe = World(cfg, "survival", seed)
        probe.ctx.cluster.merges.apply_layout(layout_at(0.0))
        probe.at(40.0, lambda: probe.ports["network"].partition([[f"hz{i}"] for i in range(n)]))
        probe.run(heal)
        heal = max(heal, probe.ctx.cluster.merges.settled_s() + offset)
    w = World(cfg, "survival", seed)
    cluster = w.ctx.cluster
    if layout_at is not None:
        cluster.merges.apply_layout(layout_at(heal))
    marks = [heal]
    seen = _watch(w, marks)
    w.at(40.0, lambda: w.ports["network"].partition([[f"hz{i}"] for i in range(n)]))
    w.run(heal)
    # as on the real cluster: healed the offset after every member is alone and master of itself
    if not anchored:
        marks[0] = heal = max(heal, cluster.merges.settled_s() + offset)
    w.at(heal, w.ports["network"].heal)
    w.run(heal + 120.0)
    return seen


def twin_merges(cfg: WorldConfig, runs: list[list[float]], worlds: int = 30) -> dict[str, list[float]]:
    """The real bench's script with layouts drawn from the seed: for each real run (its heal offsets, in
    order), ``worlds`` seeded worlds each play the run's cut/heal cycles one after another in one cluster,
    as the real bench does (its members' ages carried from cycle to cycle): every member cut off, healed
    the offset after every member is alone and master of itself, until member 0's list is whole again."""
    out: dict[str, list[float]] = {"merge_first": [], "merge_all": []}
    for j, offsets in enumerate(runs):
        for k in range(worlds):
            seen = _cycles(cfg, 1000 * j + k, offsets)
            for key in out:
                out[key] += seen[key]
    return out


def _cycles(cfg: WorldConfig, seed: int, offsets: list[float]) -> dict[str, list[float]]:
    n = cfg.cluster.members
    w = World(cfg, "survival", seed)
    cluster, net = w.ctx.cluster, w.ports["network"]
    out: dict[str, list[float]] = {"merge_first": [], "merge_all": []}
    heal = [math.inf]
    seen = _watch(w, heal)
    t = 40.0
    for offset in offsets:
        w.run(t)
        net.partition([[f"hz{i}"] for i in range(n)])
        t += cfg.cluster.detection_delay_s + 0.001
        w.run(t)
        t = max(t, cluster.merges.settled_s()) + offset
        w.run(t)
        seen.clear()
        heal[0] = t
        net.heal()
        while "merge_all" not in seen:
            if t > heal[0] + 600.0:
                raise RuntimeError(f"merge_twin: seed {seed}: not merged 600 s after the heal at {heal[0]:.3f} s")
            t += 0.5
            w.run(t)
        for key in out:
            out[key].append(seen[key])
        t += 1.0                        # the real bench heals the proxies and cuts again at once
    return out


def twin_merges_paired(cfg: WorldConfig, samples: list[RealMerge]) -> dict[str, list[float]]:
    """One world per real sample, playing its layout: member ``m``'s grid put at the same phase against
    the heal as the real member's (real phase - real heal, modulo the period), and the real detection."""
    period = cfg.cluster.merge_next_run_delay_s
    out: dict[str, list[float]] = {"merge_first": [], "merge_all": []}
    for k, s in enumerate(samples):
        def layout_at(heal: float, s: RealMerge = s) -> MergeLayout:
            first = tuple((heal + (ph - s.heal_s)) % period for ph in s.phases_s)
            return MergeLayout(first, s.address_rank, s.check_order, s.age, s.detection_lag_s)
        run_cfg = cfg
        if math.isfinite(s.detection_s):   # the real cluster's detection (the checks start after it)
            run_cfg = dataclasses.replace(cfg, cluster=dataclasses.replace(cfg.cluster, detection_delay_s=s.detection_s))
        seen = _play(run_cfg, 1000 * k, s.offset_s, layout_at, s.heal_after_detection_s)
        for key in out:
            out[key].append(seen[key])
    return out
