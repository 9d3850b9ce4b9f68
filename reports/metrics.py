"""Degradation metrics of one controller trace, each defined in :data:`METRICS` (shown in the report).

Times come from the traces (``t_s``), fault windows from the manifest, invariant breaks from the
observed signals (:mod:`reports.invariants`). A metric that does not apply (no fault, no invariant
break, no reference run) is NaN and shown as "—"; an invariant break the controller never answered
is ``inf``, shown as "missed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .attribution import FaultOutcome, Reads, attribute, true_hibernate_s
from .invariants import InvariantBreak, InvariantReaction, invariant_reactions
from .manifest import Fault
from .trades import FILL_TRADE_COLUMNS, round_trips, trade_stats
from .traces import POSTURES, ControllerTrace

__all__ = ["MetricDef", "METRICS", "METRIC_KEYS", "SETTLE_S", "FaultReaction", "compute_metrics",
           "fault_periods", "reaction_per_fault", "worst_reaction", "reaction_per_break", "metric_notes",
           "aggregate", "TAX_REFERENCES", "outcomes"]

SETTLE_S = 900.0
"""Settling time added after each fault window to form its fault period (s)."""
TAX_REFERENCES = ("uncontrolled", "static_ladder")
"""Reference runs for the performance tax, in order of preference (first one present wins)."""


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: str
    unit: str
    better: str          # "lower" | "higher" | "" (neither)
    aggregate: str       # how the suite row combines cases: "mean" | "max" | "min" | "sum"
    definition: str


METRICS: tuple[MetricDef, ...] = (
    MetricDef("tax_return_pct", "performance tax", "% of capital", "lower", "mean",
              "Return lost in nominal periods (outside every fault period) versus a run without a controller: "
              "nominal return of the reference minus nominal return of this run. The reference is the "
              "'uncontrolled' companion when the run has one, otherwise 'static_ladder', whose flat table is "
              "exactly 1.0 while nothing is faulty. Positive = return given up."),
    MetricDef("nominal_return_pct", "return outside faults", "% of capital", "higher", "mean",
              "Sum of equity changes outside every fault period, as a percentage of the starting equity."),
    MetricDef("risk_withheld_pct", "risk withheld (nominal)", "%", "lower", "mean",
              "Mean of (1 − r_total) over nominal time: the share of the risk budget the controller held back "
              "while no fault was active. 0 = no tax in normal operation."),
    MetricDef("fault_dd_pct", "drawdown in faults", "% of peak", "lower", "max",
              "Largest peak-to-trough equity fall inside a fault period (the fault window plus 15 min to settle; "
              "the peak is reset at the period's start)."),
    MetricDef("dd_avoided_uncontrolled_pct", "protection (DD avoided vs uncontrolled)", "pp", "higher", "mean",
              "Drawdown in faults of 'uncontrolled' (no survival control; same seed, same faults) minus this run's: "
              "the drawdown this controller avoided inside fault periods. Positive = it protected."),
    MetricDef("dd_avoided_static_ladder_pct", "DD avoided vs static_ladder", "pp", "higher", "mean",
              "Drawdown in faults of static_ladder (same seed, same faults) minus this run's. Positive = this "
              "controller protected better."),
    MetricDef("dd_avoided_seed_template_pct", "DD avoided vs seed_template", "pp", "higher", "mean",
              "Drawdown in faults of seed_template (same seed, same faults) minus this run's."),
    MetricDef("fault_return_pct", "return in faults", "% of capital", "higher", "mean",
              "Sum of equity changes inside fault periods, as a percentage of the starting equity."),
    MetricDef("reaction_s", "reaction latency (beyond design)", "s", "lower", "max",
              "For every fault the scenario expects a reaction to: its start → the first drop of a layer that reads "
              "a signal the fault acts on (the fault → signals map is recorded by the runner from the twin's "
              "wiring; a drop belongs to the latest-started fault whose layers include it), minus the designed "
              "delay (the largest deadband of those layers on the fault's age signals), so a by-design slow "
              "haircut (ExF stale: 10 min deadband) is not counted as slowness. Slowest of them, named under it; "
              "'missed' when an expected reaction never came (a controller that ignores a fault never looks "
              "faster); '—' when no fault expects a reaction."),
    MetricDef("misses", "missed reactions", "faults", "lower", "sum",
              "Faults the scenario expects a reaction to (a reaction check names them) where none of the fault's "
              "layers dropped and no posture drop was credited to it."),
    MetricDef("posture_reaction_s", "fault → posture drop", "s", "", "max",
              "Slowest time from a fault's start to the first posture drop credited to it (posture rises, i.e. "
              "recoveries, are never reactions). Includes designed delays; for reading, not ranking."),
    MetricDef("invariant_hibernate_s", "invariant → HIBERNATE", "s", "lower", "max",
              "Worst time from an observed invariant break (in signals_observed: hz.quorum, ledger.consistent or "
              "data.checksum_ok at 0, or heartbeat.age_s above the keepalive limit of the run's controller config, "
              "10 s when it has none) to the first HIBERNATE decision. 'missed' when the controller did not "
              "reach HIBERNATE before the break healed (a failure, whatever the other cases show). Companions "
              "are timed against the same observed breaks (same seed, same faults)."),
    MetricDef("invariant_hibernate_true_s", "true break → HIBERNATE", "s", "lower", "max",
              "Worst time from the true invariant break (signals_true: what the twin knew, before any detection "
              "delay) behind each observed break to the first HIBERNATE decision: detection plus decision. "
              "'invariant → HIBERNATE' is the decision part alone."),
    MetricDef("invariant_cancel_s", "invariant → orders cancelled", "s", "lower", "max",
              "Worst time from an observed invariant break until no order that was working at the break is "
              "still working (cancelled, or filled before the cancel arrived); 0 when none was working. "
              "'missed' when the controller missed HIBERNATE or an order was never done."),
    MetricDef("recovery_s", "recovery time", "s", "lower", "max",
              "End of the last fault window → the first decision of the final APEX stretch: APEX regained and held "
              "to the end of the run (0 if APEX was never left, or was regained before the heal and held). "
              "'not recovered' when the run does not end in APEX; '—' when a fault never heals."),
    MetricDef("switches_per_h", "posture switches", "/h", "lower", "mean",
              "Posture changes per hour of simulated time (chatter)."),
    *(MetricDef(f"time_{p.lower()}_pct", f"time in {p}", "%", "", "mean", f"Share of simulated time in {p}.")
      for p in reversed(POSTURES)),
    MetricDef("return_pct", "total return", "% of capital", "higher", "mean",
              "Final equity over starting equity, minus 1."),
    MetricDef("max_dd_pct", "max drawdown", "% of peak", "lower", "max", "Largest drawdown over the whole run."),
    MetricDef("fills", "fills", "", "", "sum", "Number of fills."),
    MetricDef("trades", "round trips", "", "", "sum", "Closed round trips (open → flat per asset)."),
    MetricDef("win_rate_pct", "win rate", "% of trades", "higher", "mean",
              "Share of round trips with a positive result after fees."),
    MetricDef("profit_factor", "profit factor", "ratio", "higher", "mean",
              "Gross winning round trips over gross losing ones, after fees."),
    MetricDef("fees", "fees", "quote", "lower", "sum", "Sum of fees paid."),
    MetricDef("maker_share_pct", "maker share", "% of fills", "", "mean", "Share of fills as maker (passive)."),
)
METRIC_KEYS = tuple(m.key for m in METRICS)


def fault_periods(faults: Sequence[Fault], end_s: float) -> list[tuple[float, float]]:
    """Merged fault periods ``[at_s, at_s + for_s + SETTLE_S]`` clipped to ``[0, end_s]``."""
    spans = sorted((f.at_s, min(end_s, f.end_s + SETTLE_S)) for f in faults if f.at_s < end_s)
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _in_periods(t: np.ndarray, periods: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(t.shape, dtype=bool)
    for a, b in periods:
        mask |= (t >= a) & (t < b)
    return mask


def _durations(t: np.ndarray, end_s: float) -> np.ndarray:
    if t.size == 0:
        return t
    nxt = np.append(t[1:], max(end_s, t[-1]))
    return np.maximum(nxt - t, 0.0)


def _max_dd(equity: np.ndarray) -> float:
    if equity.size == 0:
        return math.nan
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / np.where(peak > 0, peak, 1.0)))


@dataclass(frozen=True)
class FaultReaction:
    fault: Fault
    reaction_s: float        # NaN: no posture change in the window
    posture_before: str
    posture_after: str


def reaction_per_fault(tr: ControllerTrace, faults: Sequence[Fault]) -> list[FaultReaction]:
    """For each fault: time from its start to the first posture change within its window + settle."""
    out = []
    for f in faults:
        i0 = int(np.searchsorted(tr.t_s, f.at_s, side="left"))
        if i0 >= tr.t_s.size:
            out.append(FaultReaction(f, math.nan, "—", "—"))
            continue
        before = int(tr.posture[i0 - 1]) if i0 > 0 else int(tr.posture[i0])
        stop = int(np.searchsorted(tr.t_s, f.end_s + SETTLE_S, side="right"))
        changed = np.nonzero(tr.posture[i0:stop] != before)[0]
        if changed.size == 0:
            out.append(FaultReaction(f, math.nan, POSTURES[before], POSTURES[before]))
        else:
            j = i0 + int(changed[0])
            out.append(FaultReaction(f, float(tr.t_s[j] - f.at_s), POSTURES[before], POSTURES[int(tr.posture[j])]))
    return out


def reaction_per_break(tr: ControllerTrace, breaks: Sequence[InvariantBreak]) -> list[InvariantReaction]:
    """For each observed invariant break: this controller's time to HIBERNATE and to no working order."""
    t_order = np.asarray(tr.orders.column("t_s").to_numpy(zero_copy_only=False), dtype=np.float64)
    t_done = np.asarray(tr.orders.column("t_done_s").to_numpy(zero_copy_only=False), dtype=np.float64)
    return invariant_reactions(tr.t_s, tr.posture, t_order, t_done, breaks)


