"""Postures: Schmitt bands, minimum dwell, leverage caps and bet sizing."""

from __future__ import annotations

import pytest

from controller import NOMINAL_SIGNALS, Posture, SurvivalController, apply_overrides, default_config

from controller.defaults import DEFAULT_CONFIG_DATA


def drawdown_for(r: float) -> float:
    import math
    s0 = 1.0 / (1.0 + math.exp(-15 * 0.15))
    return max(0.0, 0.15 + math.log(1.0 / (r * s0) - 1.0) / 15.0)


def signals_for(r: float) -> dict[str, float]:
    return dict(NOMINAL_SIGNALS, **{"portfolio.drawdown": drawdown_for(r)})


@pytest.mark.parametrize("r, posture", [(0.95, Posture.APEX), (0.86, Posture.APEX), (0.84, Posture.STALKER),
                                        (0.61, Posture.STALKER), (0.59, Posture.TURTLE), (0.21, Posture.TURTLE),
                                        (0.19, Posture.HIBERNATE)])
def test_bands_going_down_from_apex(r, posture):
    assert SurvivalController(default_config()).step(0.0, signals_for(r)).posture is posture


def test_upgrades_need_the_enter_threshold_and_the_minimum_dwell():
    ctl = SurvivalController(default_config())  # TURTLE dwell 60 s, STALKER dwell 30 s
    assert ctl.step(0.0, signals_for(0.5)).posture is Posture.TURTLE
    assert ctl.step(100.0, signals_for(0.64)).posture is Posture.TURTLE  # below STALKER's enter 0.65
    # Raising the drawdown layer is rate-limited (1 %/min): wait until r reaches 0.70.
    t = 100.0
    d = None
    while t < 2000.0:
        t += 1.0
        d = ctl.step(t, signals_for(0.70))
        if d.posture is Posture.STALKER:
            break
    assert d is not None and d.posture is Posture.STALKER and d.r_total >= 0.65
    entered = t
    # APEX needs 0.92 and 30 s in STALKER; r climbs at 1 %/min so dwell is served long before.
    while t < entered + 3600.0:
        t += 1.0
        d = ctl.step(t, signals_for(1.0))
        if d.posture is Posture.APEX:
            break
    assert d.posture is Posture.APEX and d.r_total >= 0.92


def test_dwell_holds_an_upgrade_and_says_so():
    cfg = apply_overrides(default_config(), {"postures": {"hibernate": {"min_dwell_s": 600.0}}}, source="test")
    ctl = SurvivalController(cfg)
    ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"hz.quorum": 0.0}))
    held = None
    for t in range(1, 600):
        d = ctl.step(float(t), NOMINAL_SIGNALS)
        assert d.posture is Posture.HIBERNATE
        if d.r_total >= 0.25:
            held = d
    assert held is not None and any("minimum dwell" in r for r in held.reasons)
    assert ctl.step(600.0, NOMINAL_SIGNALS).posture is not Posture.HIBERNATE


def test_leverage_caps_and_sizing():
    caps = {p: DEFAULT_CONFIG_DATA["postures"][p.name.lower()]["max_leverage"] for p in Posture}
    for r in (1.0, 0.7, 0.4, 0.1):
        d = SurvivalController(default_config()).step(0.0, signals_for(r))
        assert d.max_leverage == caps[d.posture]
        expected = 10_000.0 * 0.02 * d.r_total * min(4.0, caps[d.posture]) if d.entries_allowed else 0.0
        assert d.size(10_000.0, 0.02, 4.0) == pytest.approx(expected)
    d = SurvivalController(default_config()).step(0.0, NOMINAL_SIGNALS)
    assert d.size(10_000.0, 0.02, 10.0) == pytest.approx(10_000.0 * 0.02 * 6.0)  # capped at APEX's 6x


def test_order_book_cap_turns_taker_off_but_keeps_maker_entries():
    d = SurvivalController(default_config()).step(0.0, dict(NOMINAL_SIGNALS, **{"ob.latency_ms": 2000.0}))
    assert d.posture_capped and not d.taker_allowed and d.entries_allowed
    assert d.posture <= Posture.STALKER


@pytest.mark.parametrize("start_r, expected", [(1.0, Posture.APEX), (0.70, Posture.STALKER)])
def test_flicker_between_leave_and_enter_keeps_whichever_posture_it_was_in(start_r, expected):
    """r flickers in APEX's band gap (0.85 <= r < 0.92): a Schmitt trigger holds the posture it
    came from — APEX stays APEX, STALKER stays STALKER — where one threshold would flip one of them."""
    ctl = SurvivalController(default_config())
    ctl.step(0.0, signals_for(start_r))
    t = 0.0
    if start_r < 0.85:  # climb into the gap from below: raises are rate-limited, so wait there
        while ctl.step(t, signals_for(0.86)).r_total < 0.859:
            t += 10.0
    for i in range(400):
        t += 1.0
        r = 0.86 if i % 2 else 0.91
        d = ctl.step(t, signals_for(r))
        assert d.posture is expected, (i, d.r_total)
