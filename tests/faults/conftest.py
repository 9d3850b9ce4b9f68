"""Fixtures for fault tests: run a real twin world with a list of fault tables."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from faults import Injector, inject, parse_fault
from twin import World, WorldConfig


class Ran:
    """A finished world with its faults and trace columns."""

    def __init__(self, world: World, injector: Injector, until_s: float) -> None:
        self.world = world
        self.injector = injector
        self.trace = world.run(until_s)

    def col(self, table: str, name: str) -> np.ndarray:
        return np.asarray(self.trace.tables[table].column(name).to_pylist())

    def obs(self, signal: str, t0: float, t1: float) -> np.ndarray:
        t = self.col("signals_observed", "t_s")
        return self.col("signals_observed", signal)[(t >= t0) & (t <= t1)]

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.trace.tables["events"].to_pylist() if e["kind"] == kind]


@pytest.fixture()
def run_faults() -> Callable[..., Ran]:
    def run(tables: list[dict[str, Any]], until_s: float, seed: int = 1, controller: Any = "survival",
            world: WorldConfig | None = None) -> Ran:
        cfg = world or WorldConfig()
        faults = [parse_fault(t, "test", f"fault[{i}]", cfg, until_s) for i, t in enumerate(tables)]
        w = World(cfg, controller, seed)
        return Ran(w, inject(w, faults), until_s)

    return run
