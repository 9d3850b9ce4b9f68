"""``nor paper --fault member[<i>]@AT``: a member of the real cluster lost mid-session (SIGKILL).

Paper knows the member's process from the cluster's description: the state file ``nor infra up``
writes (``<NOR_INFRA_CACHE>/run/cluster.json``: addresses and pids), or, in code, a
``LocalCluster.describe()``. Every address in ``NOR_HZ_MEMBERS`` must belong to that cluster (so a
fault never kills a process of another cluster), and the pid is checked against its command line
just before the kill (:func:`infra.control.kill_member`). ``member`` is the last member,
``member<i>`` member ``i``. A lost member is not restarted by the session (``nor infra down`` /
``up``, or ``LocalCluster.heal()``, bring it back), so a member fault has no ``+FOR``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MemberLoss", "is_member_target", "member_actions"]

_MEMBER = re.compile(r"member(\d*)")


class PaperFaultError(ValueError):
    """A fault that cannot be scripted with these settings (invalid input, exit 2)."""


def is_member_target(target: str) -> bool:
    return _MEMBER.fullmatch(target) is not None


class MemberLoss:
    """A :class:`adapters.nautilus.paper_loop.FaultAction`: SIGKILL member ``index`` of ``desc``."""

    def __init__(self, desc: Mapping[str, Any], index: int) -> None:
        self.desc, self.index = dict(desc), index

    def start(self, fault: Any) -> dict:
        from infra.control import kill_member

        pid = kill_member(self.index, self.desc)
        return {"kind": "member_killed", "member": self.index, "address": self.desc["members"][self.index],
                "pid": pid}

    def end(self, fault: Any) -> dict:   # never scheduled: a member fault lasts to the session's end
        return {"kind": "member_killed"}


def _cluster(env: Mapping[str, str], cluster: Mapping[str, Any] | None) -> tuple[dict, str]:
    if cluster is not None:
        return dict(cluster), "the given cluster"
    from infra.control import read_cluster, state_path

    path = state_path(env)
    desc = read_cluster(env)
    if desc is None:
        raise PaperFaultError(f"--fault member: no cluster started by `nor infra up` ({path} does not exist): "
                              "paper kills a member by the pid that file records")
    return desc, str(path)


def member_actions(faults: Sequence[Any], env: Mapping[str, str],
                   cluster: Mapping[str, Any] | None = None) -> dict[str, MemberLoss]:
    """One :class:`MemberLoss` per member target among ``faults`` (raises PaperFaultError, naming
    the option, when the member cannot be known or is not part of ``NOR_HZ_MEMBERS``' cluster)."""
    targets = sorted({f.target for f in faults if is_member_target(f.target)})
    if not targets:
        return {}
    for f in faults:
        if is_member_target(f.target) and f.for_s != float("inf"):
            raise PaperFaultError(f"--fault {f.target}@{f.at_s:g}s+{f.for_s:g}s: a lost member is not restarted "
                                  f"by the session; write {f.target}@AT (no +FOR)")
    desc, where = _cluster(env, cluster)
    known = set(desc.get("members", [])) | set(desc.get("direct_members", []))
    wanted = [a.strip() for a in env.get("NOR_HZ_MEMBERS", "").split(",") if a.strip()]
    strangers = [a for a in wanted if a not in known]
    if strangers:
        raise PaperFaultError(f"--fault member: NOR_HZ_MEMBERS names {', '.join(strangers)}, not a member of "
                              f"{where} ({', '.join(desc.get('members', []))}): paper kills only members of the "
                              "cluster it trades against")
    size = len(desc.get("pids", []))
    actions = {}
    for target in targets:
        digits = _MEMBER.fullmatch(target).group(1)
        index = int(digits) if digits else size - 1
        if not 0 <= index < size:
            raise PaperFaultError(f"--fault {target}: the cluster has members 0..{size - 1}")
        actions[target] = MemberLoss(desc, index)
    return actions
