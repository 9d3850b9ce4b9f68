"""The batch evaluator and the scalar step run the same kernel and agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller import (NOMINAL_SIGNALS, ControllerError, SurvivalController, apply_overrides, default_config, evaluate_batch,
                        make_controller)
from controller.baselines import seed_template_config, static_ladder_config


def random_trace(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.05, 30.0, n))
    trace = {"t_s": t}
    for name, nominal in NOMINAL_SIGNALS.items():
        col = np.full(n, nominal)
        if name.endswith("age_s"):
            col = np.where(rng.random(n) < 0.3, rng.exponential(2000.0, n), nominal)
        elif name in ("hz.quorum", "ledger.consistent", "data.checksum_ok"):
            col = (rng.random(n) > 0.03).astype(float)
        elif name == "exf.shock":
            col = np.where(rng.random(n) < 0.02, rng.random(n), 0.0)
        elif name == "portfolio.drawdown":
            col = rng.uniform(0, 0.4, n)
        else:
            col = nominal * rng.uniform(0.2, 3.0, n)
        bad = rng.random(n) < 0.01
        col[bad] = rng.choice([np.nan, np.inf, -1.0], bad.sum())
        trace[name] = col
    return trace


def configs():
    base = default_config()
    return [base, static_ladder_config(), seed_template_config(),
            apply_overrides(base, {"postures": {"apex": {"min_dwell_s": 120.0}},
                                   "layers": {"exf": {"recovery_per_min": 0.2}}}, source="test")]


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400))
def test_scalar_and_batch_agree_to_1e12_on_random_traces(seed, n):
    trace = random_trace(seed, n)
    cfgs = configs()
    result = evaluate_batch(cfgs, trace)
    for c, cfg in enumerate(cfgs):
        ctl = SurvivalController(cfg)
        for i in range(n):
            d = ctl.step(trace["t_s"][i], {k: float(v[i]) for k, v in trace.items() if k != "t_s"})
            assert abs(d.r_total - result.r_total[c, i]) <= 1e-12
            assert int(d.posture) == result.posture[c, i]
            layers = np.array(list(d.layers.values()))
            assert np.max(np.abs(layers - result.layers[c, i, :len(layers)])) <= 1e-12


def test_summary_mode_matches_full_mode():
    trace = random_trace(7, 3000)
    full = evaluate_batch(configs(), trace, outputs="full")
    summary = evaluate_batch(configs(), trace, outputs="summary")
    assert summary.r_total is None
    np.testing.assert_allclose(summary.mean_r, full.r_total.mean(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(summary.min_r, full.r_total.min(axis=1))
    switches = (np.diff(full.posture, axis=1) != 0).sum(axis=1)
    np.testing.assert_array_equal(summary.switches, switches)
    dt = np.diff(trace["t_s"])
    for c in range(len(configs())):
        for p in range(4):
            expected = dt[full.posture[c, :-1] == p].sum()
            assert summary.time_in_posture_s[c, p] == pytest.approx(expected)
    assert summary.steps_evaluated == 4 * 3000


def test_missing_trace_column_is_a_clear_error():
    trace = random_trace(1, 10)
    del trace["ob.age_s"]
    with pytest.raises(ControllerError, match="'ob.age_s'"):
        evaluate_batch([default_config()], trace)


def test_uncontrolled_is_always_one_and_apex_whatever_the_signals():
    ctl = make_controller("uncontrolled")
    for t, signals in enumerate([NOMINAL_SIGNALS, {}, {"hz.quorum": 0.0, "mc_forewarner.age_s": float("nan")}]):
        d = ctl.step(float(t), signals)
        assert d.r_total == 1.0 and d.posture.name == "APEX" and d.taker_allowed


def test_baselines_are_selectable_by_name_and_share_the_contract():
    for name in ("survival", "static_ladder", "seed_template", "uncontrolled"):
        d = make_controller(name).step(0.0, NOMINAL_SIGNALS)
        assert 0.0 <= d.r_total <= 1.0 and d.exits_allowed


def test_static_ladder_jumps_and_seed_template_taxes_nominal_operation():
    ladder = make_controller("static_ladder")
    assert ladder.step(0.0, NOMINAL_SIGNALS).r_total == 1.0
    d = ladder.step(1.0, dict(NOMINAL_SIGNALS, **{"ob.age_s": 6.0}))
    assert d.r_total == pytest.approx(0.20)  # the flat table's OB-down rung, at once
    assert ladder.step(2.0, NOMINAL_SIGNALS).r_total == 1.0  # and straight back: no damping
    seed = make_controller("seed_template").step(0.0, NOMINAL_SIGNALS)
    assert seed.r_total < 0.91  # the un-normalised sigmoid taxes ~9.5 % at zero drawdown
    assert seed.layers["capital"] == pytest.approx(1 / (1 + np.exp(-15 * 0.15)))


def test_window_stats_match_the_full_series_and_leave_the_decisions_unchanged():
    """Per-window accumulation inside the kernel equals the same statistics computed from the series."""
    from controller import plan_batch

    n = 4000
    trace = random_trace(11, n)
    cfgs = configs()
    labels = np.full(n, -1, dtype=np.int64)
    labels[100:900] = 0
    labels[1500:2600] = 1
    labels[3000:] = 2
    full = evaluate_batch(cfgs, trace, outputs="full")
    win = evaluate_batch(plan_batch(cfgs), trace, outputs="full", windows=labels, react_below=0.9)
    np.testing.assert_array_equal(win.r_total, full.r_total)        # bit-identical decisions
    np.testing.assert_array_equal(win.posture, full.posture)
    t = trace["t_s"]
    for c in range(len(cfgs)):
        r, p = full.r_total[c], full.posture[c]
        switched = np.r_[False, p[1:] != p[:-1]]
        held = np.r_[3, p[:-1]]
        dt = np.r_[0.0, np.diff(t)]
        for w in range(3):
            m = labels == w
            row = win.window_stats[c, w]
            assert row[0] == pytest.approx(r[m].sum(), abs=1e-9)
            assert row[1] == r[m].min()
            react = t[m & (r < 0.9)]
            assert (np.isnan(row[2]) and react.size == 0) or row[2] == react[0]
            hib = t[m & (p == 0)]
            assert (np.isnan(row[3]) and hib.size == 0) or row[3] == hib[0]
            assert row[4] == switched[m].sum()
            assert row[5] == pytest.approx(dt[m & (held != 3)].sum())
            assert row[6] == m.sum()
        times = t[switched]
        worst = max((int(((times <= x) & (times > x - 3600.0)).sum()) for x in times), default=0)
        assert win.worst_hour_switches[c] == min(worst, 64)
        assert win.invariant_not_hibernate[c] == 0


def test_bad_window_labels_are_a_clear_error():
    trace = random_trace(1, 10)
    with pytest.raises(ControllerError, match="windows"):
        evaluate_batch([default_config()], trace, windows=np.zeros(9, dtype=np.int64))


def episode_trace(seed: int, n: int) -> dict[str, np.ndarray]:
    """Long settled stretches (APEX, a stale sensor holding a lower posture, a lost quorum holding HIBERNATE,
    recovery) with noise, so whole chunks are skipped and others stepped; time sometimes goes back."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.choice([1.0, 1.0, 1.0, 5.0, 0.5], n))
    back = rng.random(n) < 0.002
    t[back] -= rng.uniform(5.0, 50.0, back.sum())
    trace = {"t_s": t}
    for name, nominal in NOMINAL_SIGNALS.items():
        trace[name] = np.full(n, nominal, dtype=float)
    trace["portfolio.drawdown"] = np.abs(rng.normal(0.0, 0.03, n))
    for _ in range(6):
        a = int(rng.integers(0, n - 1))
        b = min(n, a + int(rng.integers(150, 1500)))
        kind = rng.integers(0, 4)
        if kind == 0:
            trace["mc_forewarner.age_s"][a:b] = np.arange(b - a) * rng.uniform(1.0, 20.0)
        elif kind == 1:
            trace["hz.quorum"][a:b] = 0.0
        elif kind == 2:
            trace["ob.age_s"][a:b] = rng.uniform(0.0, 30.0, b - a)
        else:
            trace["portfolio.drawdown"][a:b] = rng.uniform(0.1, 0.5)
    return trace


