"""The default config meets the spec's calibration points (design §2.2, issue 2)."""

from __future__ import annotations

import pytest

from controller import NOMINAL_SIGNALS, Posture, SurvivalController, default_config


@pytest.mark.parametrize("age_s", [0.0, 5.0, 29.9, 30.0])
def test_mc_forewarner_inside_deadband_is_exactly_one(fresh, age_s, one_step):
    assert one_step(fresh(), mc_forewarner__age_s=age_s).layers["mc_forewarner"] == 1.0


@pytest.mark.parametrize("age_s, target, tol", [(300.0, 0.85, 0.02), (1800.0, 0.40, 0.05), (7200.0, 0.10, 0.03)])
def test_mc_forewarner_calibration(fresh, age_s, target, tol, one_step):
    layer = one_step(fresh(), mc_forewarner__age_s=age_s).layers["mc_forewarner"]
    assert abs(layer - target) <= tol, layer


def test_mc_forewarner_floor_holds_for_very_long_outages(fresh, one_step):
    assert abs(one_step(fresh(), mc_forewarner__age_s=86400.0).layers["mc_forewarner"] - 0.10) <= 0.03


def test_esof_one_hour_stale_barely_matters(fresh, one_step):
    assert one_step(fresh(), esof__age_s=3600.0).layers["esof"] >= 0.98


def test_zero_drawdown_is_exactly_one_and_drawdown_taxes_smoothly(fresh, one_step):
    assert one_step(fresh(), portfolio__drawdown=0.0).layers["portfolio_dd"] == 1.0
    values = [one_step(fresh(), portfolio__drawdown=dd).layers["portfolio_dd"] for dd in (0.01, 0.05, 0.10, 0.15, 0.3)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert 0.97 < values[0] < 1.0  # no cliff right after zero


def test_nominal_signals_give_exactly_one_and_apex(fresh):
    ctl = fresh()
    for t in range(0, 600, 7):
        d = ctl.step(float(t), NOMINAL_SIGNALS)
        assert d.r_total == 1.0
        assert d.posture is Posture.APEX
        assert d.reasons == ()
        assert set(d.layers.values()) == {1.0}


@pytest.mark.parametrize("signal, bad", [("hz.quorum", 0.0), ("ledger.consistent", 0.0),
                                          ("data.checksum_ok", 0.0), ("heartbeat.age_s", 11.0)])
def test_any_broken_invariant_hibernates_in_the_same_step(fresh, signal, bad):
    ctl = fresh()
    for t in range(100):
        assert ctl.step(float(t), NOMINAL_SIGNALS).posture is Posture.APEX
    broken = dict(NOMINAL_SIGNALS, **{signal: bad})
    d = ctl.step(100.0, broken)
    assert d.r_total == 0.0
    assert d.posture is Posture.HIBERNATE
    assert d.invariant_broken
    assert not d.entries_allowed and d.exits_allowed
    assert any(signal in r for r in d.reasons)


def test_full_exf_shock_is_an_impulse_that_glides_back_in_60_to_75_minutes():
    ctl = SurvivalController(default_config())
    d = ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"exf.shock": 1.0}))
    assert d.layers["exf"] <= 0.30 + 1e-12  # 1 - 0.7 in binary floating point
    recovered_at = None
    for t in range(1, 3 * 3600):
        d = ctl.step(float(t), NOMINAL_SIGNALS)
        if d.layers["exf"] >= 0.95:
            recovered_at = t
            break
    assert recovered_at is not None
    assert 60 * 60 <= recovered_at <= 75 * 60, recovered_at


def test_a_new_shock_during_the_glide_drops_the_layer_again():
    ctl = SurvivalController(default_config())
    ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"exf.shock": 0.5}))
    for t in range(1, 1200):
        ctl.step(float(t), NOMINAL_SIGNALS)
    d = ctl.step(1200.0, dict(NOMINAL_SIGNALS, **{"exf.shock": 1.0}))
    assert d.layers["exf"] == pytest.approx(0.30)


def test_order_book_drop_compresses_gradually_and_caps_at_stalker():
    ctl = SurvivalController(default_config())
    seen = []
    for t in range(0, 900):
        d = ctl.step(float(t), dict(NOMINAL_SIGNALS, **{"ob.age_s": 0.1 + t}))
        seen.append(d)
    layers = [d.layers["ob_streamer"] for d in seen]
    assert all(a >= b for a, b in zip(layers, layers[1:]))  # gradual, monotone
    drops = [a - b for a, b in zip(layers, layers[1:])]
    assert max(drops) < 0.02  # no jump
    assert min(d.r_total for d in seen) > 0.6  # never the ladder's 20 %
    assert seen[-1].posture is Posture.STALKER and not seen[-1].taker_allowed and seen[-1].entries_allowed


def test_a_long_mc_forewarner_stall_alone_is_progressive_and_never_hibernates():
    ctl = SurvivalController(default_config())
    postures = {}
    for t in range(0, 4 * 3600, 10):
        d = ctl.step(float(t), dict(NOMINAL_SIGNALS, **{"mc_forewarner.age_s": 60.0 + t}))
        postures.setdefault(d.posture, t)
        assert d.posture is not Posture.HIBERNATE
    assert postures[Posture.APEX] == 0
    assert 300 <= postures[Posture.STALKER] <= 900      # mild first: 5 min stale is still APEX
    assert 1800 <= postures[Posture.TURTLE] <= 3600      # then progressive: exits only