def outcomes(tr: ControllerTrace, faults: Sequence[Fault], reads: Reads | None = None,
             truth: Mapping[str, np.ndarray] | None = None) -> list[FaultOutcome]:
    """Every fault's outcome for this trace, attributed by mechanism (:mod:`reports.attribution`)."""
    return attribute(tr.t_s, tr.posture, tr.layers, faults, reads, SETTLE_S, POSTURES, truth)


def _judged(found: Sequence[FaultOutcome]) -> list[FaultOutcome]:
    """Outcomes that enter the reaction headline: expected ones (missed = inf), and reactions of
    faults whose expectation was not recorded."""
    return [o for o in found if o.fault.expects_reaction or (o.fault.expects_reaction is None
                                                               and not math.isnan(o.excess_s))]


def worst_reaction(tr: ControllerTrace, faults: Sequence[Fault], reads: Reads | None = None,
                   truth: Mapping[str, np.ndarray] | None = None) -> FaultOutcome | None:
    """The expected reaction slowest beyond its design (a miss first; the first fault on ties)."""
    judged = [o for o in _judged(outcomes(tr, faults, reads, truth)) if not math.isnan(o.excess_s)]
    return max(judged, key=lambda o: o.excess_s) if judged else None


def metric_notes(tr: ControllerTrace, faults: Sequence[Fault],
                 breaks: Sequence[InvariantBreak] | None = None, reads: Reads | None = None,
                 truth: Mapping[str, np.ndarray] | None = None) -> dict[str, str]:
    """What a worst-case metric refers to: the fault of ``reaction_s``, the break of the invariant latencies."""
    notes: dict[str, str] = {}
    worst = worst_reaction(tr, faults, reads, truth)
    if worst is not None:
        notes["reaction_s"] = worst.fault.label
    if breaks:
        reactions = reaction_per_break(tr, breaks)
        notes["invariant_hibernate_s"] = max(reactions, key=lambda r: r.hibernate_s).brk.label
        notes["invariant_cancel_s"] = max(reactions, key=lambda r: r.cancel_s).brk.label
    return notes


