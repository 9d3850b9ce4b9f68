"""The twin's wiring as a graph: what every controller signal is derived from, for attribution.

Each component the world builds declares, from its own attributes, what it reads (its ``flows()``):
a sensor service its network node, its clock, the link its records cross and the grid entry they
land in (plus what it captures: the market, the exchange's book feed, the journal entries); the
watchdog which grid entry, clock and client each signal comes from; the client its link and the
members; the agent its exchange session and journal; the cluster its members and the grid. The
world collects them into one :class:`Wiring`. :meth:`Wiring.reach` follows a disturbance from the
parts a fault touches (a port name such as ``sensor.scan`` or ``link.cluster<->agent``, or a part
such as ``member.hz0``, ``node.agent``, ``clock.exf``, ``exchange.book``) to the signals it can move;
the runner records that per fault, and reports credit a reaction to a fault through it. A grid
entry depends on the members holding its partition (:meth:`twin.cluster.Cluster.holders`), so a
member loss moves the quorum, the entries it held (their writes wait for the failover) and the
journal's checksum.

Node names: ``node.<network node>``, ``link.<link>``, ``clock.<component>``, ``sensor.<name>``,
``key.<grid key>``, ``member.<hzN>``, ``client``, ``client.view``, ``market``,
``exchange.book|orders|account``, ``ledger``, ``agent.ledger|journal|equity``, ``signal.<signal>``.

Effects: a disturbance is ``timing`` (records late, lost or missing; a clock offset), ``value``
(what is measured changes: prices, depth, the account) or ``integrity`` (records fail their
checksum). Flows pass every effect, except into a signal that measures time (an age, a latency),
which a value change of its record does not move, and into ``data.checksum_ok`` from a sensor's
records, which only their integrity moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import TwinError

__all__ = ["Flow", "Wiring", "EFFECTS", "TIMING", "VALUE", "INTEGRITY", "ANY", "TIMED", "JOURNAL_KEYS",
           "signal_node"]

TIMING, VALUE, INTEGRITY = "timing", "value", "integrity"
EFFECTS = (TIMING, VALUE, INTEGRITY)
ANY = frozenset(EFFECTS)
TIMED = frozenset((TIMING, INTEGRITY))
"""What reaches a signal that measures time from its record (a corrupt record is skipped, so it ages)."""

JOURNAL_KEYS = "key.ledger.fill.*"
"""The agent's journal entries in the grid (keys ``ledger.fill.<seq>``), as one part."""


def signal_node(signal: str) -> str:
    return f"signal.{signal}"


@dataclass(frozen=True)
class Flow:
    """``dst`` is derived from (or carried by) ``src``; ``carries``: the effects that pass."""

    src: str
    dst: str
    carries: frozenset[str] = ANY


class Wiring:
    """The graph of flows of one world (see the module doc).

    ``signals``: the signal names in their canonical order; ``network_nodes`` and ``observer`` (the
    network node the signals are read on) let a partition name the nodes it cuts off.
    """

    def __init__(self, flows: Iterable[Flow], signals: Sequence[str], *, parts: Iterable[str] = (),
                 network_nodes: Sequence[str] = (), observer: str = "") -> None:
        self.flows = tuple(sorted(set(flows), key=lambda f: (f.src, f.dst, sorted(f.carries))))
        self.signals = tuple(signals)
        self.network_nodes = tuple(network_nodes)
        self.observer = observer
        names = set(parts) | {f.src for f in self.flows} | {f.dst for f in self.flows}
        self.nodes = tuple(sorted(names))
        self._inputs: dict[str, list[Flow]] = {}
        self._outputs: dict[str, list[Flow]] = {}
        for f in self.flows:
            self._inputs.setdefault(f.dst, []).append(f)
            self._outputs.setdefault(f.src, []).append(f)

    def reached(self, touched: Iterable[str], effect: str) -> frozenset[str]:
        """Every node a disturbance of ``effect`` on the ``touched`` nodes reaches (themselves included)."""
        if effect not in EFFECTS:
            raise TwinError(f"wiring: unknown effect {effect!r}; known: {', '.join(EFFECTS)}")
        start = tuple(touched)
        unknown = [n for n in start if n not in self.nodes]
        if unknown:
            raise TwinError(f"wiring: no part named {', '.join(map(repr, unknown))} in this world")
        seen = set(start)
        todo = list(start)
        while todo:
            for f in self._outputs.get(todo.pop(), ()):
                if f.dst in seen or effect not in f.carries:
                    continue
                seen.add(f.dst)
                todo.append(f.dst)
        return frozenset(seen)

    def reach(self, touched: Iterable[str], effect: str) -> tuple[str, ...]:
        """The signals (in canonical order) a disturbance of ``effect`` on ``touched`` can move."""
        seen = self.reached(touched, effect)
        return tuple(s for s in self.signals if signal_node(s) in seen)

    def sources(self, signal: str) -> frozenset[str]:
        """Every part ``signal`` is derived from, through flows of any effect (for inspection)."""
        seen = {signal_node(signal)}
        todo = [signal_node(signal)]
        while todo:
            for f in self._inputs.get(todo.pop(), ()):
                if f.src not in seen:
                    seen.add(f.src)
                    todo.append(f.src)
        return frozenset(seen - {signal_node(signal)})

    def cut_off(self, groups: Sequence[Sequence[str]]) -> tuple[str, ...]:
        """The ``node.<name>`` parts a partition into ``groups`` separates from the observer (names may
        end with ``*`` to match a prefix; nodes in no group form one more group)."""
        def group_of(node: str) -> int:
            for i, g in enumerate(groups):
                if any(node == p or (p.endswith("*") and node.startswith(p[:-1])) for p in g):
                    return i
            return len(groups)

        mine = group_of(self.observer)
        return tuple(f"node.{n}" for n in self.network_nodes if group_of(n) != mine)
