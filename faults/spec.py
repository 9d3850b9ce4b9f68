"""A fault: kind, target, start, duration and typed parameters (design §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Fault"]


@dataclass(frozen=True)
class Fault:
    """One fault on one target.

    ``for_s``: how long it lasts; ``None`` means it never heals within the run; ``0.0`` for an
    instantaneous fault. ``params`` holds every parameter of the kind, defaults resolved, in the
    kind's declaration order. Build validated faults with :func:`faults.parse_fault`.
    """

    kind: str
    target: str
    at_s: float
    for_s: float | None
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def end_s(self) -> float:
        """When it heals (``inf`` if never)."""
        return math.inf if self.for_s is None else self.at_s + self.for_s

    @property
    def heals(self) -> bool:
        return self.for_s is not None

    def param(self, name: str) -> Any:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"fault {self.kind} has no parameter {name!r}")

    def params_dict(self) -> dict[str, Any]:
        return {k: ([list(g) for g in v] if isinstance(v, tuple) else v) for k, v in self.params}

    def to_dict(self, duration_s: float | None = None) -> dict[str, Any]:
        """Plain data (the run manifest's form). A fault that never heals is shown lasting until
        ``duration_s`` with ``"heals": false``."""
        for_s = self.for_s
        if for_s is None:
            for_s = max(0.0, (duration_s if duration_s is not None else self.at_s) - self.at_s)
        return {"kind": self.kind, "target": self.target, "at_s": self.at_s, "for_s": for_s,
                "heals": self.heals, "params": self.params_dict()}

    def label(self) -> str:
        return f"{self.kind}({self.target})"
