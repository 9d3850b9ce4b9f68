"""The one numba-compiled kernel of the survival controller.

Everything that decides — input transforms, fail-safe handling, damping, the product of
layers, the Schmitt-trigger postures, caps and dwell — lives in :func:`step_into`. The
scalar :class:`controller.SurvivalController` and the batch evaluator both call it, so
there is exactly one source of truth for the math.

A compiled config is three float64 arrays (see :mod:`controller.compiled`):

* ``g``   global row: posture thresholds, dwell, leverage caps;
* ``lay`` one row per layer: weight, recovery rate, invariant flag, posture cap;
* ``inp`` one row per input: signal column, transform code and its parameters.

State is one float64 vector (``state_size``); outputs are written into ``out``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "XF_FLAG", "XF_MAX_AGE", "XF_DECAY", "XF_IMPULSE", "XF_SIGMOID", "XF_STEP",
    "G_ENTER", "G_LEAVE", "G_DWELL", "G_LEVERAGE", "G_SIZE",
    "LY_WEIGHT", "LY_RATE", "LY_INVARIANT", "LY_CAP_BELOW", "LY_CAP", "LY_SIZE",
    "IN_SIG", "IN_XF", "IN_LAYER", "IN_LO", "IN_TAU", "IN_P0", "IN_P1", "IN_P2", "IN_P3", "IN_P4", "IN_SIZE",
    "S_T_PREV", "S_INIT", "S_POSTURE", "S_T_ENTER", "S_T_OFF", "S_HEAD", "MAX_TIME_JUMP_S",
    "O_R", "O_POSTURE", "O_FLAGS", "O_CAPPED", "O_NO_TAKER", "O_LEVERAGE", "O_HEAD",
    "F_INVARIANT", "F_INVALID", "F_TIME_BACK", "F_DWELL_HOLD", "F_DEGRADED", "F_TIME_JUMP",
    "state_size", "out_size", "new_state", "advance_time", "input_confidence", "layers_raw_into", "decide", "step_into",
    "batch_times", "batch_inputs", "batch_layers", "batch_decide",
]

# Transform codes of an input row.
XF_FLAG = 0       # 1.0 when x > 0.5 else 0.0 (invariant flags)
XF_MAX_AGE = 1    # 1.0 when x <= P0 else 0.0 (keepalive)
XF_DECAY = 2      # P2 + (1-P2) 2^-((P1 e)^P4), e = max(0, P3 (x - P0)); P1 = 1/half-life, P3 = +1 higher
                  # worse / -1 lower worse, P4 = shape (1: the plain exponential)
XF_IMPULSE = 3    # 1 - P0 * residual impulse; impulse of magnitude x, cooling linearly over P1 seconds
XF_SIGMOID = 4    # sigmoid s(x)/P2, s(x) = 1/(1+exp(P0 (x - P1))); P2 = s(0) (normalised) or 1 (raw)
XF_STEP = 5       # 1.0 when x <= P0 else P1 (a flat ladder rung)

_LN2 = math.log(2.0)

# Global row: enter thresholds [TURTLE, STALKER, APEX] at G_ENTER+1..3 (index by posture),
# leave thresholds likewise, dwell and leverage per posture (index 0..3).
G_ENTER = 0
G_LEAVE = 4
G_DWELL = 8
G_LEVERAGE = 12
G_SIZE = 16

# Layer row.
LY_WEIGHT = 0
LY_RATE = 1         # recovery per second (absolute multiplier units)
LY_INVARIANT = 2    # 1.0: raw 0 forces r_total = 0 and HIBERNATE
LY_CAP_BELOW = 3    # damped value below this caps the posture (negative: no cap)
LY_CAP = 4          # the posture cap (0..3); taker is disabled while capped
LY_SIZE = 5

# Input row.
IN_SIG = 0
IN_XF = 1
IN_LAYER = 2
IN_LO = 3           # values below are invalid (ages: 0)
IN_TAU = 4          # EWMA time constant in seconds (0: off)
IN_P0 = 5
IN_P1 = 6
IN_P2 = 7
IN_P3 = 8
IN_P4 = 9
IN_SIZE = 10

# State vector: a head, then one damped value per layer, then 4 slots per input
# (ewma value, ewma initialised, impulse magnitude, impulse start time).
S_T_PREV = 0
S_INIT = 1
S_POSTURE = 2
S_T_ENTER = 3
S_T_OFF = 4         # the last timestamp that was off the time base (a jump or a step back); NaN: none
S_HEAD = 5

# Output vector: a head, then damped value per layer, raw value per layer,
# confidence per input, invalid flag per input.
O_R = 0
O_POSTURE = 1
O_FLAGS = 2
O_CAPPED = 3
O_NO_TAKER = 4
O_LEVERAGE = 5
O_HEAD = 6

# Bits of out[O_FLAGS].
F_INVARIANT = 1
F_INVALID = 2
F_TIME_BACK = 4
F_DWELL_HOLD = 8
F_DEGRADED = 16
F_TIME_JUMP = 32

MAX_TIME_JUMP_S = 3600.0
"""Default largest forward step of ``now_s`` credited as elapsed time (see :func:`advance_time`)."""


def state_size(n_layers: int, n_inputs: int) -> int:
    """Length of the state vector of a config with this many layers and inputs."""
    return S_HEAD + n_layers + 4 * n_inputs


def out_size(n_layers: int, n_inputs: int) -> int:
    """Length of the output vector of a config with this many layers and inputs."""
    return O_HEAD + 2 * n_layers + 2 * n_inputs


def new_state(n_layers: int, n_inputs: int) -> np.ndarray:
    """A fresh controller's state: APEX, every layer at 1.0, no history."""
    state = np.zeros(state_size(n_layers, n_inputs))
    state[S_POSTURE] = 3.0
    state[S_T_OFF] = math.nan
    state[S_HEAD:S_HEAD + n_layers] = 1.0
    return state


