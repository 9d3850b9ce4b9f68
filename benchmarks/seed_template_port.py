"""A faithful plain-Python port of the spec's first survival-controller template (4 layers).

Kept only as a speed reference for ``controller_bench.py``: raw exponentials without
deadbands, the un-normalised capital sigmoid ``1/(1+e^{k(DD-mid)})``, fast attack / slow
recovery, fixed posture thresholds. Not used by the project's code.
"""

from __future__ import annotations

import math
from typing import Mapping


class SeedTemplatePort:
    """The spec's seed template, one Python object, no numba."""

    RECOVERY_PER_S = 0.01 / 60.0

    def __init__(self) -> None:
        self.damped = {"infrastructure": 1.0, "mc_forewarner": 1.0, "ob_streamer": 1.0, "capital": 1.0}
        self.last_t: float | None = None

    def _raw(self, s: Mapping[str, float]) -> dict[str, float]:
        infra = 1.0 if s.get("hz.quorum", 0.0) > 0.5 and s.get("heartbeat.age_s", math.inf) <= 30.0 else 0.0
        mc = math.exp(-0.001 * s.get("mc_forewarner.age_s", math.inf))
        ob = math.exp(-math.log(2) / 60.0 * s.get("ob.age_s", math.inf))
        dd = s.get("portfolio.drawdown", 1.0)
        capital = 1.0 / (1.0 + math.exp(15.0 * (dd - 0.15)))
        return {"infrastructure": infra, "mc_forewarner": mc, "ob_streamer": ob, "capital": capital}

    def step(self, now_s: float, signals: Mapping[str, float]) -> tuple[float, str]:
        dt = 0.0 if self.last_t is None else max(0.0, now_s - self.last_t)
        self.last_t = now_s
        r = 1.0
        for name, raw in self._raw(signals).items():
            prev = self.damped[name]
            value = raw if raw < prev else min(raw, prev + self.RECOVERY_PER_S * dt)
            self.damped[name] = value
            r *= value
        if self.damped["infrastructure"] == 0.0:
            return 0.0, "HIBERNATE"
        posture = "APEX" if r >= 0.92 else "STALKER" if r >= 0.65 else "TURTLE" if r >= 0.25 else "HIBERNATE"
        return r, posture
