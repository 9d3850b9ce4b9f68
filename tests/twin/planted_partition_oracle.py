"""PLANTED DEFECT (for the planted-defect catalogue): a client with a partition oracle.

``PartitionOracleClient`` reports ``hz.quorum`` from the true network and member state — what
``twin/client.py`` did before issue 10 (``reaches_member()``): the agent learns of a partition
the instant it happens instead of from its client's heartbeat timeout or a membership event.
A faithful twin must never do this; ``tests/twin/test_planted_partition_oracle.py`` shows the
fidelity rule that catches it (``assert_quorum_waits_for_the_client`` in ``test_no_oracles.py``).

Use ``with planted():`` around anything that builds worlds (``twin.World``, ``scenarios.case.simulate``,
a suite run in this process): every world built inside gets the defective client.
"""

from __future__ import annotations

from typing import ContextManager

from twin.client import Client

from tests.twin.planting import planted_component

__all__ = ["PartitionOracleClient", "planted"]


class PartitionOracleClient(Client):
    """Bug: the agent's client reports ``hz.quorum`` from the true network (an oracle): a cut is known at once."""

    def quorum_ok(self) -> bool:
        cluster, net = self.ctx.cluster, self.ctx.network
        reaches = self.link.is_up and any(cluster.alive[m] and net.can_reach("agent", cluster.names[m])
                                          for m in cluster.view)
        return self.connected and cluster.quorate and reaches


def planted() -> ContextManager[type[Client]]:
    """Worlds built inside use :class:`PartitionOracleClient`."""
    return planted_component("client_cls", PartitionOracleClient)
