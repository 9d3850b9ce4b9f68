"""Property tests of the controller: bounds, monotonicity, deadbands, damping, hysteresis."""

from __future__ import annotations

import math

from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from controller import NOMINAL_SIGNALS, Posture, SurvivalController, default_config

CONFIG = default_config()
AGES = ["heartbeat.age_s", "mc_forewarner.age_s", "scan.age_s", "ob.age_s", "exf.age_s", "esof.age_s"]
RATE_PER_S = {ly.name: ly.recovery_per_min / 60.0 for ly in CONFIG.layers}
DEADBANDS = {i.signal: i.param("deadband") for ly in CONFIG.layers for i in ly.inputs if i.transform == "decay"}


def fresh_r(**changes: float) -> float:
    return SurvivalController(CONFIG).step(0.0, dict(NOMINAL_SIGNALS, **changes)).r_total


@given(signal=st.sampled_from(AGES), a=st.floats(0, 1e6), b=st.floats(0, 1e6))
def test_monotone_non_increasing_in_each_age(signal, a, b):
    lo, hi = min(a, b), max(a, b)
    assert fresh_r(**{signal: lo}) >= fresh_r(**{signal: hi})


@given(signal=st.sampled_from(sorted(DEADBANDS)), frac=st.floats(0, 1))
def test_deadband_exactness(signal, frac):
    nominal = NOMINAL_SIGNALS[signal]
    deadband = DEADBANDS[signal]
    lo, hi = sorted((nominal, deadband))
    value = lo + frac * (hi - lo)
    assert fresh_r(**{signal: value}) == 1.0


class ControllerMachine(RuleBasedStateMachine):
    """Random signal sequences; after every step the invariants must hold."""

    @initialize()
    def start(self):
        self.ctl = SurvivalController(CONFIG)
        self.t = 0.0
        self.signals = dict(NOMINAL_SIGNALS)
        self.last = self.ctl.step(self.t, self.signals)
        self.prev = None

    @rule(signal=st.sampled_from(AGES), age=st.floats(0, 20000))
    def set_age(self, signal, age):
        self.signals[signal] = age

    @rule(signal=st.sampled_from(["hz.quorum", "ledger.consistent", "data.checksum_ok"]), ok=st.booleans())
    def set_flag(self, signal, ok):
        self.signals[signal] = 1.0 if ok else 0.0

    @rule(shock=st.floats(0, 1), dd=st.floats(0, 0.5), depth=st.floats(0, 2), lat=st.floats(0, 5000))
    def set_levels(self, shock, dd, depth, lat):
        self.signals.update({"exf.shock": shock, "portfolio.drawdown": dd, "ob.depth_ratio": depth,
                             "ob.latency_ms": lat})

    @rule()
    def heal(self):
        self.signals = dict(NOMINAL_SIGNALS)

    @rule(dt=st.floats(0.01, 600))
    def step(self, dt):
        self.t += dt
        self.prev = self.last
        self.last = self.ctl.step(self.t, self.signals)
        note(f"t={self.t:.2f} posture={self.last.posture.name} r={self.last.r_total:.4f}")

    @invariant()
    def bounded_and_exits_allowed(self):
        d = self.last
        assert math.isfinite(d.r_total) and 0.0 <= d.r_total <= 1.0
        assert d.exits_allowed
        assert d.entries_allowed == (d.posture >= Posture.STALKER)
        assert not d.taker_allowed or d.posture is Posture.APEX

    @invariant()
    def recovery_never_faster_than_configured(self):
        if self.prev is None:
            return
        dt = self.last.t_s - self.prev.t_s
        for name, value in self.last.layers.items():
            rise = value - self.prev.layers[name]
            assert rise <= RATE_PER_S[name] * dt + 1e-12, (name, rise, dt)

    @invariant()
    def invariant_break_means_hibernate(self):
        if self.last.invariant_broken:
            assert self.last.r_total == 0.0 and self.last.posture is Posture.HIBERNATE


TestControllerMachine = ControllerMachine.TestCase


def test_fast_attack_follows_a_drop_at_once():
    ctl = SurvivalController(CONFIG)
    for t in range(60):
        ctl.step(float(t), NOMINAL_SIGNALS)
    d = ctl.step(60.0, dict(NOMINAL_SIGNALS, **{"mc_forewarner.age_s": 1800.0}))
    assert d.layers["mc_forewarner"] == fresh_layer("mc_forewarner", **{"mc_forewarner.age_s": 1800.0})


def fresh_layer(name: str, **changes: float) -> float:
    return SurvivalController(CONFIG).step(0.0, dict(NOMINAL_SIGNALS, **changes)).layers[name]


@given(center=st.floats(0.61, 0.84), amplitude=st.floats(0.0, 0.01), n=st.integers(10, 200))
def test_no_posture_change_while_r_flickers_inside_a_hysteresis_band(center, amplitude, n):
    """With r inside STALKER's band (0.60..0.85), flicker never changes the posture."""
    # Drive r through the drawdown layer, which we can invert exactly.
    ctl = SurvivalController(CONFIG)
    target_dd = _drawdown_for(center)
    ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"portfolio.drawdown": target_dd}))
    posture = ctl.step(1.0, dict(NOMINAL_SIGNALS, **{"portfolio.drawdown": target_dd})).posture
    assert posture is Posture.STALKER
    for i in range(n):
        r = center + (amplitude if i % 2 else -amplitude)
        r = min(max(r, 0.605), 0.845)
        d = ctl.step(2.0 + i, dict(NOMINAL_SIGNALS, **{"portfolio.drawdown": _drawdown_for(r)}))
        assert d.posture is Posture.STALKER


def _drawdown_for(r: float) -> float:
    """Drawdown whose capital layer alone equals r (normalised sigmoid, k=15, mid=0.15)."""
    s0 = 1.0 / (1.0 + math.exp(-15 * 0.15))
    s = r * s0
    return 0.15 + math.log(1.0 / s - 1.0) / 15.0
