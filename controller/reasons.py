"""Human-readable reasons for a decision, built only when someone reads them."""

from __future__ import annotations

import math

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


def explain(compiled: CompiledConfig, out: np.ndarray, x: np.ndarray,
            missing: tuple[str, ...], unreadable: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Reasons, most severe first: invariant breaks, invalid inputs, caps, degraded layers, holds."""
    n_lay, n_inp = compiled.n_layers, compiled.n_inputs
    o_raw, o_conf = k.O_HEAD + n_lay, k.O_HEAD + 2 * n_lay
    o_bad = o_conf + n_inp
    column = {s: i for i, s in enumerate(compiled.signal_names)}
    bad_text = dict(unreadable)
    invariants, invalid, caps, degraded = [], [], [], []
    for i in range(n_inp):
        signal, j = compiled.input_signals[i], compiled.input_layers[i]
        layer = compiled.config.layers[j]
        value = float(x[column[signal]])
        if out[o_bad + i]:
            what = ("missing" if signal in missing else
                    f"unreadable {bad_text[signal]}" if signal in bad_text else _describe_invalid(value))
            invalid.append(f"{signal} {what}: worst case for {layer.name}")
        if layer.invariant and out[o_conf + i] <= 0.0:
            invariants.append(f"invariant {layer.name} broken ({signal}={value:g}): r_total 0, HIBERNATE")
    for j, layer in enumerate(compiled.config.layers):
        y, raw = float(out[k.O_HEAD + j]), float(out[o_raw + j])
        if layer.cap_below is not None and layer.posture_cap is not None and y < layer.cap_below:
            caps.append(f"{layer.name} {y:.2f} < {layer.cap_below:.2f}: posture capped at "
                        f"{layer.posture_cap.name}, taker off")
        if y < 1.0 and not (layer.invariant and raw <= 0.0):
            trend = f" (recovering to {raw:.2f} at {layer.recovery_per_min:g}/min)" if raw > y else ""
            degraded.append(f"{layer.name} {y:.3f}{trend}")
    flags = int(out[k.O_FLAGS])
    holds = []
    if flags & k.F_DWELL_HOLD:
        holds.append(f"holding {Posture(int(out[k.O_POSTURE])).name}: minimum dwell not yet served")
    if flags & k.F_TIME_BACK:
        holds.append("time went backwards or was not finite: no recovery this step")
    if flags & k.F_TIME_JUMP:
        holds.append("time jumped forward by more than max_time_jump_s: held, not credited as elapsed time, "
                     "no recovery this step")
    return tuple(invariants + invalid + caps + degraded + holds)
