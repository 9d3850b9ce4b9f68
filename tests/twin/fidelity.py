"""Fidelity rules of the twin that tests (and the planted-defect catalogue) assert on a run."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from twin import World

__all__ = ["first_quorum_drop_s", "assert_quorum_waits_for_the_client", "listener_at", "assert_member_list_waits_for_the_claim"]


def first_quorum_drop_s(trace: Any, after_s: float) -> float:
    """Time of the first step after ``after_s`` whose observed hz.quorum is 0 (inf if none)."""
    obs = trace.tables["signals_observed"]
    t = np.asarray(obs.column("t_s").to_pylist())
    q = np.asarray(obs.column("hz.quorum").to_pylist())
    hit = np.flatnonzero((t >= after_s) & (q < 0.5))
    return float(t[hit[0]]) if len(hit) else math.inf


def assert_quorum_waits_for_the_client(world: World, cut_s: float) -> float:
    """Fidelity rule: after a cut between the agent and every member at ``cut_s``, the agent can only learn
    of it from its client's heartbeat timeout — hz.quorum must not drop earlier. Returns the drop time."""
    drop = first_quorum_drop_s(world.trace(), cut_s)
    timeout = world.config.cluster.client_heartbeat_timeout_s
    assert drop >= cut_s + timeout - world.config.agent.step_interval_s, (
        f"hz.quorum dropped {drop - cut_s:.2f} s after the cut, before the client's heartbeat timeout ({timeout:g} s)")
    return drop


def listener_at(trace: Any, t_s: float, members: int) -> int:
    """The member the client's cluster-view listener is on at ``t_s``, from the trace's connection events: its
    lowest open connection (every connection open at the start; -1 if none is open)."""
    ev = trace.tables["events"].to_pydict()
    open_ = [True] * members
    for t, kind, detail in zip(ev["t_s"], ev["kind"], ev["detail"]):
        if t > t_s:
            break
        if kind in ("client_connection_opened", "client_connection_closed"):
            open_[int(json.loads(detail)["member"][2:])] = kind == "client_connection_opened"
    return next((m for m, o in enumerate(open_) if o), -1)


def _cut_groups(trace: Any, cut_s: float) -> list[list[str]]:
    ev = trace.tables["events"].to_pydict()
    for t, kind, detail in zip(ev["t_s"], ev["kind"], ev["detail"]):
        if t == cut_s and kind == "network_partition":
            return json.loads(detail)["groups"]
    raise ValueError(f"the member-list rule needs a network_partition at {cut_s:g} s; the trace has none then")


def assert_member_list_waits_for_the_claim(world: World, cut_s: float, ages: Sequence[int]) -> float:
    """Fidelity rule: every member cut from every other member at ``cut_s``, the agent on the side of the member
    its client's cluster-view listener is on, and that member neither the master nor the youngest (``ages``: each
    member's place in the client's member list before the cut, 0 the master — what a real client reads from its
    member list's order). That member keeps its old member list until its mastership claim ends: the claim waits
    ``fetch_member_list_s`` on the youngest, which it cannot reach, after the detection (``detection_delay_s``).
    So hz.quorum — connected, with a view of at least the quorum — must not drop before
    ``cut_s + detection_delay_s + fetch_member_list_s`` (Hazelcast's ``MembershipManager``; measured 10.06 s
    on real members, ``benchmarks/member_views.py``), and must drop then (a view of one member is below the
    quorum). Nothing else may happen to the cluster meanwhile. Returns the drop time.

    Raises ValueError if the run is not that case (no such cut, the listener's member the master or the
    youngest, or cut from the agent, a quorum of one)."""
    cfg, trace = world.config.cluster, world.trace()
    names = [f"hz{i}" for i in range(cfg.members)]
    if sorted(ages) != list(range(cfg.members)):
        raise ValueError(f"ages: expected a permutation of 0..{cfg.members - 1} (one per member), got {list(ages)}")
    groups = _cut_groups(trace, cut_s)
    side = {n: i for i, g in enumerate(groups) for n in g}
    if len({side.get(n, -1) for n in names}) != len(names):
        raise ValueError(f"the cut at {cut_s:g} s does not put every member alone: {groups}")
    listener = listener_at(trace, cut_s, cfg.members)
    if listener < 0 or side.get(names[listener], -1) != side.get("agent", -1):
        raise ValueError(f"the client's listener member ({listener}) is not on the agent's side of the cut: {groups}")
    if ages[listener] in (0, cfg.members - 1):
        raise ValueError(f"the client's listener member hz{listener} is the master or the youngest (age "
                         f"{ages[listener]} of {cfg.members}): it publishes at the detection, the rule is for the others")
    if cfg.effective_quorum < 2:
        raise ValueError("the member-list rule needs a quorum of at least 2 (a view of one member must lose it)")
    drop = first_quorum_drop_s(trace, cut_s)
    bound = cfg.detection_delay_s + cfg.fetch_member_list_s
    assert drop >= cut_s + bound, (
        f"hz.quorum dropped {drop - cut_s:.2f} s after every member was cut, before the listener member hz{listener}'s "
        f"mastership claim could end (detection_delay_s + fetch_member_list_s = {bound:g} s)")
    assert math.isfinite(drop), (
        f"hz.quorum never dropped after every member was cut at {cut_s:g} s (the listener member hz{listener}'s "
        f"list never shrank; the run ends at {world.now:g} s)")
    return drop
