"""The named expectation checks a scenario asks for in its ``[[expect]]`` tables.

Each returns ``(ok, t_s, message)``; ``t_s`` is when it failed (NaN if it passed). An expectation that
cannot judge the run (a layer the controller lacks, a window outside the run or with no decision, a
missing companion) raises :class:`NotJudged` and so FAILS with the reason: nothing passes unchecked.
"""

from __future__ import annotations

import math

import numpy as np

from controller import Posture

from ..timeref import TimeRef
from .base import NotJudged, expectation
from .base import ParamSpec as P
from .view import RunView, first_true, fmt_t, recovered_at

__all__: list[str] = []

Outcome = tuple[bool, float, str]
_NAN = math.nan
_ALL = None
FIRST_FAULT = TimeRef("faults.start", text="faults.start")
ALL_HEALED = TimeRef("faults.end", text="faults.end")


def _span(run: RunView, t0: float, t1: float) -> np.ndarray:
    """Mask of the decisions in ``[t0, t1]``; :class:`NotJudged` unless that span lies inside the run and
    holds at least one decision."""
    shown = f"[{fmt_t(t0)}, {fmt_t(t1)}]"
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise NotJudged(f"the window {shown} refers to a heal that never happens in this run")
    if t0 < 0.0 or t1 > run.duration_s or t0 > t1:
        raise NotJudged(f"the window {shown} is not inside the run [0, {fmt_t(run.duration_s)}]")
    mask = run.in_window(t0, t1)
    if not mask.any():
        raise NotJudged(f"no decision in the window {shown}")
    return mask


def _window(run: RunView, window) -> tuple[float, float, np.ndarray]:
    if window is None:
        return _window_of(run, 0.0, run.duration_s)
    t0, t1 = (ref.resolve(run.faults, run.duration_s) for ref in window)
    return _window_of(run, t0, t1)


def _window_of(run: RunView, t0: float, t1: float) -> tuple[float, float, np.ndarray]:
    return t0, t1, _span(run, t0, t1)


def _after(run: RunView, after: TimeRef, within: float) -> tuple[float, float, np.ndarray]:
    t0 = after.resolve(run.faults, run.duration_s)
    return _window_of(run, t0, t0 + within)


def _layer(run: RunView, layer: str) -> np.ndarray:
    if f"layer.{layer}" not in run.decisions:
        have = ", ".join(run.layer_names()) or "none"
        raise NotJudged(f"controller {run.config.name} has no layer {layer} (its layers: {have})")
    return run.layer(layer)


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


@expectation("posture_reached", P("posture", "posture"), P("within", "seconds"), P("after", "time", FIRST_FAULT),
             P("compare", "compare", "eq"))
def posture_reached(run: RunView, posture: Posture, within: float, after: TimeRef, compare: str) -> Outcome:
    """``posture`` (or at most/at least it, with ``compare = le|ge``) is reached within ``within`` of ``after``
    (default: the first fault's start)."""
    t0, t1, window = _after(run, after, within)
    i = first_true(window & _meets(run.posture, posture, compare))
    if i >= 0:
        return True, _NAN, f"{run.decisions['posture'][i]} at {fmt_t(run.t[i])}, {run.t[i] - t0:.1f} s after {fmt_t(t0)}"
    seen = sorted(set(run.decisions["posture"][window]))
    return False, t1, (f"{posture.name} ({compare}) not reached in [{fmt_t(t0)}, {fmt_t(t1)}]; "
                       f"postures seen: {', '.join(seen)}")


def _bounds(values: np.ndarray, t: np.ndarray, mask: np.ndarray, lo: float, hi: float, what: str) -> Outcome:
    bad = mask & ((values < lo) | (values > hi) | ~np.isfinite(values))
    i = first_true(bad)
    if i >= 0:
        return False, t[i], f"{what} = {values[i]:.4f} at {fmt_t(t[i])}, outside [{lo:g}, {hi:g}]"
    return True, _NAN, f"{what} in [{values[mask].min():.4f}, {values[mask].max():.4f}] within [{lo:g}, {hi:g}]"


