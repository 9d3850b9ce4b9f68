"""The planted partition oracle is caught: hz.quorum may not drop before the client's heartbeat timeout."""

from __future__ import annotations

import pytest

from tests.twin.fidelity import assert_quorum_waits_for_the_client
from tests.twin.planted_partition_oracle import PartitionOracleClient, planted
from twin import World, WorldConfig


def _partitioned_world() -> World:
    w = World(WorldConfig(), "survival", 5)
    w.at(600.0, lambda: w.ports["network"].partition([["agent"], ["hz*"]]))
    w.run(700.0)
    return w


def test_the_faithful_client_passes_the_fidelity_rule() -> None:
    assert_quorum_waits_for_the_client(_partitioned_world(), 600.0)


def test_the_partition_oracle_is_caught_by_the_fidelity_rule() -> None:
    with planted():
        w = _partitioned_world()
    assert isinstance(w.client, PartitionOracleClient)
    with pytest.raises(AssertionError, match="before the client's heartbeat timeout"):
        assert_quorum_waits_for_the_client(w, 600.0)
    assert not isinstance(World(WorldConfig(), "survival", 5).client, PartitionOracleClient)   # un-planted after