@njit(cache=True, nogil=True, inline="always")
def _confidence(row, x, now, dt, state, base):
    """Confidence in [0, 1] of one input; returns (confidence, invalid)."""
    xf = int(row[IN_XF])
    invalid = not math.isfinite(x) or x < row[IN_LO]
    if xf == XF_FLAG:
        if invalid:
            return 0.0, True
        return (1.0 if x > 0.5 else 0.0), False
    if xf == XF_MAX_AGE:
        if invalid:
            return 0.0, True
        return (1.0 if x <= row[IN_P0] else 0.0), False
    if xf == XF_DECAY:
        floor = row[IN_P2]
        if invalid:
            return floor, True
        tau = row[IN_TAU]
        if tau > 0.0:
            if state[base + 1] == 0.0:
                state[base] = x
                state[base + 1] = 1.0
            else:
                state[base] += (1.0 - math.exp(-dt / tau)) * (x - state[base])
            x = state[base]
        excess = row[IN_P3] * (x - row[IN_P0])
        if excess <= 0.0:
            return 1.0, False
        scaled = row[IN_P1] * excess
        if row[IN_P4] != 1.0:
            scaled = scaled ** row[IN_P4]
        return floor + (1.0 - floor) * math.exp(-_LN2 * scaled), False
    if xf == XF_IMPULSE:
        m = 1.0 if invalid else min(x, 1.0)
        mag = state[base + 2]
        residual = 0.0
        if mag > 0.0:
            residual = mag * min(1.0, max(0.0, 1.0 - (now - state[base + 3]) / row[IN_P1]))
        if m > residual + 1e-12:
            state[base + 2] = m
            state[base + 3] = now
            residual = m
        return 1.0 - row[IN_P0] * residual, invalid
    if xf == XF_STEP:
        if invalid or x > row[IN_P0]:
            return row[IN_P1], invalid
        return 1.0, False
    # XF_SIGMOID
    if invalid:
        x = 1.0
    x = min(x, 1.0)
    s = 1.0 / (1.0 + math.exp(row[IN_P0] * (x - row[IN_P1])))
    return min(1.0, s / row[IN_P2]), invalid


@njit(cache=True, nogil=True, inline="always")
def _next_posture(g, posture, r, now, t_enter, broken, cap):
    """Schmitt trigger with dwell and cap; returns (posture, dwell_hold)."""
    if broken:
        return 0, False
    p = posture
    while p > 0 and r < g[G_LEAVE + p]:
        p -= 1
    hold = False
    if p == posture:
        up = p
        while up < 3 and r >= g[G_ENTER + up + 1]:
            up += 1
        if up > p:
            if now - t_enter >= g[G_DWELL + p]:
                p = up
            else:
                hold = True
    if p > cap:
        p = cap
    return p, hold