def _reaches(values: np.ndarray, t: np.ndarray, mask: np.ndarray, t0: float, t1: float, lo: float, hi: float,
             what: str) -> Outcome:
    i = first_true(mask & (values >= lo) & (values <= hi))
    if i >= 0:
        return True, _NAN, f"{what} = {values[i]:.4f} at {fmt_t(t[i])}, within [{lo:g}, {hi:g}]"
    return False, t1, (f"{what} never within [{lo:g}, {hi:g}] in [{fmt_t(t0)}, {fmt_t(t1)}]: it stayed in "
                       f"[{values[mask].min():.4f}, {values[mask].max():.4f}]")


@expectation("r_total_within", P("window", "window", _ALL), P("min", "fraction", 0.0), P("max", "fraction", 1.0))
def r_total_within(run: RunView, window, min: float, max: float) -> Outcome:  # noqa: A002
    """``r_total`` stays within [min, max] during ``window`` (every step)."""
    _, _, mask = _window(run, window)
    return _bounds(run.r, run.t, mask, min, max, "r_total")


@expectation("layer_within", P("layer", "layer"), P("window", "window", _ALL), P("min", "fraction", 0.0),
             P("max", "fraction", 1.0))
def layer_within(run: RunView, layer: str, window, min: float, max: float) -> Outcome:  # noqa: A002
    """Layer ``layer``'s multiplier stays within [min, max] during ``window`` (every step)."""
    values = _layer(run, layer)
    _, _, mask = _window(run, window)
    return _bounds(values, run.t, mask, min, max, f"layer {layer}")


@expectation("r_total_reaches", P("window", "window", _ALL), P("min", "fraction", 0.0), P("max", "fraction", 1.0))
def r_total_reaches(run: RunView, window, min: float, max: float) -> Outcome:  # noqa: A002
    """``r_total`` is within [min, max] at least once during ``window`` (a reaction happened)."""
    t0, t1, mask = _window(run, window)
    return _reaches(run.r, run.t, mask, t0, t1, min, max, "r_total")


@expectation("layer_reaches", P("layer", "layer"), P("window", "window", _ALL), P("min", "fraction", 0.0),
             P("max", "fraction", 1.0))
def layer_reaches(run: RunView, layer: str, window, min: float, max: float) -> Outcome:  # noqa: A002
    """Layer ``layer``'s multiplier is within [min, max] at least once during ``window``."""
    values = _layer(run, layer)
    t0, t1, mask = _window(run, window)
    return _reaches(values, run.t, mask, t0, t1, min, max, f"layer {layer}")


@expectation("taker_off", P("window", "window", _ALL))
def taker_off(run: RunView, window) -> Outcome:
    """No decision in ``window`` allows taker (aggressive) entries: passive quoting only."""
    t0, t1, mask = _window(run, window)
    i = first_true(mask & run.decisions["taker_allowed"].astype(bool))
    if i >= 0:
        return False, run.t[i], f"taker entries allowed at {fmt_t(run.t[i])} ({run.decisions['posture'][i]}, " \
                                f"r_total {run.r[i]:.3f})"
    return True, _NAN, f"taker off at all {int(mask.sum())} steps in [{fmt_t(t0)}, {fmt_t(t1)}]"


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
             P("after", "time", ALL_HEALED), P("hold", "seconds", None))
