"""Install a fault schedule into a twin world: every action goes through ``world.ports``.

Each fault is recorded in the trace's ``events`` table: ``fault_start`` when it begins and
``fault_end`` when it heals, with detail ``{"fault": index, "kind": ..., "for_s": ..., "params": ...}``
(target = the fault's target). The components record their own port events as well.
"""

from __future__ import annotations

from typing import Any, Sequence

from .errors import FaultError
from .kinds import KINDS
from .spec import Fault

__all__ = ["Injector", "inject"]

_RAMP_STEPS = 10


class Injector:
    """Schedules start and end actions of faults on a world; keeps one stack of active faults per channel."""

    def __init__(self, world: Any, faults: Sequence[Fault]) -> None:
        self.world = world
        self.faults = tuple(faults)
        self.active: dict[str, list[int]] = {}
        for f in self.faults:
            if f.kind not in KINDS:
                raise FaultError(f"unknown fault kind {f.kind!r}; known: {', '.join(sorted(KINDS))}")
            port = KINDS[f.kind].port(f.target)
            if port not in world.ports:
                raise FaultError(f"fault {f.label()}: the world has no port {port!r}")

    def install(self) -> None:
        """Schedule every start and end (ends first at equal times, then by index)."""
        plan = []
        for i, f in enumerate(self.faults):
            plan.append((f.at_s, 1, i))
            if f.heals:
                plan.append((f.end_s, 0, i))
        for t, is_start, i in sorted(plan):
            self.world.at(t, (lambda i=i: self._start(i)) if is_start else (lambda i=i: self._end(i)))

    def _port(self, f: Fault) -> Any:
        return self.world.ports[KINDS[f.kind].port(f.target)]

    def _top(self, channel: str) -> Fault | None:
        stack = self.active.get(channel)
        return self.faults[stack[-1]] if stack else None

    def _start(self, i: int) -> None:
        f = self.faults[i]
        k = KINDS[f.kind]
        self.world.record_event("fault_start", f.target, fault=i, kind=f.kind, for_s=f.for_s, params=f.params_dict())
        if k.instantaneous:
            k.apply(self._port(f), None, f, self.world.config)
            return
        channel = k.channel(f)
        old = self._top(channel)
        self.active.setdefault(channel, []).append(i)
        if f.kind == "ob_depth_decay" and f.param("ramp_s") > 0:
            self._ramp(i, channel)
            return
        k.apply(self._port(f), old, f, self.world.config)

    def _end(self, i: int) -> None:
        f = self.faults[i]
        k = KINDS[f.kind]
        self.world.record_event("fault_end", f.target, fault=i, kind=f.kind)
        if k.instantaneous:
            return
        channel = k.channel(f)
        stack = self.active.get(channel, [])
        if i not in stack:
            return
        was_top = stack[-1] == i
        stack.remove(i)
        if was_top:
            new = self._top(channel)
            KINDS[(new or f).kind].apply(self._port(f), f, new, self.world.config)

    def _ramp(self, i: int, channel: str) -> None:
        """ob_depth_decay with ramp_s: step the depth factor from 1 down to ``factor``."""
        f = self.faults[i]
        port = self._port(f)
        ramp_s, final = f.param("ramp_s"), f.param("factor")
        for step in range(1, _RAMP_STEPS + 1):
            value = 1.0 + (final - 1.0) * step / _RAMP_STEPS

            def apply(value: float = value) -> None:
                stack = self.active.get(channel)
                if stack and stack[-1] == i:
                    port.set_depth_factor(value)

            if step == 1:
                apply()
            else:
                self.world.at(f.at_s + ramp_s * (step - 1) / (_RAMP_STEPS - 1), apply)


def inject(world: Any, faults: Sequence[Fault]) -> Injector:
    """Schedule ``faults`` on ``world`` (before ``world.run``); returns the injector."""
    injector = Injector(world, faults)
    injector.install()
    return injector
