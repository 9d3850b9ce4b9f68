"""What a real cluster's member logs say about its merges: each member's merge-tick grid, the checks'
address order, the members' ages, and the merge decision -> merged times (for ``fidelity_bench``).

The members log through ``java.util.logging`` with millisecond timestamps (:data:`LOGGING_PROPERTIES`,
given to the JVM by ``JAVA_TOOL_OPTIONS``), ``com.hazelcast.internal.cluster.impl`` at FINE:

* ``TcpIpJoiner`` logs ``<address> is local? true`` for its own address each time a master's split-brain
  check starts (``getPossibleAddresses``; a non-master's tick does nothing), then ``Sending
  SplitBrainJoinMessage to <address>`` for each address it goes through, in its order;
* ``MembershipManager`` logs ``Setting members [Member <address> - <uuid>, ...]`` with the member list in
  join order, the master (the oldest) first;
* the lifecycle service logs ``<address> is MERGING`` / ``is MERGED``;
* ``ClusterHeartbeatManager`` logs ``Suspecting Member <address> ... because it has not sent any heartbeats``
  (WARNING) when the member's own heartbeat check notices a silent peer: its detection.

Times are seconds of the day (the log's clock, the same wall clock as ``time.time()``).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LOGGING_PROPERTIES", "MemberLog", "read_logs", "grid_phase", "check_order", "ages_before",
           "detection_after", "member_detections_after", "connect_waits", "merge_join_times", "seconds_of_day"]

LOGGING_PROPERTIES = """handlers=java.util.logging.ConsoleHandler
java.util.logging.ConsoleHandler.level=FINE
java.util.logging.ConsoleHandler.formatter=java.util.logging.SimpleFormatter
java.util.logging.SimpleFormatter.format=%1$tT.%1$tL|%4$s|%3$s|%5$s%6$s%n
.level=INFO
com.hazelcast.internal.cluster.impl.level=FINE
"""

_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3})\|(\w+)\|([\w.$]+)\|(.*)$")
_ADDR = r"\[127\.0\.0\.1\]:(\d+)"
_TICK = re.compile(_ADDR + r" is local\? true")
_SEND = re.compile(r"Sending SplitBrainJoinMessage to " + _ADDR)
_MEMBERS = re.compile(r"Setting members \[(.*)\], version")
_LIFE = re.compile(_ADDR + r" is (MERGING|MERGED)\s*$")
_SUSPECT = re.compile(r"Suspecting Member " + _ADDR + r" .*has not sent any heartbeats")


def seconds_of_day(wall_s: float) -> float:
    """``time.time()`` as the members' log clock reads it (local time, seconds since midnight)."""
    import time
    t = time.localtime(wall_s)
    return t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec + (wall_s % 1.0)


@dataclass
class MemberLog:
    """One member's merge-related log lines (instants in seconds of the day)."""

    port: int                                   # its advertised member port
    ticks: list[float] = field(default_factory=list)
    sends: list[tuple[float, int]] = field(default_factory=list)        # (instant, target port)
    member_lists: list[tuple[float, list[int]]] = field(default_factory=list)
    lifecycle: list[tuple[float, str]] = field(default_factory=list)    # (instant, MERGING/MERGED)
    suspicions: list[float] = field(default_factory=list)               # its heartbeat check suspects a peer


def read_logs(workdir: Path, ports: list[int]) -> list[MemberLog]:
    """The logs ``m0.log``, ``m1.log``, ... of members advertising ``ports`` (index order)."""
    out = []
    for i, port in enumerate(ports):
        log = MemberLog(port)
        path = workdir / f"m{i}.log"
        for line in (path.read_text(errors="replace").splitlines() if path.exists() else ()):
            m = _LINE.match(line)
            if not m:
                continue
            t = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) + int(m[4]) / 1000.0
            msg, logger = m[7], m[6]
            if logger.endswith("TcpIpJoiner"):
                if (x := _TICK.search(msg)) and int(x[1]) == port:
                    log.ticks.append(t)
                elif x := _SEND.search(msg):
                    log.sends.append((t, int(x[1])))
            elif logger.endswith("MembershipManager") and (x := _MEMBERS.search(msg)):
                log.member_lists.append((t, [int(p) for p in re.findall(_ADDR, x[1])]))
            elif logger.endswith("ClusterHeartbeatManager") and _SUSPECT.search(msg):
                log.suspicions.append(t)
            elif (x := _LIFE.search(msg)) and int(x[1]) == port:
                log.lifecycle.append((t, x[2]))
        out.append(log)
    return out


