"""Paths that answer for many keys at once (for speed) say what the one-key paths say, in every cluster state."""

from __future__ import annotations

from twin import World, WorldConfig


def _agrees(world: World, node: str) -> None:
    cluster = world.ctx.cluster
    takes = cluster.writable_members(node)
    keys = [f"ledger.fill.{i}" for i in range(1, 2000)]
    assert len({cluster.partition_id(k) for k in keys}) == cluster.cfg.partitions      # every partition
    for key in keys:
        owner = cluster.owner[cluster.partition_id(key)]
        assert (owner >= 0 and takes[owner]) == (cluster.writable_owner(key, node) is not None), key


def test_writable_members_is_writable_owner_through_deaths_detection_partitions_and_lost_quorum() -> None:
    world = World(WorldConfig.from_mapping({"cluster": {"members": 5}}), "survival", seed=2)
    cluster, net = world.ctx.cluster, world.ctx.network
    world.run(30.0)
    _agrees(world, "agent")
    cluster.kill_member(1)                                   # dead, not yet detected: its partitions take nothing
    _agrees(world, "agent")
    world.run(world.now + 60.0)                               # detected and migrated
    _agrees(world, "agent")
    net.partition([["agent", "hz0", "hz2"], ["hz3", "hz4"]])  # the agent cut from two members
    _agrees(world, "agent")
    _agrees(world, "hz3")
    world.run(world.now + 60.0)                               # the members see the split: quorum lost somewhere
    _agrees(world, "agent")
    _agrees(world, "hz4")
    net.heal()
    cluster.kill_member(0)
    cluster.kill_member(2)
    world.run(world.now + 60.0)
    assert not cluster.quorate
    assert cluster.writable_members("agent") == [False] * 5
    _agrees(world, "agent")
