"""Fidelity rules of the twin that tests (and the planted-defect catalogue) assert on a run."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twin import World

__all__ = ["first_quorum_drop_s", "assert_quorum_waits_for_the_client"]


def first_quorum_drop_s(trace: Any, after_s: float) -> float:
    """Time of the first step after ``after_s`` whose observed hz.quorum is 0 (inf if none)."""
    obs = trace.tables["signals_observed"]
    t = np.asarray(obs.column("t_s").to_pylist())
    q = np.asarray(obs.column("hz.quorum").to_pylist())
    hit = np.flatnonzero((t >= after_s) & (q < 0.5))
    return float(t[hit[0]]) if len(hit) else math.inf


def assert_quorum_waits_for_the_client(world: World, cut_s: float) -> float:
    """Fidelity rule: after a cut between the agent and every member at ``cut_s``, the agent can only learn
    of it from its client's heartbeat timeout — hz.quorum must not drop earlier. Returns the drop time."""
    drop = first_quorum_drop_s(world.trace(), cut_s)
    timeout = world.config.cluster.client_heartbeat_timeout_s
    assert drop >= cut_s + timeout - world.config.agent.step_interval_s, (
        f"hz.quorum dropped {drop - cut_s:.2f} s after the cut, before the client's heartbeat timeout ({timeout:g} s)")
    return drop
