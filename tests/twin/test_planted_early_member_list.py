"""The planted early member list is caught: a client listening on the middle member may not lose hz.quorum before
that member's mastership claim ends."""

from __future__ import annotations

import pytest

from tests.twin.fidelity import assert_member_list_waits_for_the_claim
from tests.twin.planted_early_member_list import EarlyMemberListCluster, planted
from twin import World, WorldConfig
from twin.merge import MergeLayout

AGES = (1, 0, 2)        # hz1 the master, hz0 (the client's listener: its lowest connection) the middle member
CUT_S = 40.0


def _every_member_cut(ages: tuple[int, ...] = AGES) -> World:
    w = World(WorldConfig(), "survival", 3)
    w.ctx.cluster.merges.apply_layout(MergeLayout((0.0, 1.0, 2.0), (0, 1, 2), (0, 1, 2), ages))
    w.at(CUT_S, lambda: w.ports["network"].partition([["hz0", "agent"], ["hz1"], ["hz2"]]))
    w.run(CUT_S + 20.0)
    return w


def test_the_faithful_twin_passes_the_member_list_rule() -> None:
    drop = assert_member_list_waits_for_the_claim(_every_member_cut(), CUT_S, AGES)
    cfg = WorldConfig().cluster
    assert drop < CUT_S + cfg.detection_delay_s + cfg.fetch_member_list_s + 0.5   # the claim's end, + the link's transit


def test_the_early_member_list_is_caught_by_the_member_list_rule() -> None:
    with planted():
        w = _every_member_cut()
    assert isinstance(w.ctx.cluster, EarlyMemberListCluster)
    with pytest.raises(AssertionError, match="before the listener member hz0's mastership claim could end"):
        assert_member_list_waits_for_the_claim(w, CUT_S, AGES)
    assert not isinstance(World(WorldConfig(), "survival", 3).ctx.cluster, EarlyMemberListCluster)  # un-planted


def test_the_rule_refuses_a_listener_member_that_publishes_at_the_detection() -> None:
    # hz0 the master: it publishes at the detection — not the case the rule bounds
    with pytest.raises(ValueError, match="is the master or the youngest"):
        assert_member_list_waits_for_the_claim(_every_member_cut((0, 1, 2)), CUT_S, (0, 1, 2))
