"""The named expectation checks a scenario asks for in its ``[[expect]]`` tables.

Each returns ``(ok, t_s, message)``; ``t_s`` is when it failed (NaN if it passed).
"""

from __future__ import annotations

import math

import numpy as np

from controller import Posture

from .base import ParamSpec as P
from .base import expectation
from .view import RunView, first_true, fmt_t

__all__: list[str] = []

Outcome = tuple[bool, float, str]
_NAN = math.nan
_ALL = None


def _window(run: RunView, window) -> tuple[float, float, np.ndarray]:
    if window is None:
        return 0.0, run.duration_s, np.ones(len(run.t), dtype=bool)
    t0, t1 = (ref.resolve(run.faults, run.duration_s) for ref in window)
    return t0, t1, run.in_window(t0, t1)


def _meets(codes: np.ndarray, posture: Posture, compare: str) -> np.ndarray:
    if compare == "le":
        return codes <= int(posture)
    if compare == "ge":
        return codes >= int(posture)
    return codes == int(posture)


@expectation("posture_never", P("posture", "posture"), P("window", "window", _ALL))
def posture_never(run: RunView, posture: Posture, window) -> Outcome:
    """The controller is never in ``posture`` (within ``window``, default the whole run)."""
    t0, t1, mask = _window(run, window)
    i = first_true(mask & (run.posture == int(posture)))
    if i >= 0:
        return False, run.t[i], f"posture {posture.name} at {fmt_t(run.t[i])} (r_total {run.r[i]:.3f}); " \
                                f"reasons: {run.decisions['reasons'][i][:160]}"
    return True, _NAN, f"never {posture.name} in [{fmt_t(t0)}, {fmt_t(t1)}]"


@expectation("posture_reached", P("posture", "posture"), P("within", "seconds"), P("after", "time", None),
             P("compare", "compare", "eq"))
def posture_reached(run: RunView, posture: Posture, within: float, after, compare: str) -> Outcome:
    """``posture`` (or at most/at least it, with ``compare = le|ge``) is reached within ``within`` of ``after``
    (default: the first fault's start)."""
    t0 = after.resolve(run.faults, run.duration_s) if after is not None else \
        min((f.at_s for f in run.faults), default=0.0)
    if not math.isfinite(t0):
        return False, _NAN, f"the reference time {after} never happens in this run"
    t1 = t0 + within
    mask = run.in_window(t0, t1) & _meets(run.posture, posture, compare)
    i = first_true(mask)
    if i >= 0:
        return True, _NAN, f"{run.decisions['posture'][i]} at {fmt_t(run.t[i])}, {run.t[i] - t0:.1f} s after {fmt_t(t0)}"
    seen = sorted(set(run.decisions["posture"][run.in_window(t0, t1)]))
    return False, min(t1, run.duration_s), (f"{posture.name} ({compare}) not reached in [{fmt_t(t0)}, {fmt_t(t1)}]; "
                                            f"postures seen: {', '.join(seen) or 'none'}")


def _bounds(values: np.ndarray, t: np.ndarray, mask: np.ndarray, lo: float, hi: float, what: str) -> Outcome:
    bad = mask & ((values < lo) | (values > hi) | ~np.isfinite(values))
    i = first_true(bad)
    if i >= 0:
        return False, t[i], f"{what} = {values[i]:.4f} at {fmt_t(t[i])}, outside [{lo:g}, {hi:g}]"
    if not mask.any():
        return True, _NAN, f"no decision in the window ({what} unchecked)"
    return True, _NAN, f"{what} in [{values[mask].min():.4f}, {values[mask].max():.4f}] within [{lo:g}, {hi:g}]"


@expectation("r_total_within", P("window", "window", _ALL), P("min", "fraction", 0.0), P("max", "fraction", 1.0))
def r_total_within(run: RunView, window, min: float, max: float) -> Outcome:  # noqa: A002
    """``r_total`` stays within [min, max] during ``window``."""
    _, _, mask = _window(run, window)
    return _bounds(run.r, run.t, mask, min, max, "r_total")


@expectation("layer_within", P("layer", "layer"), P("window", "window", _ALL), P("min", "fraction", 0.0),
             P("max", "fraction", 1.0))
def layer_within(run: RunView, layer: str, window, min: float, max: float) -> Outcome:  # noqa: A002
    """Layer ``layer``'s multiplier stays within [min, max] during ``window``."""
    if f"layer.{layer}" not in run.decisions:
        return True, _NAN, f"not judged: controller {run.config.name} has no layer {layer}"
    _, _, mask = _window(run, window)
    return _bounds(run.layer(layer), run.t, mask, min, max, f"layer {layer}")


@expectation("max_posture_switches", P("max", "int"), P("window", "window", _ALL), P("per", "seconds", None))
def max_posture_switches(run: RunView, max: int, window, per: float | None) -> Outcome:  # noqa: A002
    """At most ``max`` posture changes in ``window`` — or in any sliding ``per`` interval (anti-chatter)."""
    t0, t1, mask = _window(run, window)
    codes = run.posture
    switch = np.zeros(len(codes), dtype=bool)
    switch[1:] = codes[1:] != codes[:-1]
    times = run.t[switch & mask]
    if per is None:
        if len(times) > max:
            return False, times[max], f"{len(times)} posture switches in [{fmt_t(t0)}, {fmt_t(t1)}] (max {max})"
        return True, _NAN, f"{len(times)} posture switches (max {max})"
    worst = 0
    for i, ts in enumerate(times):
        n = int(np.searchsorted(times, ts + per, side="left")) - i
        worst = n if n > worst else worst
        if n > max:
            return False, times[i + max], f"{n} posture switches within {per:g} s from {fmt_t(ts)} (max {max} per {per:g} s)"
    return True, _NAN, f"at most {worst} posture switches per {per:g} s (max {max})"