@njit(cache=True, nogil=True, inline="always")
def advance_time(state, now, max_jump):
    """Validated time of this step and the time since the last one; returns (now, dt, flags).

    Time that is not finite, goes backwards, or jumps forward by more than ``max_jump`` seconds is off
    the time base: the step is held at the last time (dt = 0: no recovery is earned) and flagged. One
    such timestamp never moves the base; when the next one confirms it (at or after it, within
    ``max_jump``), the clock really moved and the base follows it — still with dt = 0, so a jump is
    never credited as elapsed time and a single absurd timestamp cannot freeze the controller.
    """
    prev = state[S_T_PREV]
    if state[S_INIT] == 0.0:
        if not math.isfinite(now):
            return 0.0, 0.0, F_TIME_BACK
        return now, 0.0, 0
    if not math.isfinite(now):
        return prev, 0.0, F_TIME_BACK
    if prev <= now <= prev + max_jump:
        state[S_T_OFF] = math.nan
        return now, now - prev, 0
    flag = F_TIME_JUMP if now > prev else F_TIME_BACK
    off = state[S_T_OFF]
    if off <= now <= off + max_jump:        # False while off is NaN
        state[S_T_OFF] = math.nan
        return now, 0.0, flag
    state[S_T_OFF] = now
    return prev, 0.0, flag


@njit(cache=True, nogil=True, inline="always")
def input_confidence(row, x, now, dt, input_state, base):
    """Confidence of one input row given its signal value; its state lives at input_state[base:base+4]."""
    return _confidence(row, x, now, dt, input_state, base)


@njit(cache=True, nogil=True, inline="always")
def layers_raw_into(n_lay, inp, out):
    """Raw layer values: the product, in input order, of each layer's input confidences.

    Reads confidences and invalid flags from ``out``; returns F_INVALID if any input was invalid.
    """
    n_inp = inp.shape[0]
    o_raw = O_HEAD + n_lay
    o_conf = O_HEAD + 2 * n_lay
    o_bad = o_conf + n_inp
    flags = 0
    for j in range(n_lay):
        out[o_raw + j] = 1.0
    for i in range(n_inp):
        if out[o_bad + i] != 0.0:
            flags |= F_INVALID
        out[o_raw + int(inp[i, IN_LAYER])] *= out[o_conf + i]
    return flags


@njit(cache=True, nogil=True, inline="always")
def decide(g, lay, n_lay, state, now, dt, flags, out):
    """Damping, r_total, caps and posture from the raw layer values in ``out``; updates ``state``.

    Reads the first ``n_lay`` rows of ``lay``.
    """
    o_raw = O_HEAD + n_lay
    r = 1.0
    broken = False
    cap = 3
    no_taker = False
    for j in range(n_lay):
        raw = out[o_raw + j]
        prev = state[S_HEAD + j]
        if raw == 1.0 and prev == 1.0:  # a healthy layer: nothing changes (the common case)
            out[O_HEAD + j] = 1.0
            continue
        if raw < prev:
            y = raw
        else:
            y = min(raw, prev + lay[j, LY_RATE] * dt)
        state[S_HEAD + j] = y
        out[O_HEAD + j] = y
        if y < 1.0:
            flags |= F_DEGRADED
        if lay[j, LY_INVARIANT] != 0.0 and raw <= 0.0:
            broken = True
        w = lay[j, LY_WEIGHT]
        if w == 1.0:
            r *= y
        elif w != 0.0:
            r *= y ** w
        if y < lay[j, LY_CAP_BELOW]:
            cap = min(cap, int(lay[j, LY_CAP]))
            no_taker = True
    if broken:
        r = 0.0
        flags |= F_INVARIANT
    r = min(max(r, 0.0), 1.0)
    posture = int(state[S_POSTURE])
    if state[S_T_ENTER] > now:            # the time base moved back: the dwell counts from here
        state[S_T_ENTER] = now
    p, hold = _next_posture(g, posture, r, now, state[S_T_ENTER], broken, cap)
    if hold:
        flags |= F_DWELL_HOLD
    if p != posture or state[S_INIT] == 0.0:
        state[S_T_ENTER] = now
    state[S_POSTURE] = p
    state[S_T_PREV] = now
    state[S_INIT] = 1.0
    out[O_R] = r
    out[O_POSTURE] = p
    out[O_FLAGS] = flags
    out[O_CAPPED] = 1.0 if cap < 3 else 0.0
    out[O_NO_TAKER] = 1.0 if (no_taker or p != 3) else 0.0
    out[O_LEVERAGE] = g[G_LEVERAGE + p]


