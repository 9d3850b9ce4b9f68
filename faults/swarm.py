"""Random fault schedules within a declared fault model ("swarm testing", as in TigerBeetle's VOPR).

Per seed, first draw which fault kinds are enabled and at what rate, then draw the faults. All
draws go through a :class:`Chooser`, so the same code serves a seeded numpy generator (scenario
files with a ``[swarm]`` table) and Hypothesis (``nor explore``, which then shrinks the draws).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from twin import WorldConfig

from .errors import FaultSpecError
from .kinds import KINDS
from .spec import Fault

__all__ = ["Chooser", "NumpyChooser", "KindModel", "FaultModel", "default_fault_model", "draw_swarm",
           "draw_fault", "draw_count_schedule"]


class Chooser(Protocol):
    """A source of bounded draws."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""

    def fraction(self) -> float:
        """A number in [0, 1]."""


class NumpyChooser:
    """Draws from a seeded :class:`numpy.random.Generator` (injected, never global)."""

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen

    def integer(self, lo: int, hi: int) -> int:
        return int(self._gen.integers(lo, hi + 1))

    def fraction(self) -> float:
        return float(self._gen.random())


@dataclass(frozen=True)
class KindModel:
    """How one kind may be drawn: targets (empty: every target of the kind), duration and numeric
    parameter ranges (``(name, lo, hi)``; other parameters keep their defaults)."""

    kind: str
    for_s: tuple[float, float] = (60.0, 1800.0)
    targets: tuple[str, ...] = ()
    params: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True)
class FaultModel:
    """The declared fault model: which kinds, when (``[0, horizon_s)``), how often, how many at most."""

    kinds: tuple[KindModel, ...]
    horizon_s: float = 3600.0
    max_rate_per_h: float = 1.0
    enable_ratio: float = 0.5
    max_faults: int = 6
    source: str = field(default="<fault model>", compare=False)

    @property
    def latest_heal_s(self) -> float:
        """The latest a drawn fault can heal: it starts before ``horizon_s`` and lasts at most its kind's
        longest duration."""
        return self.horizon_s + max((k.for_s[1] for k in self.kinds), default=0.0)

    def restricted(self, names: Sequence[str]) -> "FaultModel":
        """The model with only the kinds in ``names``."""
        known = {k.kind for k in self.kinds}
        for n in names:
            if n not in known:
                raise FaultSpecError(self.source, "swarm.kinds", f"kinds of the fault model ({', '.join(sorted(known))})", n)
        return FaultModel(tuple(k for k in self.kinds if k.kind in names), self.horizon_s, self.max_rate_per_h,
                          self.enable_ratio, self.max_faults, self.source)


_ISOLATE = ("agent", "exchange", "hz0", "sensor.mc_forewarner", "sensor.ob")


def default_fault_model(horizon_s: float = 3600.0) -> FaultModel:
    """Every kind of the vocabulary with ranges that heal within the run (ordered mildest first)."""
    k = KindModel
    return FaultModel((
        k("sensor_stale", (60.0, 3600.0), ("mc_forewarner", "scan", "exf", "esof", "ob")),
        k("sensor_degraded", (300.0, 3600.0), ("mc_forewarner", "scan", "exf", "esof", "ob"),
          (("factor", 0.05, 0.9),)),
        k("ob_latency", (30.0, 1800.0), params=(("latency_ms", 100.0, 5000.0),)),
        k("ob_depth_decay", (300.0, 3600.0), params=(("factor", 0.1, 0.9),)),
        k("link_latency", (30.0, 1800.0), params=(("latency_ms", 10.0, 5000.0),)),
        k("link_loss", (30.0, 1800.0), params=(("loss_ratio", 0.05, 0.9),)),
        k("order_rejects", (60.0, 1800.0), params=(("ratio", 0.1, 1.0),)),
        k("fill_friction", (300.0, 3600.0)),
        k("exf_shock", (300.0, 900.0), params=(("magnitude", 0.2, 1.0),)),
        k("sensor_flap", (120.0, 1800.0), ("mc_forewarner", "scan", "exf", "ob"), (("period_s", 5.0, 120.0),)),
        k("sensor_down", (60.0, 1800.0), ("mc_forewarner", "scan", "exf", "esof", "ob")),
        k("clock_skew", (60.0, 1800.0), params=(("offset_s", -120.0, 120.0),)),
        k("exchange_outage", (30.0, 900.0)),
        k("link_down", (10.0, 900.0)),
        k("node_restart", (10.0, 120.0)),
        k("node_loss", (60.0, 1800.0)),
        k("network_partition", (10.0, 600.0), _ISOLATE),
        k("data_corruption", (10.0, 600.0), ("mc_forewarner", "scan", "exf", "esof", "ob")),
        k("ledger_desync", (10.0, 600.0)),
        k("heartbeat_loss", (5.0, 300.0)),
    ), horizon_s=horizon_s)


def _pick(seq: Sequence[str], chooser: Chooser) -> str:
    return seq[chooser.integer(0, len(seq) - 1)]


def draw_fault(model: KindModel, chooser: Chooser, horizon_s: float, world: WorldConfig,
               at_s: float | None = None) -> Fault:
    """One fault of ``model.kind``: target, start (whole seconds), duration and parameters."""
    k = KINDS[model.kind]
    targets = model.targets or k.targets(world)
    target = _pick(targets, chooser)
    if at_s is None:
        at_s = float(math.floor(chooser.fraction() * horizon_s))
    lo, hi = model.for_s
    for_s = float(round(lo + chooser.fraction() * (hi - lo)))
    ranges = {name: (a, b) for name, a, b in model.params}
    params = []
    for p in k.params:
        value = p.default
        if p.name in ranges:
            a, b = ranges[p.name]
            value = a + chooser.fraction() * (b - a)
            value = int(round(value)) if p.kind == "int" else round(value, 4)
        params.append((p.name, value))
    return Fault(k.name, target, at_s, for_s, tuple(params))


def draw_swarm(model: FaultModel, chooser: Chooser, world: WorldConfig) -> tuple[Fault, ...]:
    """Enabled kinds and their rates first, then Poisson arrivals of each kind in ``[0, horizon_s)``."""
    faults: list[Fault] = []
    enabled = [km for km in model.kinds if chooser.fraction() < model.enable_ratio]
    for km in enabled:
        rate_per_s = chooser.fraction() * model.max_rate_per_h / 3600.0
        if rate_per_s <= 0:
            continue
        t = 0.0
        while True:
            t += -math.log(max(1e-12, 1.0 - chooser.fraction())) / rate_per_s
            if t >= model.horizon_s:
                break
            faults.append(draw_fault(km, chooser, model.horizon_s, world, at_s=float(math.floor(t))))
    faults.sort(key=lambda f: (f.at_s, f.kind, f.target))
    return tuple(faults[: model.max_faults])


def draw_count_schedule(model: FaultModel, chooser: Chooser, world: WorldConfig) -> tuple[Fault, ...]:
    """Enabled kinds first, then a number of faults of those kinds (the form Hypothesis shrinks well:
    fewer faults, earlier kinds of the model, earlier starts, shorter, milder)."""
    enabled = [km for km in model.kinds if chooser.fraction() < model.enable_ratio] or [model.kinds[0]]
    n = chooser.integer(1, model.max_faults)
    faults = [draw_fault(enabled[chooser.integer(0, len(enabled) - 1)], chooser, model.horizon_s, world)
              for _ in range(n)]
    faults.sort(key=lambda f: (f.at_s, f.kind, f.target))
    return tuple(faults)