def _reaction_metrics(tr: ControllerTrace, faults: Sequence[Fault], reads: Reads | None,
                      truth: Mapping[str, np.ndarray] | None) -> dict[str, float]:
    found = outcomes(tr, faults, reads, truth)
    judged = [o.excess_s for o in _judged(found) if not math.isnan(o.excess_s)]
    posture = [o.posture_s for o in found if not math.isnan(o.posture_s)]
    recorded = any(f.expects_reaction is not None for f in faults)
    return {"reaction_s": max(judged) if judged else math.nan,
            "misses": float(sum(o.outcome == "missed" for o in found)) if recorded else math.nan,
            "posture_reaction_s": max(posture) if posture else math.nan}


def _true_latency(tr: ControllerTrace, breaks: Sequence[InvariantBreak] | None,
                  true_breaks: Sequence[InvariantBreak] | None) -> float:
    if not breaks or true_breaks is None:
        return math.nan
    return max(true_hibernate_s(tr.t_s, tr.posture, b, true_breaks) for b in breaks)


def _invariant_latencies(tr: ControllerTrace, breaks: Sequence[InvariantBreak] | None) -> tuple[float, float]:
    if not breaks:
        return math.nan, math.nan
    reactions = reaction_per_break(tr, breaks)
    return max(r.hibernate_s for r in reactions), max(r.cancel_s for r in reactions)


