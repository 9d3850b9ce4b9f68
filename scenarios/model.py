"""The validated scenario: what runs (world, controller, faults) and what is judged (checks)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from controller import ControllerConfig
from faults import Fault, FaultModel, NumpyChooser, draw_swarm
from twin import WorldConfig

from .checks import COMPANIONS, LivenessPolicy, SafetyPolicy

__all__ = ["Expectation", "Scenario", "SwarmSpec", "DEFAULT_COMPANIONS"]

DEFAULT_COMPANIONS: tuple[str, ...] = COMPANIONS


@dataclass(frozen=True)
class Expectation:
    """One ``[[expect]]``: the check's name, its parsed parameters and the parameters as written."""

    check: str
    params: Mapping[str, Any]
    raw: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "params": dict(self.raw)}


@dataclass(frozen=True)
class SwarmSpec:
    """A ``[swarm]`` table: faults drawn per seed within a fault model."""

    model: FaultModel

    def draw(self, seed: int, scenario_name: str, world: WorldConfig) -> tuple[Fault, ...]:
        key = int.from_bytes(hashlib.sha256(scenario_name.encode()).digest()[:4], "little")
        gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))
        return draw_swarm(self.model, NumpyChooser(gen), world)

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        return {"kinds": [k.kind for k in m.kinds], "horizon_s": m.horizon_s, "max_rate_per_h": m.max_rate_per_h,
                "enable_ratio": m.enable_ratio, "max_faults": m.max_faults}


@dataclass(frozen=True)
class Scenario:
    """A scenario file, validated. ``faults_for(seed)`` gives the faults of one seed."""

    name: str
    description: str
    file: str
    suite: str
    duration_s: float
    seeds: tuple[int, ...]
    world: WorldConfig
    controller_spec: str
    controller: ControllerConfig
    faults: tuple[Fault, ...] = ()
    swarm: SwarmSpec | None = None
    expectations: tuple[Expectation, ...] = ()
    liveness: LivenessPolicy = field(default_factory=LivenessPolicy)
    safety: SafetyPolicy = field(default_factory=SafetyPolicy)
    companions: tuple[str, ...] = DEFAULT_COMPANIONS
    text: str = field(default="", repr=False, compare=False)
    tags: tuple[str, ...] = ()

    def faults_for(self, seed: int) -> tuple[Fault, ...]:
        if self.swarm is None:
            return self.faults            # file order: expectations refer to fault[i]
        drawn = self.swarm.draw(seed, self.name, self.world)
        return tuple(sorted(self.faults + drawn, key=lambda f: (f.at_s, f.kind, f.target)))

    def companions_needed(self, enabled: bool = True) -> tuple[str, ...]:
        """Companion runs this scenario needs: its own list when ``enabled``, plus those its expectations read."""
        from .checks import EXPECTATIONS

        names = list(self.companions) if enabled else []
        for e in self.expectations:
            param = EXPECTATIONS[e.check].companion_param
            if param and e.params[param] not in names:
                names.append(e.params[param])
        return tuple(n for n in COMPANIONS if n in names)