@expectation("recovers_to", P("posture", "posture", Posture.APEX), P("within", "seconds"),
             P("after", "time", None))
def recovers_to(run: RunView, posture: Posture, within: float, after) -> Outcome:
    """``posture`` (or better) is regained within ``within`` after ``after`` (default: every fault healed)."""
    t0 = after.resolve(run.faults, run.duration_s) if after is not None else run.heal_s
    if not math.isfinite(t0):
        return False, _NAN, "the faults never heal in this run, so recovery cannot be judged"
    t1 = t0 + within
    if t1 > run.duration_s:
        return False, run.duration_s, f"the run ends at {fmt_t(run.duration_s)}, before the bound {fmt_t(t1)}"
    i = first_true(run.in_window(t0, t1) & (run.posture >= int(posture)))
    if i >= 0:
        return True, _NAN, f"{run.decisions['posture'][i]} regained {run.t[i] - t0:.1f} s after {fmt_t(t0)}"
    j = run.decision_at(t1)
    return False, t1, (f"not back to {posture.name} within {within:g} s of {fmt_t(t0)}: {run.decisions['posture'][j]} "
                       f"r_total {run.r[j]:.3f} at {fmt_t(t1)}")


@expectation("hibernate_within", P("within", "seconds"), P("after", "time", None))
def hibernate_within(run: RunView, within: float, after) -> Outcome:
    """HIBERNATE (r_total 0) within ``within`` of ``after`` (default: the first fault's start)."""
    t0 = after.resolve(run.faults, run.duration_s) if after is not None else \
        min((f.at_s for f in run.faults), default=0.0)
    t1 = t0 + within
    i = first_true(run.in_window(t0, t1) & (run.posture == int(Posture.HIBERNATE)))
    if i >= 0:
        return True, _NAN, f"HIBERNATE {run.t[i] - t0:.1f} s after {fmt_t(t0)} (r_total {run.r[i]:.3f})"
    j = run.decision_at(t1)
    return False, t1, f"no HIBERNATE within {within:g} s of {fmt_t(t0)}; at {fmt_t(t1)}: {run.decisions['posture'][j]}"


@expectation("no_entries_in", P("postures", "postures", (Posture.TURTLE, Posture.HIBERNATE)),
             P("window", "window", _ALL))
def no_entries_in(run: RunView, postures: tuple[Posture, ...], window) -> Outcome:
    """No entry order is sent while the controller is in one of ``postures`` (during ``window``)."""
    t0, t1, _ = _window(run, window)
    o = run.orders
    names = {p.name for p in postures}
    for i in range(len(o.get("id", ()))):
        if o["intent"][i] == "entry" and t0 <= o["t_s"][i] <= t1 and o["posture"][i] in names:
            return False, o["t_s"][i], f"entry order {o['id'][i]} ({o['kind'][i]}) sent in {o['posture'][i]} at {fmt_t(o['t_s'][i])}"
    return True, _NAN, f"no entries in {', '.join(sorted(names))}"


@expectation("pnl_vs_baseline", P("baseline", "companion", "nofault"), P("min_delta", "number", -1.0),
             P("max_delta", "number", 1.0), companion_param="baseline")
def pnl_vs_baseline(run: RunView, baseline: str, min_delta: float, max_delta: float) -> Outcome:
    """Final return minus the ``baseline`` companion's (same seed; fractions of capital) is in [min_delta, max_delta]."""
    comp = run.companions.get(baseline)
    if comp is None:
        return False, _NAN, f"the {baseline} companion run is missing"
    mine = float(run.equity["equity"][-1] / run.capital - 1.0) if len(run.equity.get("equity", ())) else 0.0
    theirs = comp.final_return(run.capital)
    delta = mine - theirs
    text = f"return {mine:+.4%} vs {baseline} {theirs:+.4%}: delta {delta:+.4%} (allowed [{min_delta:+.2%}, {max_delta:+.2%}])"
    if min_delta <= delta <= max_delta:
        return True, _NAN, text
    return False, run.duration_s, text


@expectation("max_drawdown_below", P("max", "fraction"), P("window", "window", _ALL))
def max_drawdown_below(run: RunView, max: float, window) -> Outcome:  # noqa: A002
    """The equity drawdown stays below ``max`` (a fraction) during ``window``."""
    t0, t1, _ = _window(run, window)
    eq = run.equity
    mask = (eq["t_s"] >= t0) & (eq["t_s"] <= t1)
    dd = eq["drawdown"]
    i = first_true(mask & (dd > max))
    if i >= 0:
        return False, eq["t_s"][i], f"drawdown {dd[i]:.2%} at {fmt_t(eq['t_s'][i])} (max {max:.2%})"
    worst = float(dd[mask].max()) if mask.any() else 0.0
    return True, _NAN, f"max drawdown {worst:.2%} (max {max:.2%})"
