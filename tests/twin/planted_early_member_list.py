"""PLANTED DEFECT (for the planted-defect catalogue): members that publish their new member list at the detection.

``EarlyMemberListCluster`` gives every live member its side's new member list at the failure detection,
ignoring its side's mastership claim — what ``twin/cluster.py`` did before issue 13's claim model (a79b0f4; the
claims still delay the new master's merge checks here, only the member lists ignore them). The twin said 5.0 s
where a client listening on the middle member of a real cluster hears of the loss 10.06 s after every member
link is cut: that member keeps its old list until its claim, waiting ``fetch_member_list_s`` on the youngest
member it cannot reach, ends. A faithful twin must never do this; ``tests/twin/test_planted_early_member_list.py``
shows the fidelity rule that catches it (``assert_member_list_waits_for_the_claim`` in ``tests/twin/fidelity.py``).

Use ``with planted():`` around anything that builds worlds (``twin.World``, ``scenarios.case.simulate``,
a suite run in this process): every world built inside gets the defective cluster.
"""

from __future__ import annotations

from typing import ContextManager

from twin.cluster import Cluster

from tests.twin.planting import planted_component

__all__ = ["EarlyMemberListCluster", "planted"]


class EarlyMemberListCluster(Cluster):
    """Bug: every member publishes its side's new member list at the detection, ignoring its side's mastership claim."""

    def _update_member_views(self) -> None:
        for m in range(len(self.names)):
            if self.alive[m]:
                self._member_views[m] = self._side_members(m)


def planted() -> ContextManager[type[Cluster]]:
    """Worlds built inside use :class:`EarlyMemberListCluster`."""
    return planted_component("cluster_cls", EarlyMemberListCluster)
