"""Human-readable reasons for a decision, built only when someone reads them."""

from __future__ import annotations

import math
import weakref

import numpy as np

from . import kernel as k
from .compiled import CompiledConfig
from .posture import Posture

__all__ = ["explain"]


def _describe_invalid(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:g} (negative)"


class _Plan:
    """What :func:`explain` reads of one compiled config, resolved once (the twin explains every step)."""

    __slots__ = ("inputs", "invariant_inputs", "layers", "caps")

    def __init__(self, compiled: CompiledConfig) -> None:
        column = {s: i for i, s in enumerate(compiled.signal_names)}
        layers = compiled.config.layers
        # per input: (signal, its column in x, its layer's name, the layer is an invariant)
        self.inputs = tuple((signal, column[signal], layers[j].name, bool(layers[j].invariant))
                            for signal, j in zip(compiled.input_signals, compiled.input_layers))
        self.invariant_inputs = tuple(i for i, inp in enumerate(self.inputs) if inp[3])
        # per layer: (name, invariant, recovery_per_min); per capping layer: (index, name, cap_below, cap text)
        self.layers = tuple((ly.name, bool(ly.invariant), ly.recovery_per_min) for ly in layers)
        self.caps = tuple((j, ly.name, ly.cap_below, ly.posture_cap.name) for j, ly in enumerate(layers)
                          if ly.cap_below is not None and ly.posture_cap is not None)


_PLANS: "weakref.WeakKeyDictionary[CompiledConfig, _Plan]" = weakref.WeakKeyDictionary()


def _plan(compiled: CompiledConfig) -> _Plan:
    plan = _PLANS.get(compiled)
    if plan is None:
        plan = _PLANS[compiled] = _Plan(compiled)
    return plan


def explain(compiled: CompiledConfig, out: np.ndarray, x: np.ndarray,
            missing: tuple[str, ...], unreadable: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Reasons, most severe first: invariant breaks, invalid inputs, caps, degraded layers, holds."""
    plan = _plan(compiled)
    n_lay, n_inp = len(plan.layers), len(plan.inputs)
    o_raw, o_conf = k.O_HEAD + n_lay, k.O_HEAD + 2 * n_lay
    o_bad = o_conf + n_inp
    vals = out.tolist()
    invariants, invalid, caps, degraded = [], [], [], []
    if any(vals[o_bad:o_bad + n_inp]) or any(vals[o_conf + i] <= 0.0 for i in plan.invariant_inputs):
        bad_text = dict(unreadable)
        for i, (signal, col, layer_name, invariant) in enumerate(plan.inputs):
            if vals[o_bad + i]:
                value = float(x[col])
                what = ("missing" if signal in missing else
                        f"unreadable {bad_text[signal]}" if signal in bad_text else _describe_invalid(value))
                invalid.append(f"{signal} {what}: worst case for {layer_name}")
            if invariant and vals[o_conf + i] <= 0.0:
                invariants.append(f"invariant {layer_name} broken ({signal}={float(x[col]):g}): "
                                  "r_total 0, HIBERNATE")
    ys = vals[k.O_HEAD:k.O_HEAD + n_lay]
    for j, name, cap_below, cap_name in plan.caps:
        if ys[j] < cap_below:
            caps.append(f"{name} {ys[j]:.2f} < {cap_below:.2f}: posture capped at {cap_name}, taker off")
    for j, y in enumerate(ys):
        if y < 1.0:
            name, invariant, recovery = plan.layers[j]
            raw = vals[o_raw + j]
            if not (invariant and raw <= 0.0):
                trend = f" (recovering to {raw:.2f} at {recovery:g}/min)" if raw > y else ""
                degraded.append(f"{name} {y:.3f}{trend}")
    flags = int(vals[k.O_FLAGS])
    holds = []
    if flags & k.F_DWELL_HOLD:
        holds.append(f"holding {Posture(int(vals[k.O_POSTURE])).name}: minimum dwell not yet served")
    if flags & k.F_TIME_BACK:
        holds.append("time went backwards or was not finite: no recovery this step")
    if flags & k.F_TIME_JUMP:
        holds.append("time jumped forward by more than max_time_jump_s: held, not credited as elapsed time, "
                     "no recovery this step")
    return tuple(invariants + invalid + caps + degraded + holds)
