"""The always-on liveness check: after every fault heals, the controller regains its posture in bounded time."""

from __future__ import annotations

import math

import numpy as np

from .base import CheckResult
from .policy import LivenessPolicy
from .view import RunView, first_true, fmt_t

__all__ = ["liveness_bound_s", "run_liveness"]

_NAME = "recovers_after_heal"


def liveness_bound_s(run: RunView, policy: LivenessPolicy, heal_s: float) -> float:
    """The policy's bound, or: slack + the longest time any layer needs, at its configured recovery rate,
    from its lowest value in the slack period after the heal back to 1."""
    if policy.within_s is not None:
        return policy.within_s
    mask = run.in_window(heal_s, heal_s + policy.slack_s)
    need_min = 0.0
    for layer in run.config.layers:
        col = f"layer.{layer.name}"
        if col in run.decisions and mask.any():
            low = float(np.min(run.decisions[col][mask]))
            need_min = max(need_min, (1.0 - low) / layer.recovery_per_min)
    return policy.slack_s + 60.0 * need_min


def run_liveness(run: RunView, policy: LivenessPolicy) -> CheckResult:
    """One liveness result (kind ``liveness``)."""
    target = policy.posture.name
    if not policy.enabled:
        return CheckResult.passed(_NAME, "liveness", "disabled by the scenario's [liveness] table")
    if not run.faults:
        return CheckResult.passed(_NAME, "liveness", "no faults: nothing to recover from")
    heal = run.heal_s
    if not math.isfinite(heal):
        never = ", ".join(f.label() for f in run.faults if not f.heals)
        return CheckResult.passed(_NAME, "liveness", f"not judged: {never} never heals in this run")
    bound = liveness_bound_s(run, policy, heal)
    t1 = heal + bound
    params = {"posture": target, "heal_s": heal, "bound_s": round(bound, 3)}
    i = first_true(run.in_window(heal, t1) & (run.posture >= int(policy.posture)))
    if i >= 0:
        return CheckResult.passed(_NAME, "liveness", f"{run.decisions['posture'][i]} regained {run.t[i] - heal:.1f} s "
                                  f"after the last fault healed at {fmt_t(heal)} (bound {bound:.0f} s)", params)
    if t1 > run.duration_s:
        return CheckResult.passed(_NAME, "liveness", f"not judged: {target} not yet regained when the run ended "
                                  f"{run.duration_s - heal:.0f} s after the heal; bound {bound:.0f} s", params)
    j = run.decision_at(t1)
    return CheckResult.failed(_NAME, "liveness", t1, f"{target} not regained within {bound:.0f} s of the heal at "
                              f"{fmt_t(heal)}: {run.decisions['posture'][j]} with r_total {run.r[j]:.3f}; "
                              f"reasons: {run.decisions['reasons'][j][:160]}", params)
