"""Which controller signals each fault port can move: the twin's wiring, as data for attribution.

Every signal the watchdog produces comes from one source: a sensor service's record read through
the grid (its age and payload), the client's view of the cluster (quorum), the agent's
reconciliation with the exchange account (ledger) or the agent's own equity (drawdown).
:func:`port_signals` follows a port to those sources: a fault on a sensor, on the link carrying
its records or on its network node moves that sensor's signals; a member loss moves the quorum;
the agent's own link or node moves everything it reads through the grid. Reports use it to tell
which fault a controller reaction belongs to (the layers that read these signals).
"""

from __future__ import annotations

from typing import Any, Sequence

from .watchdog import SIGNALS

__all__ = ["SENSOR_SIGNALS", "GRID_SIGNALS", "port_signals"]

SENSOR_SIGNALS: dict[str, tuple[str, ...]] = {
    "scan": ("scan.age_s",),
    "ob": ("ob.age_s", "ob.latency_ms", "ob.depth_ratio"),
    "mc_forewarner": ("mc_forewarner.age_s",),
    "exf": ("exf.age_s", "exf.shock"),
    "esof": ("esof.age_s",),
    "ledger_checksum": ("data.checksum_ok",),
    "heartbeat": ("heartbeat.age_s",),
}
"""Sensor service -> the signals the watchdog derives from its records (ages are the agent's clock
minus the record's stamp; a record failing its checksum breaks ``data.checksum_ok``)."""
GRID_SIGNALS: tuple[str, ...] = tuple(s for sigs in SENSOR_SIGNALS.values() for s in sigs) + ("hz.quorum",)
"""Every signal the agent reads through its cluster client."""
_EXCHANGE_BOOK = SENSOR_SIGNALS["ob"]


def _node_signals(node: str) -> tuple[str, ...]:
    if node.startswith("sensor."):
        return SENSOR_SIGNALS.get(node[len("sensor."):], ())
    if node.startswith("hz"):
        return ("hz.quorum",)
    if node == "agent":
        return GRID_SIGNALS + ("ledger.consistent",)
    if node == "exchange":
        return _EXCHANGE_BOOK + ("ledger.consistent",)
    return ()


def _link_signals(link: str) -> tuple[str, ...]:
    if link.startswith("sensor.") and link.endswith("->cluster"):
        return SENSOR_SIGNALS.get(link[len("sensor."):-len("->cluster")], ())
    if link == "cluster<->agent":
        return GRID_SIGNALS
    if link == "agent<->exchange":
        return ("ledger.consistent",)
    if link == "exchange->sensor.ob":
        return _EXCHANGE_BOOK
    return ()


def _partition_signals(target: str, groups: Sequence[Sequence[str]], nodes: Sequence[str]) -> tuple[str, ...]:
    """Signals of every node cut off from the agent (a node target is isolated from all others)."""
    split = [list(g) for g in groups]
    if target not in ("", "network"):
        split = [[target]] + split

    def group_of(node: str) -> int:
        for i, g in enumerate(split):
            if any(node == p or (p.endswith("*") and node.startswith(p[:-1])) for p in g):
                return i
        return len(split)

    agent = group_of("agent")
    out: list[str] = []
    for node in nodes:
        if node != "agent" and group_of(node) != agent:
            out.extend(_node_signals(node))
    members = [n for n in nodes if n.startswith("hz")]
    if members and all(group_of(n) != agent for n in members):
        out.extend(GRID_SIGNALS)          # the whole grid is out of the agent's reach
    return tuple(out)


def port_signals(port: str, kind: str, target: str, params: dict[str, Any], nodes: Sequence[str]) -> tuple[str, ...]:
    """The signals (of :data:`SIGNALS`, in that order) a fault of ``kind`` on ``port`` can move.

    ``target`` and ``params`` are the fault's; ``nodes`` the world's network nodes (for partitions).
    A fault that only changes how orders fill (rejects, friction) moves no signal the controller reads.
    """
    found: tuple[str, ...] = ()
    if port.startswith("sensor."):
        name = port[len("sensor."):]
        found = SENSOR_SIGNALS.get(name, ()) + (("data.checksum_ok",) if kind == "data_corruption" else ())
    elif port.startswith("link."):
        found = _link_signals(port[len("link."):])
    elif port == "network":
        found = _partition_signals(target, params.get("groups", ()) or (), nodes)
    elif port == "cluster":
        found = ("hz.quorum",)
    elif port == "clock":
        found = (GRID_SIGNALS if target == "agent" else SENSOR_SIGNALS.get(target, ()))
    elif port == "ledger":
        found = ("ledger.consistent", "data.checksum_ok")
    elif port == "market":
        found = ("exf.shock", "ob.depth_ratio", "portfolio.drawdown")
    elif port == "exchange":
        found = {"exchange_outage": _EXCHANGE_BOOK, "ob_depth_decay": ("ob.depth_ratio",)}.get(kind, ())
    wanted = set(found)
    return tuple(s for s in SIGNALS if s in wanted)
