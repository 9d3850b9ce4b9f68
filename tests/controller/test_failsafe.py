"""Fail-safe inputs: missing, NaN, ±inf, negative ages and garbage are the worst case, named in reasons."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller import NOMINAL_SIGNALS, SIGNALS, Posture, SurvivalController, default_config

WORST = {  # layer -> value of its worst case alone
    "mc_forewarner": 0.10, "scan_loop": 0.10, "esof": 0.90, "exf": 0.70 * 0.30,
}


@pytest.mark.parametrize("bad, label", [(math.nan, "NaN"), (math.inf, "+inf"), (-math.inf, "-inf"), (-1.0, "negative")])
def test_invalid_age_is_the_worst_case_and_is_named(fresh, bad, label, one_step):
    d = one_step(fresh(), mc_forewarner__age_s=bad)
    assert d.layers["mc_forewarner"] == pytest.approx(0.10)
    assert any("mc_forewarner.age_s" in r and label in r for r in d.reasons), d.reasons


@pytest.mark.parametrize("signal", SIGNALS)
def test_every_missing_signal_is_no_better_than_any_valid_value(signal):
    signals = {k: v for k, v in NOMINAL_SIGNALS.items() if k != signal}
    d = SurvivalController(default_config()).step(0.0, signals)
    assert d.r_total < 1.0
    assert any(r.startswith(f"{signal} missing") for r in d.reasons), d.reasons


@pytest.mark.parametrize("signal", ["hz.quorum", "ledger.consistent", "data.checksum_ok", "heartbeat.age_s"])
def test_missing_invariant_signal_hibernates(signal):
    signals = {k: v for k, v in NOMINAL_SIGNALS.items() if k != signal}
    d = SurvivalController(default_config()).step(0.0, signals)
    assert d.r_total == 0.0 and d.posture is Posture.HIBERNATE


def test_unreadable_values_do_not_raise(fresh):
    signals = dict(NOMINAL_SIGNALS, **{"scan.age_s": "soon", "ob.latency_ms": None, "exf.shock": object()})
    d = fresh().step(0.0, signals)
    assert 0.0 <= d.r_total < 1.0
    assert any("scan.age_s unreadable" in r for r in d.reasons)


def test_non_finite_time_does_not_raise_or_recover(fresh):
    ctl = fresh()
    ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"mc_forewarner.age_s": 1800.0}))
    before = ctl.step(1.0, NOMINAL_SIGNALS).r_total
    for now in (math.nan, math.inf, -5.0):
        d = ctl.step(now, NOMINAL_SIGNALS)
        assert d.r_total == before  # no time passed: no recovery
        assert any("time went backwards" in r for r in d.reasons)


garbage = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                    st.none(), st.text(max_size=3), st.booleans(),
                    st.sampled_from([10 ** 400, -10 ** 400, "1", "0.5", b"1", 2 ** 64]))


@given(values=st.dictionaries(st.sampled_from(SIGNALS), garbage), times=st.lists(st.one_of(st.floats(), st.sampled_from([10 ** 400, 1e18, "5", None])), min_size=1,
                                                               max_size=8))
def test_step_never_raises_and_never_returns_nan(values, times):
    ctl = SurvivalController(default_config())
    for now in times:
        d = ctl.step(now, values)
        assert math.isfinite(d.r_total) and 0.0 <= d.r_total <= 1.0
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in d.layers.values())
        assert d.exits_allowed
        assert isinstance(d.reasons, tuple)