def _recovery_s(tr: ControllerTrace, faults: Sequence[Fault]) -> float:
    """End of the last fault window → the start of the final APEX stretch (APEX regained and held to the end of
    the run). The liveness check's definition (``scenarios.checks.view.recovered_at`` without a hold), repeated
    here because reports read run directories only: an APEX decision before the fault's effect reaches the
    controller, followed by a drop, is not a recovery."""
    if not faults or not all(f.heals for f in faults):
        return math.nan
    end = max(f.end_s for f in faults)
    if not np.any(tr.posture[tr.t_s >= min(f.at_s for f in faults)] != 3):
        return 0.0
    below = np.flatnonzero(tr.posture != 3)
    last = int(below[-1])
    if last == len(tr.posture) - 1:
        return math.inf
    return max(0.0, float(tr.t_s[last + 1]) - end)


def _nominal_return(tr: ControllerTrace, periods: list[tuple[float, float]]) -> tuple[float, float]:
    """(nominal return, fault-period return) as fractions of the starting equity."""
    e, t = tr.equity, tr.equity_t_s
    if e.size < 2 or e[0] == 0:
        return math.nan, math.nan
    de = np.diff(e)
    in_fault = _in_periods(t[:-1], periods)
    return float(np.sum(de[~in_fault]) / e[0]), float(np.sum(de[in_fault]) / e[0])


def _fault_dd(tr: ControllerTrace, periods: list[tuple[float, float]]) -> float:
    if not periods:
        return math.nan
    worst = 0.0
    for a, b in periods:
        sel = (tr.equity_t_s >= a) & (tr.equity_t_s <= b)
        if np.any(sel):
            worst = max(worst, _max_dd(tr.equity[sel]))
    return worst