def grid_phase(log: MemberLog, period_s: float, tolerance_s: float = 0.1) -> tuple[float, int, float]:
    """The member's merge-tick grid: (phase in [0, period) — its ticks' instants modulo the period —, the
    ticks on it, the largest distance of one of them from it). Instants more than ``tolerance_s`` off
    the grid (its joins also log ``is local?``) are left out."""
    if not log.ticks:
        return math.nan, 0, math.nan
    def off(t: float, ph: float) -> float:
        d = (t - ph) % period_s
        return min(d, period_s - d)
    # the phase that most ticks lie close to, refined by their median offset
    best = max((t % period_s for t in log.ticks), key=lambda ph: sum(off(t, ph) <= tolerance_s for t in log.ticks))
    on = [t for t in log.ticks if off(t, best) <= tolerance_s]
    shift = statistics.median(((t - best + period_s / 2) % period_s) - period_s / 2 for t in on)
    phase = (best + shift) % period_s
    return phase, len(on), max(off(t, phase) for t in on)


def check_order(logs: list[MemberLog]) -> tuple[list[int], int]:
    """The checks' address order as member indexes (first first) and how many observed pairs contradict
    it: every check's sends (between two of a member's ticks) vote for the order of each pair."""
    index = {log.port: i for i, log in enumerate(logs)}
    before: dict[tuple[int, int], int] = {}
    for log in logs:
        bounds = log.ticks + [math.inf]
        k = 0
        check: list[int] = []
        for t, port in log.sends:
            while t >= bounds[k]:
                _vote(check, before)
                check, k = [], k + 1
            if port in index and index[port] not in check:
                check.append(index[port])
        _vote(check, before)
    n = len(logs)
    wins = [sum(before.get((a, b), 0) > before.get((b, a), 0) for b in range(n) if b != a) for a in range(n)]
    order = sorted(range(n), key=lambda a: (-wins[a], a))
    place = {m: k for k, m in enumerate(order)}
    contradictions = sum(c for (a, b), c in before.items() if place[a] > place[b])
    return order, contradictions


def _vote(check: list[int], before: dict[tuple[int, int], int]) -> None:
    for i, a in enumerate(check):
        for b in check[i + 1:]:
            before[(a, b)] = before.get((a, b), 0) + 1


def ages_before(logs: list[MemberLog], t: float) -> list[int] | None:
    """Each member's age (0: the master) in the last whole member list any member set before ``t``."""
    latest = None
    for log in logs:
        for at, ports in log.member_lists:
            if at < t and len(ports) == len(logs) and (latest is None or at > latest[0]):
                latest = (at, ports)
    if latest is None:
        return None
    place = {p: k for k, p in enumerate(latest[1])}
    try:
        return [place[log.port] for log in logs]
    except KeyError:
        return None


def detection_after(logs: list[MemberLog], t: float) -> float | None:
    """Seconds from ``t`` until the first member sets a member list without some member (the first
    detection after a cut at ``t``), or None."""
    n = len(logs)
    found = [at for log in logs for at, ports in log.member_lists if at > t and len(ports) < n]
    return min(found) - t if found else None


def member_detections_after(logs: list[MemberLog], t: float, within_s: float = 30.0) -> list[float] | None:
    """Each member's own detection after a cut at ``t``: seconds until its heartbeat check first suspects a
    peer (within ``within_s``), or None if some member logged none."""
    out = []
    for log in logs:
        found = [at for at in log.suspicions if t < at <= t + within_s]
        if not found:
            return None
        out.append(min(found) - t)
    return out


def connect_waits(logs: list[MemberLog], low_s: float = 4.0, high_s: float = 6.0) -> list[float]:
    """The waits of checks on an address they could not reach: from a send to the same check's next send,
    where that lies between ``low_s`` and ``high_s`` (shorter: the address answered or connected first)."""
    out = []
    for log in logs:
        ev = sorted([(t, 0) for t in log.ticks] + [(t, 1) for t, _ in log.sends])
        out += [t2 - t1 for (t1, a), (t2, b) in zip(ev, ev[1:]) if a == b == 1 and low_s < t2 - t1 < high_s]
    return out


def merge_join_times(logs: list[MemberLog]) -> list[float]:
    """Each member's MERGING -> MERGED (s)."""
    out = []
    for log in logs:
        start = None
        for t, what in log.lifecycle:
            if what == "MERGING":
                start = t
            elif start is not None:
                out.append((t - start) % 86400.0)
                start = None
    return out
