"""Metric definitions on small hand-written traces with known answers."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from reports.invariants import InvariantBreak, invariant_breaks
from reports.manifest import Fault
from reports.metrics import SETTLE_S, aggregate, compute_metrics, fault_periods, metric_notes, reaction_per_fault
from reports.traces import ControllerTrace

A, S, T, H = 3, 2, 1, 0


def trace(postures: list[int], r: list[float] | None = None, equity: list[float] | None = None,
          orders: list[tuple[float, float]] | None = None,
          fills: list[tuple[float, str]] | None = None, step_s: float = 1.0) -> ControllerTrace:
    n = len(postures)
    t = np.arange(n, dtype=np.float64) * step_s
    eq = np.asarray(equity if equity is not None else [100.0] * n, dtype=np.float64)
    peak = np.maximum.accumulate(eq)
    orders = orders or []
    fills = fills or []
    return ControllerTrace(
        name="x", t_s=t, r_total=np.asarray(r if r is not None else [1.0] * n, dtype=np.float64),
        posture=np.asarray(postures, dtype=np.int8), layers={},
        equity_t_s=t[: eq.size], equity=eq, drawdown=(peak - eq) / peak,
        orders=pa.table({"t_s": pa.array([o[0] for o in orders], pa.float64()),
                         "t_done_s": pa.array([o[1] for o in orders], pa.float64())}),
        fills=pa.table({"t_s": pa.array([f[0] for f in fills], pa.float64()),
                        "fee": pa.array([1.5] * len(fills), pa.float64()),
                        "liquidity": pa.array([f[1] for f in fills], pa.string())}))


def test_reaction_and_recovery() -> None:
    # APEX, fault at t=10 for 20 s; STALKER at t=13, TURTLE at 15, back to APEX at t=40
    p = [A] * 13 + [S] * 2 + [T] * 25 + [A] * 20
    fault = Fault("sensor_stale", "mc_forewarner", 10.0, 20.0, {})
    m = compute_metrics(trace(p), [fault], 60.0, {})
    assert m["reaction_s"] == 3.0
    assert m["recovery_s"] == 10.0  # fault ends at 30, APEX at 40
    assert m["switches_per_h"] == pytest.approx(3 / (60 / 3600))
    assert m["time_apex_pct"] == pytest.approx(100 * 33 / 60)
    assert m["time_stalker_pct"] == pytest.approx(100 * 2 / 60)
    assert m["time_turtle_pct"] == pytest.approx(100 * 25 / 60)
    r = reaction_per_fault(trace(p), [fault])[0]
    assert (r.posture_before, r.posture_after) == ("APEX", "STALKER")


def test_reaction_latency_is_the_slowest_fault_named() -> None:
    # fault 1 at t=10: STALKER at 12 (2 s); fault 2 at t=30: TURTLE at 37 (7 s); fault 3 at t=50: no change
    p = [A] * 12 + [S] * 25 + [T] * 23
    faults = [Fault("sensor_down", "ob", 10.0, 5.0, {}), Fault("sensor_stale", "mc_forewarner", 30.0, 5.0, {}),
              Fault("sensor_stale", "esof", 50.0, 5.0, {})]
    m = compute_metrics(trace(p), faults, 60.0, {})
    assert m["reaction_s"] == 7.0                      # not the first fault's 2 s
    assert metric_notes(trace(p), faults)["reaction_s"] == "sensor_stale mc_forewarner"
    assert [r.reaction_s for r in reaction_per_fault(trace(p), faults)][:2] == [2.0, 7.0]
    assert "reaction_s" not in metric_notes(trace([A] * 60), faults)   # nothing reacted: nothing to name


def test_no_reaction_no_recovery_needed_and_never_recovered() -> None:
    fault = Fault("sensor_stale", "esof", 10.0, 20.0, {})
    m = compute_metrics(trace([A] * 60), [fault], 60.0, {})
    assert math.isnan(m["reaction_s"]) and m["recovery_s"] == 0.0
    m = compute_metrics(trace([A] * 10 + [T] * 50), [fault], 60.0, {})
    assert m["reaction_s"] == 0.0 and m["recovery_s"] == math.inf
    m = compute_metrics(trace([A] * 60), [], 60.0, {})
    assert math.isnan(m["recovery_s"]) and math.isnan(m["fault_dd_pct"])


def observed(n: int, **flips: tuple[int, int, float]) -> dict[str, np.ndarray]:
    """Healthy observed signals for n one-second steps; ``name=(i0, i1, value)`` sets rows i0..i1-1."""
    cols = {"t_s": np.arange(n, dtype=np.float64), "hz.quorum": np.ones(n), "ledger.consistent": np.ones(n),
            "data.checksum_ok": np.ones(n), "heartbeat.age_s": np.full(n, 1.0)}
    for name, (i0, i1, value) in flips.items():
        cols[name.replace("_", ".", 1) if name != "heartbeat" else "heartbeat.age_s"][i0:i1] = value
    return cols


def test_breaks_come_from_the_observed_signals() -> None:
    obs = observed(60, hz_quorum=(20, 30, 0.0), heartbeat=(40, 45, 12.0))
    breaks = invariant_breaks(obs, keepalive_max_s=10.0)
    assert breaks == (InvariantBreak(20.0, 30.0, "hz.quorum=0"),
                      InvariantBreak(40.0, 45.0, "heartbeat.age_s 12.0 s > 10 s"))
    # the keepalive limit is the controller config's: a 15 s limit does not see the 12 s heartbeat
    assert invariant_breaks(obs, keepalive_max_s=15.0) == breaks[:1]
    # a NaN flag is read as broken (the controller's worst case); a break to the end never heals
    obs["data.checksum_ok"][50:] = math.nan
    assert invariant_breaks(obs, 10.0)[-1] == InvariantBreak(50.0, math.inf, "data.checksum_ok=nan")


def test_invariant_latencies_are_timed_from_the_observed_break() -> None:
    breaks = invariant_breaks(observed(60, ledger_consistent=(20, 30, 0.0)), 10.0)
    p = [A] * 20 + [S] * 2 + [H] * 8 + [A] * 30       # HIBERNATE 2 s after the break at t=20
    orders = [(5.0, 8.0),       # done before the break: ignored
              (12.0, 23.5),     # working at the break, cancelled 3.5 s later
              (18.0, 21.0),     # working, cancelled 1 s later
              (25.0, math.nan)]  # sent after the break: ignored
    m = compute_metrics(trace(p, orders=orders), [], 60.0, {}, breaks)
    assert m["invariant_hibernate_s"] == 2.0
    assert m["invariant_cancel_s"] == 3.5
    orders.append((19.0, math.nan))  # still working at the end of the run
    m = compute_metrics(trace(p, orders=orders), [], 60.0, {}, breaks)
    assert m["invariant_cancel_s"] == math.inf
    # no observed break: not applicable, whatever the postures
    m = compute_metrics(trace(p), [], 60.0, {}, ())
    assert math.isnan(m["invariant_hibernate_s"]) and math.isnan(m["invariant_cancel_s"])


def test_a_controller_that_ignores_the_break_missed_it() -> None:
    breaks = invariant_breaks(observed(60, hz_quorum=(20, 30, 0.0)), 10.0)
    m = compute_metrics(trace([A] * 60, orders=[(10.0, 25.0)]), [], 60.0, {}, breaks)
    # never HIBERNATE: both metrics missed (the order that filled at t=25 was not cancelled by anyone)
    assert m["invariant_hibernate_s"] == math.inf and m["invariant_cancel_s"] == math.inf
    # HIBERNATE only after the break healed (t=30 is the first whole step) is still a miss
    m = compute_metrics(trace([A] * 31 + [H] * 29), [], 60.0, {}, breaks)
    assert m["invariant_hibernate_s"] == math.inf
    # one answered break does not hide a missed one: the worst counts
    two = invariant_breaks(observed(60, hz_quorum=(10, 12, 0.0), data_checksum_ok=(40, 50, 0.0)), 10.0)
    m = compute_metrics(trace([A] * 10 + [H] * 2 + [A] * 48), [], 60.0, {}, two)
    assert m["invariant_hibernate_s"] == math.inf
    # in the suite row a miss is the worst value, not skipped like "not applicable"
    agg = aggregate([{"invariant_hibernate_s": 0.0}, {"invariant_hibernate_s": math.inf},
                     {"invariant_hibernate_s": math.nan}])
    assert agg["invariant_hibernate_s"] == math.inf


def test_tax_and_drawdown_avoided() -> None:
    n = 2000
    fault = Fault("exf_shock", "exf", 100.0, 0.0, {})  # fault period [100, 100 + SETTLE_S)
    eq_ref = np.full(n, 100.0)
    eq_ref[1500:] = 110.0                  # the reference earns 10 % in a nominal period
    eq_ref[200:400] = 90.0                 # and falls 10 % in the fault period
    eq_run = np.full(n, 100.0)
    eq_run[1500:] = 105.0                  # this run earns 5 % there
    eq_run[200:400] = 97.0                 # and falls 3 %
    r = [1.0] * 1000 + [0.5] * 1000         # half the risk budget withheld in the nominal tail
    ref = trace([A] * n, equity=list(eq_ref))
    run = trace([A] * n, r=r, equity=list(eq_run))
    m = compute_metrics(run, [fault], float(n), {"static_ladder": ref, "seed_template": ref})
    assert m["tax_return_pct"] == pytest.approx(5.0)
    assert m["fault_dd_pct"] == pytest.approx(3.0)
    assert m["dd_avoided_static_ladder_pct"] == pytest.approx(7.0)
    nominal_s = n - SETTLE_S
    assert m["risk_withheld_pct"] == pytest.approx(100 * 0.5 * 1000 / nominal_s)
    assert m["return_pct"] == pytest.approx(5.0)
    assert m["fault_return_pct"] == pytest.approx(0.0)
    # an 'uncontrolled' reference is preferred over static_ladder
    flat = trace([A] * n, equity=[100.0] * n)
    m = compute_metrics(run, [fault], float(n), {"static_ladder": ref, "uncontrolled": flat})
    assert m["tax_return_pct"] == pytest.approx(-5.0)
    assert math.isnan(compute_metrics(run, [fault], float(n), {})["tax_return_pct"])


def test_fills_fees_and_maker_share() -> None:
    m = compute_metrics(trace([A] * 10, fills=[(1.0, "maker"), (2.0, "taker"), (3.0, "maker"), (4.0, "maker")]),
                        [], 10.0, {})
    assert (m["fills"], m["fees"], m["maker_share_pct"]) == (4.0, 6.0, 75.0)


def test_fault_periods_merge_and_clip() -> None:
    faults = [Fault("a", "", 100.0, 50.0, {}), Fault("b", "", 500.0, 0.0, {}), Fault("c", "", 5000.0, 10.0, {})]
    assert fault_periods(faults, 1200.0) == [(100.0, 1200.0)]
    assert fault_periods(faults[:1], 10_000.0) == [(100.0, 150.0 + SETTLE_S)]


def test_aggregate_rules() -> None:
    rows = [{"reaction_s": 3.0, "fills": 2.0, "tax_return_pct": 1.0, "recovery_s": 5.0},
            {"reaction_s": math.nan, "fills": 5.0, "tax_return_pct": 3.0, "recovery_s": math.inf}]
    agg = aggregate(rows)
    assert agg["reaction_s"] == 3.0          # worst case, NaN skipped
    assert agg["fills"] == 7.0               # total
    assert agg["tax_return_pct"] == 2.0      # mean
    assert agg["recovery_s"] == math.inf     # one case never recovered
    assert math.isnan(agg["fees"])


def test_a_fault_that_never_heals() -> None:
    fault = Fault("node_loss", "hz1", 10.0, 0.0, {}, heals=False)
    m = compute_metrics(trace([A] * 10 + [S] * 50), [fault], 60.0, {})
    assert m["reaction_s"] == 0.0
    assert math.isnan(m["recovery_s"])            # APEX is not expected back
    assert fault_periods([fault], 60.0) == [(10.0, 60.0)]
    assert math.isnan(m["risk_withheld_pct"]) is False


def test_recovery_is_apex_regained_and_held_not_an_apex_decision_before_the_effect_arrives() -> None:
    """APEX at the heal instant (the fault's effect has not reached the controller yet), then HIBERNATE to the
    end: not recovered (the old metric said 0 s). APEX regained at 40, dropped at 45, regained at 50 and held:
    recovery at 50."""
    fault = Fault("data_corruption", "ob", 10.0, 20.0, {})
    latched = [A] * 31 + [H] * 29                     # APEX at t=30 (the heal), HIBERNATE from t=31
    assert compute_metrics(trace(latched), [fault], 60.0, {})["recovery_s"] == math.inf
    relapse = [A] * 13 + [T] * 27 + [A] * 5 + [S] * 5 + [A] * 10
    assert compute_metrics(trace(relapse), [fault], 60.0, {})["recovery_s"] == 20.0
