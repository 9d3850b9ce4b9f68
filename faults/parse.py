"""Validation of plain fault tables (one ``[[fault]]`` of a scenario file) into :class:`Fault`."""

from __future__ import annotations

import math
from typing import Any, Mapping

from controller.strict import did_you_mean
from twin import WorldConfig

from .errors import FaultSpecError
from .kinds import KINDS, network_nodes
from .params import parse_seconds
from .spec import Fault

__all__ = ["parse_fault", "check_fault"]

_FIXED_KEYS = ("kind", "target", "at", "for")


def parse_fault(data: Any, source: str, path: str, world: WorldConfig,
                duration_s: float | None = None) -> Fault:
    """A validated fault from a table ``{kind, target, at, for, <params>}``.

    ``at``/``for`` are seconds or durations (``"1h"``). ``for`` absent: the kind's default
    (``node_restart``: 30 s; ``exf_shock``: the market's crash time × magnitude), else the fault
    never heals. Raises :class:`FaultSpecError` naming ``source``, the field path and what was expected.
    """
    if not isinstance(data, Mapping):
        raise FaultSpecError(source, path, "a table with kind, target, at, for and parameters", data)
    name = data.get("kind")
    k = KINDS.get(name) if isinstance(name, str) else None
    if k is None:
        raise FaultSpecError(source, f"{path}.kind", f"one of {', '.join(sorted(KINDS))}{did_you_mean(name, KINDS)}", name)
    allowed = _FIXED_KEYS + tuple(p.name for p in k.params)
    for key in data:
        if key not in allowed:
            raise FaultSpecError(source, f"{path}.{key}",
                                 f"one of the keys of a {name} fault: {', '.join(allowed)} (unknown key)"
                                 f"{did_you_mean(key, allowed)}")
    target = _target(k, data, source, path, world)
    at_s = parse_seconds(data.get("at"))
    if at_s is None or at_s < 0:
        raise FaultSpecError(source, f"{path}.at", "a start time >= 0 (seconds or a duration like \"1h\")",
                             data.get("at"))
    if duration_s is not None and at_s >= duration_s:
        raise FaultSpecError(source, f"{path}.at", f"a start time before the scenario's end ({duration_s:g} s)",
                             data.get("at"))
    params = tuple((p.name, p.parse(data[p.name], source, f"{path}.{p.name}") if p.name in data else p.default)
                   for p in k.params)
    fault = Fault(name, target, at_s, _for(k, data, params, source, path, world), params)
    check_fault(fault, source, path, world)
    return fault


def _target(k: Any, data: Mapping[str, Any], source: str, path: str, world: WorldConfig) -> str:
    targets = k.targets(world)
    raw = data.get("target", k.default_target)
    if raw is None:
        raise FaultSpecError(source, f"{path}.target", f"one of {', '.join(targets)} (required)")
    if not isinstance(raw, str) or raw not in targets:
        raise FaultSpecError(source, f"{path}.target", f"one of {', '.join(targets)}", raw)
    return raw


def _for(k: Any, data: Mapping[str, Any], params: tuple, source: str, path: str, world: WorldConfig) -> float | None:
    if "for" not in data:
        if k.name == "exf_shock":
            return world.market.shock_crash_s * dict(params)["magnitude"]
        return k.default_for_s
    for_s = parse_seconds(data["for"])
    if for_s is None or for_s < 0 or (for_s == 0 and not k.instantaneous):
        expected = "a duration >= 0" if k.instantaneous else "a duration > 0 (omit `for` for a fault that never heals)"
        raise FaultSpecError(source, f"{path}.for", expected, data["for"])
    return for_s


def check_fault(fault: Fault, source: str, path: str, world: WorldConfig) -> None:
    """Cross-field checks of one fault (ranges that depend on other parameters or the world)."""
    if fault.kind == "network_partition":
        groups = fault.param("groups")
        if fault.target == "network" and not groups:
            raise FaultSpecError(source, f"{path}.groups", "at least one group when the target is \"network\" "
                                                           "(or name a node as the target to isolate it)")
        nodes = network_nodes(world)
        for gi, group in enumerate(groups):
            for ni, pattern in enumerate(group):
                if not any(n == pattern or (pattern.endswith("*") and n.startswith(pattern[:-1])) for n in nodes):
                    raise FaultSpecError(source, f"{path}.groups[{gi}][{ni}]", f"a node name ({', '.join(nodes)}) "
                                         "or a prefix ending in *", pattern)
    if fault.kind == "sensor_degraded" and fault.param("factor") == 1.0 and fault.param("delay_s") == 0.0:
        raise FaultSpecError(source, f"{path}.factor", "a factor < 1 or a delay_s > 0 (this fault does nothing)",
                             1.0)
    if fault.for_s is not None and not math.isfinite(fault.for_s):
        raise FaultSpecError(source, f"{path}.for", "a finite duration", fault.for_s)
