"""Hostile signals and time: numeric strings, integers beyond float range, absurd timestamps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller import NOMINAL_SIGNALS, SurvivalController, default_config, evaluate_batch

STALE = dict(NOMINAL_SIGNALS, **{"mc_forewarner.age_s": 7200.0})


def degraded(ctl: SurvivalController, until: int = 60) -> float:
    ctl.step(0.0, STALE)
    r = 0.0
    for t in range(1, until):
        r = ctl.step(float(t), NOMINAL_SIGNALS).r_total
    return r


@pytest.mark.parametrize("value", ["1", "1.0", b"1", "nan"])
def test_a_numeric_string_is_not_a_number_but_the_worst_case(value) -> None:
    d = SurvivalController(default_config()).step(0.0, dict(NOMINAL_SIGNALS, **{"hz.quorum": value}))
    assert d.r_total == 0.0 and d.posture.name == "HIBERNATE"
    assert any(r.startswith("hz.quorum unreadable") for r in d.reasons), d.reasons


def test_integers_beyond_float_range_do_not_raise() -> None:
    ctl = SurvivalController(default_config())
    d = ctl.step(10 ** 400, dict(NOMINAL_SIGNALS, **{"portfolio.drawdown": 10 ** 400, "hz.quorum": -10 ** 400}))
    assert d.r_total == 0.0 and math.isnan(d.t_s)
    assert any("portfolio.drawdown unreadable" in r for r in d.reasons)
    assert ctl.step(1.0, NOMINAL_SIGNALS).r_total >= 0.0


def test_one_absurd_timestamp_neither_unlocks_recovery_nor_freezes_the_controller() -> None:
    ctl = SurvivalController(default_config())
    before = degraded(ctl)
    assert before < 0.5
    jump = ctl.step(1e18, NOMINAL_SIGNALS)
    assert jump.r_total == pytest.approx(before, abs=1e-12)          # no recovery credited
    assert any("time jumped forward" in r for r in jump.reasons)
    after = [ctl.step(float(t), NOMINAL_SIGNALS) for t in range(60, 120)]
    assert all(not any("time" in r for r in d.reasons) for d in after)   # normal time is normal again
    assert after[-1].r_total > before                                   # and recovery goes on, slowly
    assert after[-1].r_total < before + 0.05
    again = ctl.step(120.0, STALE)                                     # a later degradation is seen …
    assert again.r_total < after[-1].r_total
    assert ctl.step(180.0, NOMINAL_SIGNALS).r_total > again.r_total     # … and recovers


def test_a_clock_that_really_moved_is_followed_after_one_confirming_step() -> None:
    ctl = SurvivalController(default_config())
    before = degraded(ctl)
    first = ctl.step(1e6, NOMINAL_SIGNALS)
    second = ctl.step(1e6 + 1.0, NOMINAL_SIGNALS)
    assert any("time jumped forward" in r for r in first.reasons + second.reasons)
    assert second.r_total == pytest.approx(before, abs=1e-12)          # the gap itself is never credited
    third = ctl.step(1e6 + 61.0, NOMINAL_SIGNALS)
    assert not any("time" in r for r in third.reasons) and third.r_total > before


def test_time_that_went_back_for_good_is_followed_too() -> None:
    ctl = SurvivalController(default_config())
    ctl.step(1e18, NOMINAL_SIGNALS)                       # an absurd first timestamp sets the base …
    ctl.step(5.0, NOMINAL_SIGNALS)
    d = ctl.step(6.0, STALE)                              # … two consistent later ones re-base it
    assert d.r_total < 1.0 and not any("time" in r for r in ctl.step(7.0, STALE).reasons)


def test_batch_and_scalar_agree_through_time_jumps() -> None:
    t = np.array([0.0, 1.0, 2.0, 1e18, 3.0, 4.0, 5e4, 5e4 + 1, 5e4 + 2, 1.0, 5e4 + 3, math.nan, 5e4 + 60])
    n = t.size
    trace = {"t_s": t, **{k: np.full(n, v) for k, v in NOMINAL_SIGNALS.items()}}
    trace["mc_forewarner.age_s"] = np.where(np.arange(n) < 2, 7200.0, 10.0)
    cfg = default_config()
    ctl = SurvivalController(cfg)
    scalar = [ctl.step(float(t[i]), {k: float(v[i]) for k, v in trace.items() if k != "t_s"}) for i in range(n)]
    batch = evaluate_batch([cfg], trace)
    assert batch.r_total[0].tolist() == [d.r_total for d in scalar]
    assert batch.posture[0].tolist() == [int(d.posture) for d in scalar]
