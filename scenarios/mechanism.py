"""Fault mechanisms recorded into the manifest, so reports can attribute reactions without the twin.

For every fault: the controller signals it can move and whether the scenario expects the controller
to react to it. A scenario expects a reaction to a fault when one of its reaction checks (a check that
only passes after a drop: a posture reached, HIBERNATE, taker off, no entries, r_total or a layer below
a ``max``) names that fault (``fault[i]`` in its window or ``after``); a reaction check that names no
fault expects a reaction to every fault that reaches a layer of the scenario's controller. No reaction
check: the scenario's intent is "no harm" and not reacting is correct.

The signals are derived, not listed: the fault kind names the parts of the twin it touches and how
(:meth:`faults.FaultKind.acts_on`), and the wiring of a world built from the scenario's ``[world]``
(:func:`twin.wiring_of`, which every component declares) follows them to the signals. The layers of
a controller that read those signals (:func:`fault_layers`) are the fault's layers; reports compose
the same from each controller's recorded config.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from controller import ControllerConfig
from controller.registry import resolve_config
from faults import KINDS, Fault
from twin import WorldConfig, wiring_of

from .model import Expectation

__all__ = ["REACTION_CHECKS", "fault_reach", "fault_signals", "fault_layers", "expects_reaction", "mechanism_entries",
           "companion_configs"]

REACTION_CHECKS = frozenset({"hibernate_within", "posture_reached", "r_total_reaches", "layer_reaches", "taker_off",
                             "no_entries_in"})
"""Checks that pass only when the controller reacted (plus r_total_within / layer_within with a max below 1)."""
_FAULT_REF = re.compile(r"fault\[(\d+)\]")


def fault_reach(fault: Fault, world: WorldConfig) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """``(parts touched, effect, signals)`` of ``fault`` in a world built from ``world`` (see the module doc)."""
    wiring = wiring_of(world)
    parts, effect = KINDS[fault.kind].acts_on(fault, wiring)
    return parts, effect, wiring.reach(parts, effect)


def fault_signals(fault: Fault, world: WorldConfig) -> tuple[str, ...]:
    """The controller signals ``fault`` can move in a world built from ``world``."""
    return fault_reach(fault, world)[2]


def fault_layers(signals: Sequence[str], config: ControllerConfig) -> tuple[str, ...]:
    """The layers of ``config`` that read one of ``signals`` (in the config's order)."""
    wanted = set(signals)
    return tuple(ly.name for ly in config.layers if any(i.signal in wanted for i in ly.inputs))


def _is_reaction(e: Expectation) -> bool:
    if e.check in REACTION_CHECKS:
        return True
    top = e.raw.get("max")
    return e.check in ("r_total_within", "layer_within") and isinstance(top, (int, float)) and top < 1.0


def _refs(e: Expectation) -> set[int]:
    text = " ".join(str(v) for v in e.raw.values())
    return {int(m) for m in _FAULT_REF.findall(text)}


def expects_reaction(expectations: Sequence[Expectation], faults: Sequence[Fault], signals: Sequence[Sequence[str]],
                     config: ControllerConfig) -> list[bool]:
    """Per fault: does the scenario expect the controller to react to it (see the module doc)?"""
    reactions = [e for e in expectations if _is_reaction(e)]
    named = set().union(*(_refs(e) for e in reactions)) if reactions else set()
    unnamed = any(not _refs(e) for e in reactions)
    return [i in named or (unnamed and bool(fault_layers(signals[i], config))) for i in range(len(faults))]


def mechanism_entries(expectations: Sequence[Expectation], faults: Sequence[Fault], world: WorldConfig,
                      config: ControllerConfig) -> list[dict[str, Any]]:
    """``{"touches": [...], "effect": ..., "signals": [...], "expects_reaction": bool}`` per fault, parallel to
    ``faults`` (the parts of the twin it acts on and how, and the signals the wiring carries that to)."""
    reach = [fault_reach(f, world) for f in faults]
    expected = expects_reaction(expectations, faults, [r[2] for r in reach], config)
    return [{"touches": list(parts), "effect": effect, "signals": list(sigs), "expects_reaction": e}
            for (parts, effect, sigs), e in zip(reach, expected)]


def companion_configs(companions: Sequence[str]) -> dict[str, Any]:
    """The controller config of each baseline companion (``nofault`` runs the run's own controller)."""
    return {name: resolve_config(name).to_dict() for name in companions if name != "nofault"}