def recovers_to(run: RunView, posture: Posture, within: float, after: TimeRef, hold: float | None) -> Outcome:
    """``posture`` (or better) is regained within ``within`` after ``after`` (default: every fault healed) and then
    held — to the end of the run, or for ``hold`` (see :func:`~scenarios.checks.view.recovered_at`)."""
    t0, t1, _ = _after(run, after, within)
    held = "to the end of the run" if hold is None else f"for {hold:g} s"
    t_rec = recovered_at(run.t, run.posture >= int(posture), t0, run.duration_s, hold)
    if t_rec <= t1:
        return True, _NAN, f"{posture.name} regained {t_rec - t0:.1f} s after {fmt_t(t0)} and held {held}"
    j = len(run.t) - 1
    when = f"only at {fmt_t(t_rec)}" if math.isfinite(t_rec) else "never"
    return False, t1, (f"not back to {posture.name} (held {held}) within {within:g} s of {fmt_t(t0)}: regained {when}; "
                       f"at the end of the run: {run.decisions['posture'][j]} r_total {run.r[j]:.3f}")


@expectation("hibernate_within", P("within", "seconds"), P("after", "time", FIRST_FAULT))
def hibernate_within(run: RunView, within: float, after: TimeRef) -> Outcome:
    """HIBERNATE (r_total 0) within ``within`` of ``after`` (default: the first fault's start)."""
    t0, t1, window = _after(run, after, within)
    i = first_true(window & (run.posture == int(Posture.HIBERNATE)))
    if i >= 0:
        return True, _NAN, f"HIBERNATE {run.t[i] - t0:.1f} s after {fmt_t(t0)} (r_total {run.r[i]:.3f})"
    j = run.decision_at(t1)
    return False, t1, f"no HIBERNATE within {within:g} s of {fmt_t(t0)}; at {fmt_t(t1)}: {run.decisions['posture'][j]}"


@expectation("no_entries_in", P("postures", "postures", (Posture.TURTLE, Posture.HIBERNATE)),
             P("window", "window", _ALL))
def no_entries_in(run: RunView, postures: tuple[Posture, ...], window) -> Outcome:
    """No entry order is sent while the controller is in one of ``postures`` (during ``window``): the posture of
    the decision in force when it was sent, by the order of events (not the agent's own label on the order)."""
    t0, t1, _ = _window(run, window)
    o = run.orders
    names = {p.name for p in postures}
    for i in range(len(o.get("id", ()))):
        if o["intent"][i] != "entry" or not t0 <= o["t_s"][i] <= t1:
            continue
        j = run.decision_for_order(i)
        posture = run.decisions["posture"][j] if j >= 0 else "no decision"
        if posture in names or j < 0:
            return False, o["t_s"][i], (f"entry order {o['id'][i]} ({o['kind'][i]}) sent in {posture} at "
                                        f"{fmt_t(o['t_s'][i])} (the order says {o['posture'][i]})")
    return True, _NAN, f"no entries in {', '.join(sorted(names))}"


@expectation("pnl_vs_baseline", P("baseline", "companion", "nofault"), P("min_delta", "number", -1.0),
             P("max_delta", "number", 1.0), companion_param="baseline")
def pnl_vs_baseline(run: RunView, baseline: str, min_delta: float, max_delta: float) -> Outcome:
    """Final return minus the ``baseline`` companion's (same seed; fractions of capital) is in [min_delta, max_delta]."""
    comp = run.companions.get(baseline)
    if comp is None:
        raise NotJudged(f"the {baseline} companion run is missing")
    if not len(run.equity.get("equity", ())) or not len(comp.equity.get("equity", ())):
        raise NotJudged(f"no equity samples in this run or in the {baseline} companion")
    mine = float(run.equity["equity"][-1] / run.capital - 1.0)
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
    if not mask.any():
        raise NotJudged(f"no equity sample in [{fmt_t(t0)}, {fmt_t(t1)}]")
    i = first_true(mask & (dd > max))
    if i >= 0:
        return False, eq["t_s"][i], f"drawdown {dd[i]:.2%} at {fmt_t(eq['t_s'][i])} (max {max:.2%})"
    worst = float(dd[mask].max())
    return True, _NAN, f"max drawdown {worst:.2%} (max {max:.2%})"
