"""A member's own member list shrinks when its side's mastership claim ends, not at the detection: the
new master publishes it then (Hazelcast's ``MembershipManager``); the agent's client, which hears of
membership from one member, sees the loss at that instant (:mod:`twin.cluster`, :mod:`twin.merge`)."""

from __future__ import annotations

from twin import World, WorldConfig
from twin.merge import MergeLayout


def _singletons(ages: tuple[int, ...]) -> tuple[World, list[tuple[float, list[tuple[int, ...]], bool]]]:
    """Every member alone from 40 s (detected at 45 s), with the given ages; the views and the client's
    quorum at every membership change."""
    w = World(WorldConfig(), "survival", 3)
    c = w.ctx.cluster
    c.merges.apply_layout(MergeLayout((0.0, 1.0, 2.0), (0, 1, 2), (0, 1, 2), ages))
    seen: list[tuple[float, list[tuple[int, ...]], bool]] = []
    c.membership_hooks.append(lambda: seen.append((w.ctx.now(), [c.member_view(i) for i in range(3)], False)))
    w.at(40.0, lambda: w.ports["network"].partition([["hz0"], ["hz1"], ["hz2"]]))
    w.run(58.0)
    return w, seen


def test_the_middle_member_keeps_its_list_until_its_claim_ends() -> None:
    # hz0 the master, hz1 next, hz2 the youngest: at 45 s hz0 removes the others at once, hz2 (having
    # suspected every older member) claims at once; hz1 asks hz2, which it cannot reach: its list is
    # the old one until fetch_member_list_s later
    _, seen = _singletons((0, 1, 2))
    detected = 45.0
    (t1, views1, _), (t2, views2, _) = seen[:2]
    assert t1 == detected and views1 == [(0,), (0, 1, 2), (2,)]
    assert t2 == detected + WorldConfig().cluster.fetch_member_list_s and views2 == [(0,), (1,), (2,)]


def test_a_client_listening_on_the_middle_member_loses_quorum_at_the_claims_end() -> None:
    # the agent with hz0, the client's listener (its lowest connection), the middle member: hz.quorum drops
    # only when hz0's claim ends; with hz0 the master it drops at the detection
    for ages, at_46, at_51 in (((1, 0, 2), True, False), ((0, 1, 2), False, False)):
        w = World(WorldConfig(), "survival", 3)
        w.ctx.cluster.merges.apply_layout(MergeLayout((0.0, 1.0, 2.0), (0, 1, 2), (0, 1, 2), ages))
        probes: dict[float, bool] = {}
        w.at(40.0, lambda w=w: w.ports["network"].partition([["hz0", "agent"], ["hz1"], ["hz2"]]))
        for t in (44.9, 46.0, 51.0):
            w.at(t, lambda t=t, w=w, probes=probes: probes.__setitem__(t, w.client.quorum_ok()))
        w.run(52.0)
        assert probes == {44.9: True, 46.0: at_46, 51.0: at_51}, ages