def compute_metrics(tr: ControllerTrace, faults: Sequence[Fault], duration_s: float,
                    references: Mapping[str, ControllerTrace],
                    breaks: Sequence[InvariantBreak] | None = None, reads: Reads | None = None,
                    true_breaks: Sequence[InvariantBreak] | None = None,
                    truth: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one controller trace (percentages in %, times in s).

    ``references`` maps companion names (``static_ladder``, ``seed_template``, ``uncontrolled``) to
    traces of the same seed and faults; missing references give NaN for the metrics that need them.
    ``breaks``: the invariant breaks observed in this seed (None or empty: the invariant metrics are NaN);
    ``true_breaks`` the same from ``signals_true``, ``truth`` its columns (designed delays).
    ``reads``: this controller's layer -> input signals.
    """
    end_s = max(duration_s, float(tr.t_s[-1]))
    periods = fault_periods(faults, end_s)
    nominal = ~_in_periods(tr.t_s, periods)
    dt = _durations(tr.t_s, end_s)
    total = float(np.sum(dt)) or 1.0
    nom_ret, fault_ret = _nominal_return(tr, periods)
    m: dict[str, float] = {"fault_return_pct": 100 * fault_ret if periods else math.nan,
                           "nominal_return_pct": 100 * nom_ret}
    ref = next((references[n] for n in TAX_REFERENCES if n in references), None)
    m["tax_return_pct"] = math.nan if ref is None else 100 * (_nominal_return(ref, periods)[0] - nom_ret)
    nom_dt = float(np.sum(dt[nominal]))
    m["risk_withheld_pct"] = (100 * float(np.sum((1 - tr.r_total[nominal]) * dt[nominal])) / nom_dt
                              if nom_dt > 0 else math.nan)
    m["fault_dd_pct"] = 100 * _fault_dd(tr, periods)
    for name in ("uncontrolled", "static_ladder", "seed_template"):
        other = references.get(name)
        m[f"dd_avoided_{name}_pct"] = (math.nan if other is None or not periods
                                       else 100 * (_fault_dd(other, periods) - _fault_dd(tr, periods)))
    m.update(_reaction_metrics(tr, faults, reads, truth))
    m["invariant_hibernate_s"], m["invariant_cancel_s"] = _invariant_latencies(tr, breaks)
    m["invariant_hibernate_true_s"] = _true_latency(tr, breaks, true_breaks)
    m["recovery_s"] = _recovery_s(tr, faults)
    m["switches_per_h"] = float(np.count_nonzero(np.diff(tr.posture))) / (end_s / 3600.0) if end_s > 0 else math.nan
    for code, p in enumerate(POSTURES):
        m[f"time_{p.lower()}_pct"] = 100 * float(np.sum(dt[tr.posture == code])) / total
    m["return_pct"] = 100 * (tr.equity[-1] / tr.equity[0] - 1) if tr.equity[0] else math.nan
    m["max_dd_pct"] = 100 * _max_dd(tr.equity)
    fees = np.asarray(tr.fills.column("fee").to_numpy(zero_copy_only=False), dtype=np.float64)
    liq = tr.fills.column("liquidity").to_pylist()
    m["fills"] = float(len(liq))
    m["fees"] = float(np.sum(fees)) if fees.size else 0.0
    m["maker_share_pct"] = 100 * sum(1 for x in liq if x == "maker") / len(liq) if liq else math.nan
    stats = (trade_stats(round_trips(tr.fills)) if all(c in tr.fills.column_names for c in FILL_TRADE_COLUMNS)
             else None)
    m["trades"] = float(stats.trades) if stats else math.nan
    m["win_rate_pct"] = 100 * stats.win_rate if stats else math.nan
    m["profit_factor"] = stats.profit_factor if stats else math.nan
    return m


def aggregate(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Combine per-case metrics into one suite row, per each metric's ``aggregate`` rule (NaNs skipped)."""
    out: dict[str, float] = {}
    for d in METRICS:
        values = np.array([r.get(d.key, math.nan) for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            out[d.key] = math.nan
        elif d.aggregate == "max":
            out[d.key] = float(np.max(values))
        elif d.aggregate == "min":
            out[d.key] = float(np.min(values))
        elif d.aggregate == "sum":
            out[d.key] = float(np.sum(values))
        else:
            finite = values[np.isfinite(values)]
            out[d.key] = float(np.mean(finite)) if finite.size == values.size else math.inf
    return out
