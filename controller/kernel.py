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
    "damp_layer", "batch_times", "batch_inputs", "batch_layers", "batch_instances", "batch_signatures",
    "batch_postures", "BS_SIZE", "CHUNK",
    "WA_SUM", "WA_MIN", "WA_REACT", "WA_HIBERNATE", "WA_SWITCHES", "WA_OUT_OF_APEX_S", "WA_STEPS", "WA_INVARIANT",
    "WA_SIZE", "SM_SUM", "SM_MIN", "SM_FINAL", "SM_SWITCHES", "SM_IN_POSTURE", "SM_POSTURE", "SM_WORST_HOUR",
    "SM_RING_N", "SM_INV_NOT_HIB", "SM_T_ENTER", "SM_T_LAST", "SM_SIZE", "SWITCH_RING", "HOUR_S",
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

# Per-window accumulators of the batch (one row per config and window label): sum and min of r_total,
# first time r_total < react_below, first time in HIBERNATE, posture switches, seconds out of APEX
# (the posture held over each step's interval), steps, first time an invariant was broken.
WA_SUM = 0
WA_MIN = 1
WA_REACT = 2
WA_HIBERNATE = 3
WA_SWITCHES = 4
WA_OUT_OF_APEX_S = 5
WA_STEPS = 6
WA_INVARIANT = 7
WA_SIZE = 8

# Per-config summary row of the batch: sum, min and final r_total, switches, seconds per posture (4),
# posture, most switches within any HOUR_S, switches pushed to the ring, steps with an invariant broken
# but not in HIBERNATE, the posture's entry time and the last step's time.
SM_SUM = 0
SM_MIN = 1
SM_FINAL = 2
SM_SWITCHES = 3
SM_IN_POSTURE = 4
SM_POSTURE = 8
SM_WORST_HOUR = 9
SM_RING_N = 10
SM_INV_NOT_HIB = 11
SM_T_ENTER = 12
SM_T_LAST = 13
SM_SIZE = 14
SWITCH_RING = 64
"""Switch times kept per config for the sliding-hour count (which saturates at this many)."""
HOUR_S = 3600.0
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
def damp_layer(row, raw, prev, dt):
    """One layer's damping from its raw value; returns (damped y, factor of r_total, broken, capped).

    Fast attack, slow recovery (``LY_RATE`` per second); the factor is ``y ** weight`` (1.0 for weight 0,
    so multiplying by it is exact). A healthy layer (raw and previous value exactly 1.0) is (1, 1, no, no).
    """
    if raw == 1.0 and prev == 1.0:
        return 1.0, 1.0, False, False
    y = raw if raw < prev else min(raw, prev + row[LY_RATE] * dt)
    w = row[LY_WEIGHT]
    f = y if w == 1.0 else (y ** w if w != 0.0 else 1.0)
    return y, f, row[LY_INVARIANT] != 0.0 and raw <= 0.0, y < row[LY_CAP_BELOW]


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
        y, f, broken_j, capped = damp_layer(lay[j], out[o_raw + j], state[S_HEAD + j], dt)
        state[S_HEAD + j] = y
        out[O_HEAD + j] = y
        if y < 1.0:
            flags |= F_DEGRADED
        broken |= broken_j
        r *= f                          # exact when f == 1.0
        if capped:
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


# --- Batch stages (used by controller.batch). They live in this file because numba's cache tracks only
# the defining file: a batch stage compiled elsewhere would keep a stale copy of the kernel it inlines.


@njit(cache=True, nogil=True)
def batch_times(t, starts, max_jump):
    """The validated time and dt of each step over ``t``, a fresh controller at each index in ``starts``."""
    n = t.shape[0]
    now = np.empty(n)
    dt = np.empty(n)
    state = np.zeros(S_HEAD)
    s = 0
    for i in range(n):
        if s < starts.shape[0] and starts[s] == i:
            state[:] = 0.0
            state[S_T_OFF] = math.nan
            s += 1
        now[i], dt[i], _ = advance_time(state, t[i], max_jump)
        state[S_T_PREV] = now[i]
        state[S_INIT] = 1.0
    return now, dt


@njit(parallel=True, cache=True, nogil=True)
def batch_inputs(U, ustate, XT, now, dt, i0, i1, conf):
    """Stage 1: confidence ``conf[u, q]`` of every distinct input row over steps [i0, i1); XT is signal-major."""
    for u in prange(U.shape[0]):
        row = U[u]
        x = XT[int(row[IN_SIG])]
        out = conf[u]
        for i in range(i0, i1):
            out[i - i0] = input_confidence(row, x[i], now[i], dt[i], ustate[u], 0)[0]


@njit(parallel=True, cache=True, nogil=True)
def batch_layers(L, n_l, conf, n, raw):
    """Stage 2: raw value ``raw[m, q]`` of every distinct layer (product of its inputs, in input order)."""
    for m in prange(L.shape[0]):
        out = raw[m]
        if n_l[m] == 0:
            out[:n] = 1.0
            continue
        out[:n] = conf[L[m, 0], :n]
        for j in range(1, n_l[m]):
            src = conf[L[m, j]]
            for q in range(n):
                out[q] *= src[q]


