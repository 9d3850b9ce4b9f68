"""The always-on liveness check: after every fault heals, the controller regains its posture in bounded time
and then holds it (to the end of the run, or for the scenario's ``[liveness] hold``).

The bound is the scenario's ``[liveness] within`` (default 2 h), fixed before the run: it never
depends on the controller config under test. A run that ends before the bound without the posture
regained, or whose faults never heal, is a LIVENESS failure — never a pass.
"""

from __future__ import annotations

import math

import numpy as np

from .base import CheckResult
from .policy import LivenessPolicy
from .view import RunView, fmt_t, recovered_at

__all__ = ["run_liveness"]

_NAME = "recovers_after_heal"


def run_liveness(run: RunView, policy: LivenessPolicy) -> CheckResult:
    """One liveness result (kind ``liveness``). Without faults the heal time is the start of the run.

    Recovery is :func:`~scenarios.checks.view.recovered_at`: the posture regained after the last drop and held
    to the end of the run (or for ``[liveness] hold``); it must start within the bound after the heal.
    """
    target = policy.posture.name
    if not policy.enabled:
        return CheckResult.passed(_NAME, "liveness", "disabled by the scenario's [liveness] table")
    heal = run.heal_s
    if not math.isfinite(heal):
        never = ", ".join(f.label() for f in run.faults if not f.heals)
        return CheckResult.failed(_NAME, "liveness", math.nan, f"cannot be judged: {never} never heals in this run "
                                  f"(give it a `for`, or set [liveness] enabled = false)")
    bound, hold = policy.within_s, policy.hold_s
    t1 = heal + bound
    held = "to the end of the run" if hold is None else f"for {hold:g} s"
    params = {"posture": target, "heal_s": heal, "bound_s": bound, "hold_s": hold}
    t_rec = recovered_at(run.t, run.posture >= int(policy.posture), heal, run.duration_s, hold)
    if t_rec <= t1:
        return CheckResult.passed(_NAME, "liveness", f"{target} regained {t_rec - heal:.1f} s after the last fault "
                                  f"healed at {fmt_t(heal)} and held {held} (bound {bound:.0f} s)",
                                  {**params, "recovered_s": t_rec})
    j = len(run.t) - 1
    last = f"{run.decisions['posture'][j]} with r_total {run.r[j]:.3g}" if j >= 0 else "no decision"
    if math.isfinite(t_rec):
        return CheckResult.failed(_NAME, "liveness", t1, f"{target} regained and held {held} only at {fmt_t(t_rec)}, "
                                  f"{t_rec - heal:.0f} s after the heal at {fmt_t(heal)} (bound {bound:.0f} s)", params)
    lost = _last_drop(run, int(policy.posture), heal)
    reasons = run.decisions["reasons"][j][:160] if j >= 0 else ""
    if t1 > run.duration_s:
        return CheckResult.failed(_NAME, "liveness", run.duration_s, f"{target} not regained before the run ended at "
                                  f"{fmt_t(run.duration_s)} (held {held}), {run.duration_s - heal:.0f} s after the heal "
                                  f"at {fmt_t(heal)} (bound {bound:.0f} s){lost}: {last}; reasons: {reasons}", params)
    return CheckResult.failed(_NAME, "liveness", t1, f"{target} not regained within {bound:.0f} s of the heal at "
                              f"{fmt_t(heal)} and held {held}{lost}; at the end of the run ({fmt_t(run.duration_s)}): "
                              f"{last}; reasons: {reasons}", params)


def _last_drop(run: RunView, code: int, heal: float) -> str:
    """`` (last below it at <t>: <posture>)`` — the last decision after the heal below the target, if any."""
    below = np.flatnonzero((run.posture < code) & (run.t >= heal))
    if not len(below):
        return ""
    j = int(below[-1])
    return f" (last below it at {fmt_t(run.t[j])}: {run.decisions['posture'][j]})"