@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_chunks_skipped_while_a_posture_holds_reproduce_the_scalar_controller_exactly(seed):
    """Settled chunks are skipped in O(1): decisions, time in posture and window statistics still equal the
    scalar controller's, step for step, over cases concatenated with ``segments`` (each a fresh controller)."""
    from controller import plan_batch

    sizes = (3000, 900, 1600)
    parts = [episode_trace(seed + i, m) for i, m in enumerate(sizes)]
    trace = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    labels = np.zeros(sum(sizes), dtype=np.int64)
    labels[1000:2500] = 1
    labels[3500:] = 2
    cfgs = configs()
    plan = plan_batch(cfgs)
    res = evaluate_batch(plan, trace, windows=labels, react_below=0.95, segments=starts)
    ends = np.r_[starts[1:], sum(sizes)]
    names = [k for k in trace if k != "t_s"]
    rows = [dict(zip(names, map(float, values))) for values in zip(*(trace[k] for k in names))]
    for c, cfg in enumerate(cfgs):
        r = np.empty(sum(sizes))
        p = np.empty(sum(sizes), dtype=np.int64)
        for a, b in zip(starts, ends):
            ctl = SurvivalController(cfg)
            for i in range(a, b):
                d = ctl.step(trace["t_s"][i], rows[i])
                r[i], p[i] = d.r_total, int(d.posture)
        np.testing.assert_array_equal(res.r_total[c], r)               # bit for bit
        np.testing.assert_array_equal(res.posture[c], p)
        first = np.isin(np.arange(r.size), starts)
        switched = np.r_[False, p[1:] != p[:-1]] & ~first
        held = np.where(first, 3, np.r_[3, p[:-1]])
        gap = np.where(first, 0.0, np.r_[0.0, np.diff(res_now(trace["t_s"], starts))])
        assert res.switches[c] == switched.sum()
        now = res_now(trace["t_s"], starts)
        worst = max((int(((times <= x) & (times > x - 3600.0)).sum()) for a, b in zip(starts, ends)
                     for times in [now[a:b][switched[a:b]]] for x in times), default=0)
        assert res.worst_hour_switches[c] == min(worst, 64)            # per case: a sliding hour never spans two
        for q in range(4):
            assert res.time_in_posture_s[c, q] == pytest.approx(gap[held == q].sum(), abs=1e-6)
        for w in range(3):
            m = labels == w
            row = res.window_stats[c, w]
            assert row[0] == pytest.approx(r[m].sum(), abs=1e-9) and row[1] == r[m].min()
            assert row[4] == switched[m].sum() and row[6] == m.sum()
            assert row[5] == pytest.approx(gap[m & (held != 3)].sum(), abs=1e-6)
            hib = np.flatnonzero(m & (p == 0))
            assert (np.isnan(row[3]) and hib.size == 0) or row[3] == res_now(trace["t_s"], starts)[hib[0]]


def res_now(t: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The controller's validated time base per step (held at the last time when a timestamp goes back)."""
    from controller import kernel

    return kernel.batch_times(np.ascontiguousarray(t), np.asarray(starts, dtype=np.int64), kernel.MAX_TIME_JUMP_S)[0]


@pytest.mark.parametrize("segments", [[1, 5], [0, 5, 5], [0, 10], [0.0, 4.0], []])
def test_bad_segments_are_a_clear_error(segments):
    trace = random_trace(1, 10)
    with pytest.raises(ControllerError, match="segments: expected increasing integer start indices from 0"):
        evaluate_batch([default_config()], trace, segments=np.asarray(segments))