@njit(parallel=True, cache=True, nogil=True)
def batch_instances(INST, inst_layer, istate, raw, dt, i0, n, full, Y, PW, LIM, act_from):
    """Stage 3: damping of every distinct layer instance (a raw layer with its layer row) over n steps.

    Writes the factor of r_total ``PW`` and ``LIM`` (-1: invariant broken, else the posture cap, 3: none)
    from ``act_from[u]``, the first step whose factor or limit is not neutral (n: none; the steps before it
    are neutral and left unwritten), and the damped value ``Y`` of every step when ``full``.
    """
    for u in prange(INST.shape[0]):
        row = INST[u]
        src = raw[inst_layer[u]]
        prev = istate[u]
        first = n
        for q in range(n):
            y, f, broken, capped = damp_layer(row, src[q], prev, dt[i0 + q])
            prev = y
            if full:
                Y[u, q] = y
            lim = -1 if broken else (int(row[LY_CAP]) if capped else 3)
            if first == n and (f != 1.0 or lim != 3):
                first = q
            if first < n:
                PW[u, q] = f
                LIM[u, q] = lim
        istate[u] = prev
        act_from[u] = first


# Per-signature statistics of each CHUNK steps of a block (BS columns): sum, min and max of r_total, first
# time r < react_below, first time an invariant was broken, lowest limit.
BS_SUM = 0
BS_MIN = 1
BS_MAX = 2
BS_REACT = 3
BS_INVARIANT = 4
BS_LIM = 5
BS_SIZE = 6
CHUNK = 128
"""Steps per chunk: the grain at which a settled config skips steps."""