@njit(cache=True, nogil=True)
def step_into(g, lay, inp, state, x, now, max_jump, out):
    """Advance the controller one step at time ``now`` with signal vector ``x``.

    Never raises on values: invalid inputs are read as the worst case for their layer.
    Writes r_total, posture, flags, caps, per-layer and per-input detail into ``out``.
    The batch evaluator runs the same stages: time, input confidences, layer products, decide.
    """
    n_lay = lay.shape[0]
    n_inp = inp.shape[0]
    now, dt, flags = advance_time(state, now, max_jump)
    o_conf = O_HEAD + 2 * n_lay
    for i in range(n_inp):
        row = inp[i]
        c, bad = _confidence(row, x[int(row[IN_SIG])], now, dt, state, S_HEAD + n_lay + 4 * i)
        out[o_conf + i] = c
        out[o_conf + n_inp + i] = 1.0 if bad else 0.0
    flags |= layers_raw_into(n_lay, inp, out)
    decide(g, lay, n_lay, state, now, dt, flags, out)


# --- Batch stages (used by controller.batch). They live in this file so that numba's cache,
# which tracks only the defining file, recompiles them whenever the kernel changes.


@njit(cache=True, nogil=True)
def batch_times(t, max_jump):
    """The validated time and dt of each step of a fresh controller over ``t``."""
    n = t.shape[0]
    now = np.empty(n)
    dt = np.empty(n)
    flags = np.empty(n, dtype=np.int64)
    state = np.zeros(S_HEAD)
    state[S_T_OFF] = math.nan
    for i in range(n):
        now[i], dt[i], flags[i] = advance_time(state, t[i], max_jump)
        state[S_T_PREV] = now[i]
        state[S_INIT] = 1.0
    return now, dt, flags


@njit(parallel=True, cache=True, nogil=True)
def batch_inputs(U, ustate, X, now, dt, i0, i1, conf, bad):
    """Stage 1a: confidence of every distinct input row over steps [i0, i1) (time-major)."""
    for u in prange(U.shape[0]):
        row = U[u]
        col = int(row[IN_SIG])
        for i in range(i0, i1):
            c, b = input_confidence(row, X[i, col], now[i], dt[i], ustate[u], 0)
            conf[i - i0, u] = c
            bad[i - i0, u] = b


@njit(parallel=True, cache=True, nogil=True)
def batch_layers(L, n_l, conf, bad, n, raw, invalid):
    """Stage 1b: raw value of every distinct layer (product of its inputs, in input order)."""
    for i in prange(n):
        for m in range(L.shape[0]):
            value = 1.0
            any_bad = False
            for q in range(n_l[m]):
                value *= conf[i, L[m, q]]
                any_bad |= bad[i, L[m, q]]
            raw[i, m] = value
            invalid[i, m] = any_bad


@njit(parallel=True, cache=True, nogil=True)
def batch_decide(G, LAY, n_lay, lmap, STATE, OUT, now, dt, flags, i0, i1, raw, invalid,
            full, r_out, p_out, l_out, summary):
    """Stage 2: every config's damping, r_total and posture over steps [i0, i1)."""
    for c in prange(G.shape[0]):
        nl = n_lay[c]
        lay = LAY[c]
        state = STATE[c]
        out = OUT[c]
        g = G[c]
        o_raw = O_HEAD + nl
        total = summary[c, 0]
        low = summary[c, 1]
        switches = summary[c, 3]
        previous = int(summary[c, 8])
        r = summary[c, 2]
        in_posture = np.zeros(4)
        t_last = now[i0 - 1] if i0 > 0 else now[0]
        for i in range(i0, i1):
            f = flags[i]
            rrow = raw[i - i0]
            brow = invalid[i - i0]
            for j in range(nl):
                m = lmap[c, j]
                out[o_raw + j] = rrow[m]
                if brow[m]:
                    f |= F_INVALID
            decide(g, lay, nl, state, now[i], dt[i], f, out)
            r = out[O_R]
            p = int(out[O_POSTURE])
            total += r
            if r < low:
                low = r
            if p != previous and i > 0:
                switches += 1
            in_posture[previous] += now[i] - t_last
            t_last = now[i]
            previous = p
            if full:
                r_out[c, i] = r
                p_out[c, i] = p
                for j in range(nl):
                    l_out[c, i, j] = out[O_HEAD + j]
        summary[c, 0] = total
        summary[c, 1] = low
        summary[c, 2] = r
        summary[c, 3] = switches
        summary[c, 8] = previous
        for q in range(4):
            summary[c, 4 + q] += in_posture[q]
