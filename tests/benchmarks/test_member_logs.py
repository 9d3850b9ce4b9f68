"""The fidelity bench reads a real cluster's merge layout from its members' logs (lines in the format
the bench's ``java.util.logging`` configuration gives a Hazelcast 5.7.0 member)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import member_logs  # noqa: E402
from merge_twin import address_ranks  # noqa: E402

_P = "[127.0.0.1]:{port} [nor] [5.7.0] "
_J = "com.hazelcast.internal.cluster.impl.TcpIpJoiner"
_M = "com.hazelcast.internal.cluster.impl.MembershipManager"
_H = "com.hazelcast.internal.cluster.impl.ClusterHeartbeatManager"


def _suspect(t: str, port: int, peer: int) -> str:
    return _line(t, _H, port, f"Suspecting Member [127.0.0.1]:{peer} - u9 because it has not sent any heartbeats "
                 "since 2026-11-30 05:45:58.0. Now: 2026-11-30 05:46:03.4, heartbeat timeout: 5000 ms, "
                 "suspicion level: 1.00", "WARNING")


def _line(t: str, logger: str, port: int, msg: str, level: str = "FINE") -> str:
    return f"{t}|{level}|{logger}|" + _P.format(port=port) + msg


def _write(tmp: Path) -> list[int]:
    ports = [49305, 48403, 34769]
    a, b, c = (f"[127.0.0.1]:{p}" for p in ports)
    m0 = [
        _line("05:45:48.883", _J, 49305, f"{a} is local? true"),          # its join: off its grid
        _suspect("05:46:03.371", 49305, 48403),
        _suspect("05:46:03.380", 49305, 34769),
        _line("05:46:03.398", _J, 49305, f"{a} is local? true"),
        _line("05:46:03.401", _J, 49305, f"Sending SplitBrainJoinMessage to {b}"),
        _line("05:46:08.410", _J, 49305, f"Sending SplitBrainJoinMessage to {c}"),
        _line("05:46:13.398", _J, 49305, f"{a} is local? true"),
        _line("05:46:13.401", _J, 49305, f"Sending SplitBrainJoinMessage to {b}"),
        _line("05:46:13.439", "com.hazelcast.core.LifecycleService", 49305, f"{a} is MERGING", "INFO"),
        _line("05:46:13.513", "com.hazelcast.core.LifecycleService", 49305, f"{a} is MERGED", "INFO"),
    ]
    m1 = [
        _suspect("05:45:40.000", 48403, 49305),                             # an earlier fault's: before the cut
        _line("05:45:55.551", _M, 48403, f"Setting members [Member {b} - u1 this, Member {a} - u0], version: 2"),
        _line("05:45:57.705", _M, 48403, f"Setting members [Member {b} - u1 this, Member {a} - u0, Member {c} - u2], "
                                         "version: 3"),
        _suspect("05:46:03.402", 48403, 49305),
        _line("05:46:05.325", _J, 48403, f"{b} is local? true"),
        _line("05:46:05.328", _J, 48403, f"Sending SplitBrainJoinMessage to {c}"),
        _line("05:46:10.419", _J, 48403, f"Sending SplitBrainJoinMessage to {a}"),
        _line("05:46:15.331", _J, 48403, f"{b} is local? true"),
    ]
    m2 = [
        _suspect("05:46:03.389", 34769, 49305),
        _line("05:46:03.389", _M, 34769, f"Member [127.0.0.1]:49305 - u0 is suspected to be dead for reason: "
                                         "Suspecting Member [127.0.0.1]:49305 - u0 because it has not sent any "
                                         "heartbeats since ...", "WARNING"),
        _line("05:46:03.498", _M, 34769, f"Setting members [Member {c} - u2 this], version: 4"),
        _line("05:46:07.466", _J, 34769, f"{c} is local? true"),
        _line("05:46:07.474", _J, 34769, f"Sending SplitBrainJoinMessage to {b}"),
        _line("05:46:12.567", _J, 34769, f"Sending SplitBrainJoinMessage to {a}"),
    ]
    for i, lines in enumerate((m0, m1, m2)):
        (tmp / f"m{i}.log").write_text("\n".join(lines + ["some unrelated line"]) + "\n")
    return ports


def test_the_grids_order_ages_and_joins_come_from_the_member_logs(tmp_path: Path) -> None:
    logs = member_logs.read_logs(tmp_path, _write(tmp_path))
    phase, on, off = member_logs.grid_phase(logs[0], 5.0)
    assert abs(phase - 3.398) < 1e-6 and on == 2 and off < 1e-6       # the join's line left out
    phase, on, off = member_logs.grid_phase(logs[1], 5.0)
    assert abs(phase - 0.328) < 1e-6 and on == 2 and abs(off - 0.003) < 1e-6
    # m1's check goes to m2 before m0, m2's to m1 before m0; m0's two checks see only m1, then m2
    assert member_logs.check_order(logs) == ([1, 2, 0], 0)
    cut = 5 * 3600 + 45 * 60 + 58.0
    assert member_logs.ages_before(logs, cut) == [1, 0, 2]                # m1 the master, m2 the youngest
    assert member_logs.ages_before(logs, cut - 1.0) is None               # no whole list yet at 05:45:57
    assert abs(member_logs.detection_after(logs, cut) - 5.498) < 1e-6     # m2 alone at 05:46:03.498
    # each member's own heartbeat check: m0 first (03.371), m2 18 ms later, m1 31 ms later
    own = member_logs.member_detections_after(logs, cut)
    assert [round(d, 3) for d in own] == [5.371, 5.402, 5.389]
    assert member_logs.member_detections_after(logs, cut + 10.0) is None  # none after 05:46:08
    # m0 waited on m1 from 03.401 to 08.410, m1 on m2 from 05.328 to 10.419, m2 on m1 from 07.474 to 12.567
    assert [round(w, 3) for w in member_logs.connect_waits(logs)] == [5.009, 5.091, 5.093]
    assert [round(j, 3) for j in member_logs.merge_join_times(logs)] == [0.074]
    # Hazelcast compares "[host]:port" strings: 34769 sorts first, 49305 last
    assert address_ranks(["127.0.0.1:49305", "127.0.0.1:48403", "127.0.0.1:34769"]) == (2, 1, 0)
