"""Always-on safety checks (design §5): every run, every step, whether or not a scenario asks.

Each returns one :class:`CheckResult` of kind ``safety``; ``t_s`` is the first violation.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from controller import Posture

from .base import CheckResult
from .policy import SafetyPolicy
from .view import INVARIANT_FLAGS, RunView, first_true, fmt_t

__all__ = ["SAFETY_CHECKS", "run_safety"]

_HIB = int(Posture.HIBERNATE)
_LINK_FAULTS = ("link_down", "link_loss", "link_latency")
_LEDGER_KINDS = ("ledger_desync",)
_VENUE_FAULTS = ("exchange_outage", "exchange_gateway_down")   # cancels queued / refused until it heals
_SETTLE_S = 30.0


def _ok(name: str, message: str) -> CheckResult:
    return CheckResult.passed(name, "safety", message)


def _fail(name: str, t_s: float, message: str) -> CheckResult:
    return CheckResult.failed(name, "safety", t_s, message)


def r_total_bounds(run: RunView, _policy: SafetyPolicy) -> CheckResult:
    """r_total and every layer multiplier are finite and in [0, 1]."""
    for name, values in (("r_total", run.r), *((f"layer {n}", run.layer(n)) for n in run.layer_names())):
        i = first_true(~np.isfinite(values) | (values < 0.0) | (values > 1.0))
        if i >= 0:
            return _fail("r_total_bounds", run.t[i], f"{name} = {values[i]!r} at {fmt_t(run.t[i])}")
    return _ok("r_total_bounds", f"r_total and {len(run.layer_names())} layers finite in [0, 1] at {len(run.t)} steps")


def entries_within_posture(run: RunView, _policy: SafetyPolicy) -> CheckResult:
    """Entries only when the decision in force when they were sent (by the order of events, not timestamps
    alone) allows them (APEX or STALKER); taker entries only when that decision allows taker."""
    o, d = run.orders, run.decisions
    n = 0
    for i in range(len(o.get("id", ()))):
        if o["intent"][i] != "entry":
            continue
        n += 1
        j = run.decision_for_order(i)
        taker = o["kind"][i] == "taker"
        if j < 0 or not (d["entries_allowed"][j] and run.posture[j] >= int(Posture.STALKER)
                         and (not taker or d["taker_allowed"][j])):
            what = "before any decision" if j < 0 else (
                f"while the decision in force (step {j} at {fmt_t(run.t[j])}) was {d['posture'][j]} "
                f"(entries_allowed={bool(d['entries_allowed'][j])}, taker_allowed={bool(d['taker_allowed'][j])})")
            return _fail("entries_within_posture", o["t_s"][i],
                         f"{o['kind'][i]} entry order {o['id'][i]} at {fmt_t(o['t_s'][i])} {what}")
    return _ok("entries_within_posture", f"{n} entry orders, all within their posture's limits")


def leverage_within_cap(run: RunView, policy: SafetyPolicy) -> CheckResult:
    """An entry never takes exposure (booked positions + working entries sent before it, including those of
    the same instant + itself) past the max_leverage × equity of the decision in force when it was sent."""
    o, f, eq = run.orders, run.fills, run.equity
    booked = np.isfinite(f["t_booked_s"]) if len(f.get("id", ())) else np.zeros(0, dtype=bool)
    order = np.argsort(np.where(booked, f["t_booked_s"], np.inf), kind="stable") if len(booked) else []
    pos: dict[int, float] = {}
    last_px: dict[int, float] = {}
    k = 0
    worst = 0.0
    entries = [i for i in range(len(o.get("id", ()))) if o["intent"][i] == "entry"]   # rows: send order
    for n, i in enumerate(entries):
        t = o["t_s"][i]
        while k < len(order) and booked[order[k]] and f["t_booked_s"][order[k]] <= t:
            j = order[k]
            sign = 1.0 if f["side"][j] == "buy" else -1.0
            pos[f["asset"][j]] = pos.get(f["asset"][j], 0.0) + sign * f["qty"][j]
            last_px[f["asset"][j]] = f["price"][j]
            k += 1
        gross = sum(abs(q) * last_px[a] for a, q in pos.items())
        working = sum(o["qty"][j] * o["price"][j] for j in entries[:n] if not (o["t_done_s"][j] <= t))
        e = int(np.searchsorted(eq["t_s"], t, side="right")) - 1
        equity = eq["equity"][e] if e >= 0 else run.capital
        dj = run.decision_for_order(i)
        cap = run.decisions["max_leverage"][dj] if dj >= 0 else 0.0
        used = gross + working + o["qty"][i] * o["price"][i]
        worst = max(worst, used / max(equity, 1e-9))
        if used > cap * equity * (1.0 + policy.leverage_tolerance) + 1e-6:
            return _fail("leverage_within_cap", t, f"entry order {o['id'][i]} at {fmt_t(t)} takes exposure to "
                         f"{used / equity:.2f}× equity; posture cap {cap:g}×")
    return _ok("leverage_within_cap", f"{len(entries)} entries; peak exposure after an entry {worst:.2f}× equity")


def invariant_hibernate(run: RunView, policy: SafetyPolicy) -> CheckResult:
    """Whenever an observed invariant is broken (quorum, ledger, checksum, keepalive), the decision of that
    same step is HIBERNATE with r_total 0."""
    obs = run.observed
    broken = np.zeros(len(run.t), dtype=bool)
    for name in INVARIANT_FLAGS:
        v = obs[name]
        broken |= ~(v >= 0.5)
    hb = obs["heartbeat.age_s"]
    broken |= ~(hb <= policy.keepalive_max_age_s)
    bad = broken & ((run.posture != _HIB) | (run.r != 0.0))
    i = first_true(bad)
    if i >= 0:
        which = [n for n in INVARIANT_FLAGS if not obs[n][i] >= 0.5]
        if not hb[i] <= policy.keepalive_max_age_s:
            which.append(f"heartbeat.age_s={hb[i]:.1f} > {policy.keepalive_max_age_s:g}")
        return _fail("invariant_hibernate", run.t[i], f"invariant broken ({', '.join(which)}) at {fmt_t(run.t[i])} "
                     f"but the decision was {run.decisions['posture'][i]} with r_total {run.r[i]:.3f}")
    return _ok("invariant_hibernate", f"{int(broken.sum())} steps with a broken invariant, all HIBERNATE with r_total 0")


def _cancel_deadline(run: RunView, t0: float, bound: float) -> tuple[float, bool]:
    """(when every working order must be done, whether a venue fault extended it: then each cancel
    must still be *sent* within the bound — it is confirmed only after the venue heals)."""
    deadline, venue = t0 + bound, False
    for f in _exchange_path_faults(run, ledger=False) + run.active_faults(t0, deadline, _VENUE_FAULTS):
        if f.at_s <= deadline and f.end_s >= t0:
            deadline = max(deadline, f.end_s + bound)
            venue = venue or f.kind in _VENUE_FAULTS
    return deadline, venue


def hibernate_cancels_orders(run: RunView, policy: SafetyPolicy) -> CheckResult:
    """On entering HIBERNATE every order working at that decision — sent before it in the order of events,
    including orders of the same instant — is done (cancelled or filled) within cancel_within_s (plus the
    time the agent↔exchange path is faulted). While the venue is out (matching halted or its gateway down)
    a cancel cannot be confirmed: it must be sent within cancel_within_s and confirmed within
    cancel_within_s after the venue heals."""
    codes, o = run.posture, run.orders
    starts = np.flatnonzero((codes == _HIB) & np.concatenate(([True], codes[:-1] != _HIB)))
    n = 0
    for s in starts:
        t0 = run.t[s]
        deadline, venue = _cancel_deadline(run, t0, policy.cancel_within_s)
        sent_by = t0 + policy.cancel_within_s
        for i in range(int(run.orders_before[s])):
            done = o["t_done_s"][i]
            if not done <= t0:
                n += 1
                if venue and "t_cancel_s" in o and not done <= sent_by and not o["t_cancel_s"][i] <= sent_by:
                    return _fail("hibernate_cancels_orders", sent_by,
                                 f"order {o['id'][i]} ({o['intent'][i]}, {o['kind'][i]}): no cancel sent within "
                                 f"{policy.cancel_within_s:g} s of HIBERNATE at {fmt_t(t0)} (the exchange was out: "
                                 f"the cancel must still be sent at once, and is confirmed after it heals)")
                late = (done > deadline) if math.isfinite(done) else (deadline < run.duration_s)
                if late:
                    return _fail("hibernate_cancels_orders", min(deadline, run.duration_s),
                                 f"order {o['id'][i]} ({o['intent'][i]}, {o['kind'][i]}, sent at {fmt_t(o['t_s'][i])}) "
                                 f"still working {policy.cancel_within_s:g} s after HIBERNATE at {fmt_t(t0)}"
                                 + (f" and after the exchange fault healed (deadline {fmt_t(deadline)})"
                                    if deadline > sent_by else "") + f" (done at {done:.1f})")
    return _ok("hibernate_cancels_orders", f"{len(starts)} HIBERNATE entries; {n} working orders all done in time")


def exits_never_blocked(run: RunView, policy: SafetyPolicy) -> CheckResult:
    """A position held past max_hold_s (+ exit_grace_s) had an exit order sent by then, in any posture."""
    f, o = run.fills, run.orders
    max_hold = run.world.agent.max_hold_s
    exits: dict[int, list[float]] = {}
    for i in range(len(o.get("id", ()))):
        if o["intent"][i] == "exit":
            exits.setdefault(int(o["asset"][i]), []).append(o["t_s"][i])
    pos: dict[int, float] = {}
    opened: dict[int, float] = {}
    episodes: list[tuple[int, float, float]] = []
    idx = [i for i in range(len(f.get("id", ()))) if math.isfinite(f["t_booked_s"][i])]
    for i in sorted(idx, key=lambda i: (f["t_booked_s"][i], f["id"][i])):
        a, t = int(f["asset"][i]), f["t_booked_s"][i]
        before = pos.get(a, 0.0)
        after = before + (1.0 if f["side"][i] == "buy" else -1.0) * f["qty"][i]
        after = 0.0 if abs(after) <= 1e-12 else after
        if before == 0.0 and after != 0.0:
            opened[a] = t
        elif before != 0.0 and after == 0.0:
            episodes.append((a, opened.pop(a), t))
        pos[a] = after
    episodes += [(a, t, run.duration_s) for a, t in opened.items()]
    for a, t_open, t_close in sorted(episodes, key=lambda e: e[1]):
        due = t_open + max_hold + policy.exit_grace_s
        if t_close > due and not any(t_open <= t <= due for t in exits.get(a, ())):
            return _fail("exits_never_blocked", due, f"asset {a} held from {fmt_t(t_open)} past max_hold "
                         f"({max_hold:g} s) with no exit order by {fmt_t(due)}")
    return _ok("exits_never_blocked", f"{len(episodes)} position episodes; every long hold had its exit sent")


def exits_reduce_only(run: RunView, _policy: SafetyPolicy) -> CheckResult:
    """An exit never increases or flips a position at the exchange (exits are reduce-only)."""
    f = run.fills
    pos: dict[int, float] = {}
    n = 0
    for i in sorted(range(len(f.get("id", ()))), key=lambda i: (f["t_s"][i], f["id"][i])):
        a = int(f["asset"][i])
        before = pos.get(a, 0.0)
        after = before + (1.0 if f["side"][i] == "buy" else -1.0) * f["qty"][i]
        pos[a] = after
        if f["intent"][i] != "exit":
            continue
        n += 1
        if abs(after) > abs(before) * (1.0 + 1e-9) + 1e-9 or (before * after < 0 and abs(after) > 1e-9 * abs(before)):
            return _fail("exits_reduce_only", f["t_s"][i], f"exit fill {f['id'][i]} on asset {a} at {fmt_t(f['t_s'][i])} "
                         f"took the exchange position from {before:.4g} to {after:.4g}")
    return _ok("exits_reduce_only", f"{n} exit fills, each reduced its position at the exchange")


def _group_of(groups: tuple, node: str) -> int:
    for gi, group in enumerate(groups):
        if any(p == node or (p.endswith("*") and node.startswith(p[:-1])) for p in group):
            return gi
    return -1                                      # nodes in no group form one more group together


def _exchange_path_faults(run: RunView, ledger: bool = True) -> list:
    """Faults on the agent↔exchange path: a link fault on ``agent<->exchange``, a partition that separates
    ``agent`` from ``exchange``, and (``ledger``) ``ledger_desync`` (execution reports held back by design)."""
    out = []
    for f in run.faults:
        if (ledger and f.kind in _LEDGER_KINDS) or (f.kind in _LINK_FAULTS and f.target == "agent<->exchange"):
            out.append(f)
        elif f.kind == "network_partition":
            groups = tuple(tuple(g) for g in f.param("groups"))
            if f.target != "network":
                groups = ((f.target,),) + groups
            if _group_of(groups, "agent") != _group_of(groups, "exchange"):
                out.append(f)
    return out


def _in_flight(t_fill: np.ndarray, t_s: float, path: list) -> np.ndarray:
    """Which fills (at ``t_fill``) may still be unbooked at ``t_s`` without a fault of the agent or the exchange:
    recent (within the settle time), or held by an agent↔exchange fault they met that has not been healed
    for the settle time yet."""
    held = t_s - t_fill < _SETTLE_S
    for f in path:
        held |= (t_fill >= f.at_s - _SETTLE_S) & (t_fill <= f.end_s) & (f.end_s + _SETTLE_S > t_s)
    return held


def ledger_conserved(run: RunView, _policy: SafetyPolicy) -> CheckResult:
    """No fill lost or duplicated: fill ids unique; every fill booked unless its report may still be in flight
    (the settle time, or a fault on the agent↔exchange path it met that is not yet healed); and the agent's
    equity equals the exchange account's at every sample with no fill in flight and no ledger_desync active.
    A fill lost without such a fault fails, whatever else is faulted, and never switches later comparisons off."""
    f, eq = run.fills, run.equity
    ids = f.get("id", np.zeros(0))
    if len(np.unique(ids)) != len(ids):
        return _fail("ledger_conserved", math.nan, "duplicate fill ids in the fills table")
    end = run.duration_s
    path = _exchange_path_faults(run)
    fill_t = np.asarray(f.get("t_s", np.zeros(0)), dtype=np.float64)
    booked_t = np.asarray(f.get("t_booked_s", np.zeros(0)), dtype=np.float64)
    lost = ~np.isfinite(booked_t) & ~_in_flight(fill_t, end, path)
    if lost.any():
        i = first_true(lost)
        return _fail("ledger_conserved", fill_t[i], f"fill {ids[i]} at {fmt_t(fill_t[i])} was never booked")
    checked = 0
    tol = 1e-6 * run.capital
    for k in range(len(eq["t_s"])):
        t = eq["t_s"][k]
        pending = (fill_t <= t) & ~(booked_t <= t)
        if (pending & _in_flight(fill_t, t, path)).any() or run.active_faults(t - _SETTLE_S, t, _LEDGER_KINDS):
            continue
        checked += 1
        diff = eq["equity"][k] - eq["exchange_equity"][k]
        if abs(diff) > tol:
            late = f"; {int(pending.sum())} fill(s) done at the exchange but not booked" if pending.any() else ""
            return _fail("ledger_conserved", t, f"agent equity differs from the exchange account by {diff:+.4f} "
                         f"at {fmt_t(t)}{late}")
    return _ok("ledger_conserved", f"{len(ids)} fills, unique; agent = exchange at {checked} settled samples")


def recovery_rate(run: RunView, _policy: SafetyPolicy) -> CheckResult:
    """No layer rises faster than its configured recovery_per_min (fast attack, slow recovery)."""
    t = run.t
    dt_min = np.diff(t) / 60.0
    for layer in run.config.layers:
        col = f"layer.{layer.name}"
        if col not in run.decisions or len(t) < 2:
            continue
        v = run.decisions[col]
        rise = np.diff(v)
        bad = rise > layer.recovery_per_min * dt_min + 1e-9
        i = first_true(bad)
        if i >= 0:
            return _fail("recovery_rate", t[i + 1], f"layer {layer.name} rose {rise[i]:.4f} in {dt_min[i] * 60:.1f} s "
                         f"at {fmt_t(t[i + 1])}; configured recovery {layer.recovery_per_min:g}/min")
    return _ok("recovery_rate", f"{len(run.config.layers)} layers never rose faster than configured")


SAFETY_CHECKS: tuple[Callable[[RunView, SafetyPolicy], CheckResult], ...] = (
    r_total_bounds, entries_within_posture, leverage_within_cap, invariant_hibernate, hibernate_cancels_orders,
    exits_never_blocked, exits_reduce_only, ledger_conserved, recovery_rate)


def run_safety(run: RunView, policy: SafetyPolicy) -> list[CheckResult]:
    """Every safety check on ``run``."""
    return [check(run, policy) for check in SAFETY_CHECKS]
