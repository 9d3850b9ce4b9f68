"""The always-on liveness check: after every fault heals, the controller regains its posture in bounded time.

The bound is the scenario's ``[liveness] within`` (default 2 h), fixed before the run: it never
depends on the controller config under test. A run that ends before the bound without the posture
regained, or whose faults never heal, is a LIVENESS failure — never a pass.
"""

from __future__ import annotations

import math

from .base import CheckResult
from .policy import LivenessPolicy
from .view import RunView, first_true, fmt_t

__all__ = ["run_liveness"]

_NAME = "recovers_after_heal"


def run_liveness(run: RunView, policy: LivenessPolicy) -> CheckResult:
    """One liveness result (kind ``liveness``). Without faults the heal time is the start of the run."""
    target = policy.posture.name
    if not policy.enabled:
        return CheckResult.passed(_NAME, "liveness", "disabled by the scenario's [liveness] table")
    heal = run.heal_s
    if not math.isfinite(heal):
        never = ", ".join(f.label() for f in run.faults if not f.heals)
        return CheckResult.failed(_NAME, "liveness", math.nan, f"cannot be judged: {never} never heals in this run "
                                  f"(give it a `for`, or set [liveness] enabled = false)")
    bound = policy.within_s
    t1 = heal + bound
    params = {"posture": target, "heal_s": heal, "bound_s": bound}
    i = first_true(run.in_window(heal, t1) & (run.posture >= int(policy.posture)))
    if i >= 0:
        return CheckResult.passed(_NAME, "liveness", f"{run.decisions['posture'][i]} regained {run.t[i] - heal:.1f} s "
                                  f"after the last fault healed at {fmt_t(heal)} (bound {bound:.0f} s)", params)
    if t1 > run.duration_s:
        j = len(run.t) - 1
        last = f"{run.decisions['posture'][j]} with r_total {run.r[j]:.3g}" if j >= 0 else "no decision"
        return CheckResult.failed(_NAME, "liveness", run.duration_s, f"{target} not regained before the run ended at "
                                  f"{fmt_t(run.duration_s)}, {run.duration_s - heal:.0f} s after the heal at "
                                  f"{fmt_t(heal)} (bound {bound:.0f} s): {last}", params)
    j = run.decision_at(t1)
    return CheckResult.failed(_NAME, "liveness", t1, f"{target} not regained within {bound:.0f} s of the heal at "
                              f"{fmt_t(heal)}: {run.decisions['posture'][j]} with r_total {run.r[j]:.3f}; "
                              f"reasons: {run.decisions['reasons'][j][:160]}", params)
