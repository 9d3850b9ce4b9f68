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


def test_decision_rows_read_layer_values_as_the_layer_mapping_gives_them() -> None:
    """The recorder reads a survival decision's layers in its compiled order once that order is seen to be its
    own (no mapping built per step): every row holds what ``decision.layers`` maps each layer name to."""
    from controller import SurvivalController, default_config

    class Keeping:                  # the real controller; keeps what it decided
        def __init__(self) -> None:
            self.inner = SurvivalController(default_config())
            self.signal_names = self.inner.signal_names
            self.seen: list = []

        def step(self, now_s: float, signals):
            d = self.inner.step(now_s, signals)
            self.seen.append(d)
            return d

    ctl = Keeping()
    world = World(WorldConfig.from_mapping({"market": {"shock_rate_per_day": 48.0}}), ctl, seed=3)
    table = world.run(1800.0)["decisions"]
    names = world.recorder.layer_names
    assert names == tuple(ctl.seen[0].layers) and table.num_rows == len(ctl.seen)
    rows = list(zip(*[table.column(f"layer.{n}").to_pylist() for n in names]))
    assert rows == [tuple(d.layers[n] for n in names) for d in ctl.seen]
    assert any(v < 1.0 for row in rows for v in row)          # some layer moved: the values are read, not constant
