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

    __slots__ = ("inputs", "layers")

    def __init__(self, compiled: CompiledConfig) -> None:
        column = {s: i for i, s in enumerate(compiled.signal_names)}
        layers = compiled.config.layers
        # per input: (signal, its column in x, its layer's name, the layer is an invariant)
        self.inputs = tuple((signal, column[signal], layers[j].name, bool(layers[j].invariant))
                            for signal, j in zip(compiled.input_signals, compiled.input_layers))
        # per layer: (name, cap_below, posture-cap text or None, invariant, recovery_per_min)
        self.layers = tuple((ly.name, ly.cap_below,
                             None if ly.cap_below is None or ly.posture_cap is None else ly.posture_cap.name,
                             bool(ly.invariant), ly.recovery_per_min) for ly in layers)


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
    n_lay = len(plan.layers)
    o_raw, o_conf = k.O_HEAD + n_lay, k.O_HEAD + 2 * n_lay
    o_bad = o_conf + len(plan.inputs)
    vals = out.tolist()
    invariants, invalid, caps, degraded = [], [], [], []
    for i, (signal, col, layer_name, invariant) in enumerate(plan.inputs):
        if vals[o_bad + i]:
            value = float(x[col])
            bad_text = dict(unreadable)
            what = ("missing" if signal in missing else
                    f"unreadable {bad_text[signal]}" if signal in bad_text else _describe_invalid(value))
            invalid.append(f"{signal} {what}: worst case for {layer_name}")
        if invariant and vals[o_conf + i] <= 0.0:
            invariants.append(f"invariant {layer_name} broken ({signal}={float(x[col]):g}): r_total 0, HIBERNATE")
    for j, (name, cap_below, cap_name, invariant, recovery) in enumerate(plan.layers):
        y = vals[k.O_HEAD + j]
        if cap_name is not None and y < cap_below:
            caps.append(f"{name} {y:.2f} < {cap_below:.2f}: posture capped at {cap_name}, taker off")
        if y < 1.0:
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