@njit(parallel=True, cache=True, nogil=True)
def batch_signatures(SIG, n_sig, PW, LIM, act_from, now, i0, n, react_below, R, SL, BS):
    """Stage 4: r_total and limit of every distinct signature (the active instances of a config, in layer order).

    The product runs in layer order as in :func:`decide`; inactive instances (factor exactly 1.0) are
    left out, which is exact. Also fills the statistics ``BS[s, chunk]`` of each CHUNK steps (BS_*).
    """
    for s in prange(n_sig):
        r_row = R[s]
        l_row = SL[s]
        r_row[:n] = 1.0
        l_row[:n] = 3
        for j in range(SIG.shape[1]):
            u = SIG[s, j]
            if u < 0:
                break
            for q in range(act_from[u], n):       # before act_from: factor 1.0, limit 3
                r_row[q] *= PW[u, q]
                if LIM[u, q] < l_row[q]:
                    l_row[q] = LIM[u, q]
        for h in range((n + CHUNK - 1) // CHUNK):
            bs = BS[s, h]
            bs[BS_SUM] = 0.0
            bs[BS_MIN] = math.inf
            bs[BS_MAX] = -math.inf
            bs[BS_REACT] = math.nan
            bs[BS_INVARIANT] = math.nan
            bs[BS_LIM] = 3
            for q in range(h * CHUNK, min(n, (h + 1) * CHUNK)):
                r = 0.0 if l_row[q] < 0 else r_row[q]
                r = min(max(r, 0.0), 1.0)
                r_row[q] = r
                bs[BS_SUM] += r
                bs[BS_MIN] = min(bs[BS_MIN], r)
                bs[BS_MAX] = max(bs[BS_MAX], r)
                if r < react_below and math.isnan(bs[BS_REACT]):
                    bs[BS_REACT] = now[i0 + q]
                if l_row[q] < 0 and math.isnan(bs[BS_INVARIANT]):
                    bs[BS_INVARIANT] = now[i0 + q]
                bs[BS_LIM] = min(bs[BS_LIM], l_row[q])


@njit(cache=True, nogil=True, inline="always")
def _switch_in_hour(ring, sm, now):
    """Record a switch at ``now``; return the switches within the last HOUR_S (at most SWITCH_RING)."""
    n = int(sm[SM_RING_N])
    ring[n % SWITCH_RING] = now
    sm[SM_RING_N] = n + 1
    count = 0
    for q in range(min(n + 1, SWITCH_RING)):
        if now - ring[(n - q) % SWITCH_RING] < HOUR_S:
            count += 1
        else:
            break
    return count


@njit(cache=True, nogil=True, inline="always")
def _posture_steps(g, r_row, l_row, now, i0, a, b, first, sm, wacc, ring, p_out):
    """Postures of one config over steps [a, b) of a block, one by one; updates ``sm`` and the window row."""
    p = int(sm[SM_POSTURE])
    t_enter = sm[SM_T_ENTER]
    t_last = sm[SM_T_LAST]
    for q in range(a, b):
        t = now[i0 + q]
        lim = l_row[q]
        broken = lim < 0
        if t_enter > t:                   # the time base moved back: the dwell counts from here
            t_enter = t
        nxt, _ = _next_posture(g, p, r_row[q], t, t_enter, broken, 3 if broken else lim)
        switched = nxt != p and not (first and q == a)
        if switched:
            sm[SM_SWITCHES] += 1.0
            in_hour = _switch_in_hour(ring, sm, t)
            if in_hour > sm[SM_WORST_HOUR]:
                sm[SM_WORST_HOUR] = in_hour
        if broken and nxt != 0:
            sm[SM_INV_NOT_HIB] += 1.0
        if wacc.shape[0] > 0:
            if nxt == 0 and math.isnan(wacc[WA_HIBERNATE]):
                wacc[WA_HIBERNATE] = t
            if switched:
                wacc[WA_SWITCHES] += 1.0
            if p != 3:
                wacc[WA_OUT_OF_APEX_S] += t - t_last
        sm[SM_IN_POSTURE + p] += t - t_last
        t_last = t
        if nxt != p:
            t_enter = t
        p = nxt
        if p_out.shape[0] > 0:
            p_out[i0 + q] = p
    sm[SM_POSTURE] = p
    sm[SM_T_ENTER] = t_enter
    sm[SM_T_LAST] = t_last


@njit(cache=True, nogil=True, inline="always")
def _settled(g, p, bs):
    """True when posture ``p`` holds for every step of a chunk with these statistics (no switch, no hold).

    HIBERNATE holds while r_total stays below TURTLE's enter threshold (a broken invariant reads 0);
    a higher posture while no limit is below it, r_total stays at or above its leave threshold and
    below the next posture's enter threshold.
    """
    if p == 0:
        return bs[BS_MAX] < g[G_ENTER + 1]
    if bs[BS_LIM] < p or bs[BS_MIN] < g[G_LEAVE + p]:
        return False
    return p == 3 or bs[BS_MAX] < g[G_ENTER + p + 1]


@njit(cache=True, nogil=True, inline="always")
def _hold(p, t0, t_end, t_min, sm, wacc):
    """A chunk from ``t0`` to ``t_end`` in which the posture stays ``p``: only the clocks move."""
    held = t_end - sm[SM_T_LAST]
    sm[SM_IN_POSTURE + p] += held
    if wacc.shape[0] > 0:
        if p != 3:
            wacc[WA_OUT_OF_APEX_S] += held
        if p == 0 and math.isnan(wacc[WA_HIBERNATE]):
            wacc[WA_HIBERNATE] = t0
    sm[SM_T_LAST] = t_end
    sm[SM_T_ENTER] = min(sm[SM_T_ENTER], t_min)


@njit(cache=True, nogil=True, inline="always")
def _add_chunk(sm, wacc, bs, m):
    """Add a chunk's r_total statistics (shared by every config of its signature)."""
    sm[SM_SUM] += bs[BS_SUM]
    sm[SM_MIN] = min(sm[SM_MIN], bs[BS_MIN])
    if wacc.shape[0] > 0:
        wacc[WA_SUM] += bs[BS_SUM]
        wacc[WA_MIN] = min(wacc[WA_MIN], bs[BS_MIN])
        if math.isnan(wacc[WA_REACT]):
            wacc[WA_REACT] = bs[BS_REACT]
        if math.isnan(wacc[WA_INVARIANT]):
            wacc[WA_INVARIANT] = bs[BS_INVARIANT]
        wacc[WA_STEPS] += m


@njit(parallel=True, cache=True, nogil=True)
def batch_postures(G, cfg_sig, R, SL, BS, now, t_min, i0, n, label, first, summary, WACC, RING, p_out):
    """Stage 5: every config's postures over a block of n steps of one window label and one case.

    Chunk by chunk: a config whose posture provably holds through a chunk (see :func:`_settled`)
    skips it in O(1); otherwise it steps. ``first``: the block starts a case (a fresh controller);
    ``t_min``: earliest time of each chunk. Accumulates ``summary`` (SM_*) and, for ``label >= 0``,
    ``WACC[c, label]`` (WA_*); ``p_out`` (C, T) gets postures when it has columns.
    """
    empty = np.empty(0)
    for c in prange(G.shape[0]):
        g = G[c]
        s = cfg_sig[c]
        sm = summary[c]
        if first:
            sm[SM_POSTURE] = 3.0
            sm[SM_T_ENTER] = now[i0]
            sm[SM_T_LAST] = now[i0]
            sm[SM_RING_N] = 0.0
        sm[SM_FINAL] = R[s, n - 1]
        wacc = WACC[c, label] if label >= 0 else empty
        pc = p_out[c] if p_out.shape[1] > 0 else p_out[0]
        for h in range((n + CHUNK - 1) // CHUNK):
            a = h * CHUNK
            b = min(n, a + CHUNK)
            bs = BS[s, h]
            _add_chunk(sm, wacc, bs, b - a)
            p = int(sm[SM_POSTURE])
            if _settled(g, p, bs):
                _hold(p, now[i0 + a], now[i0 + b - 1], t_min[h], sm, wacc)
                if pc.shape[0] > 0:
                    pc[i0 + a:i0 + b] = p
            else:
                _posture_steps(g, R[s], SL[s], now, i0, a, b, first and a == 0, sm, wacc, RING[c], pc)
