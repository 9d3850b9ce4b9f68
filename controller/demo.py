"""A short controller demonstration: the decision timeline of a scripted outage.

Run with ``python -m controller.demo``. Steps the default controller once a second through
four hours of scripted signals (MC-Forewarner stall, order-book streamer drop, an ExF shock,
a brief quorum loss) and prints a line at each posture change and every 15 minutes.
"""

from __future__ import annotations

import sys
from typing import Callable, TextIO

from .defaults import NOMINAL_SIGNALS, default_config
from .survival import SurvivalController

__all__ = ["SCRIPT", "scripted_signals", "main"]

# (start_s, end_s, label, mutation of the signal dict given seconds since start)
SCRIPT: tuple[tuple[float, float, str, Callable[[dict[str, float], float], None]], ...] = (
    (600.0, 3000.0, "MC-Forewarner stalls for 40 min",
     lambda s, e: s.__setitem__("mc_forewarner.age_s", 30.0 + e)),
    (4200.0, 4500.0, "order-book streamer drops for 5 min",
     lambda s, e: s.__setitem__("ob.age_s", 0.1 + e)),
    (6000.0, 6060.0, "ExF reports a full-magnitude shock",
     lambda s, e: s.__setitem__("exf.shock", 1.0)),
    (10800.0, 10830.0, "Hazelcast quorum lost for 30 s",
     lambda s, e: s.__setitem__("hz.quorum", 0.0)),
)


def scripted_signals(t_s: float) -> tuple[dict[str, float], list[str]]:
    """Signals at ``t_s`` and the labels of the active script entries."""
    signals = dict(NOMINAL_SIGNALS)
    active = []
    for start, end, label, apply in SCRIPT:
        if start <= t_s < end:
            apply(signals, t_s - start)
            active.append(label)
    return signals, active


def _clock(t_s: float) -> str:
    h, rem = divmod(int(t_s), 3600)
    return f"{h:d}:{rem // 60:02d}:{rem % 60:02d}"


def main(out: TextIO = sys.stdout, duration_s: int = 4 * 3600) -> int:
    """Print the timeline; returns 0."""
    ctl = SurvivalController(default_config())
    out.write(f"survival controller demo — config {ctl.config.name} ({ctl.config.config_id[:12]})\n")
    out.write(f"{'time':>8}  {'r_total':>7}  {'posture':<9} {'lev':>4}  {'entries':<7} {'taker':<5}  why\n")
    previous = None
    previous_active: list[str] = []
    for t in range(duration_s + 1):
        signals, active = scripted_signals(float(t))
        for label in active:
            if label not in previous_active:
                out.write(f"{_clock(t):>8}  --- fault: {label}\n")
        for label in previous_active:
            if label not in active:
                out.write(f"{_clock(t):>8}  --- healed: {label}\n")
        previous_active = active
        d = ctl.step(float(t), signals)
        if d.posture != previous or t % 900 == 0:
            why = "; ".join(d.reasons[:3]) or "all signals nominal"
            out.write(f"{_clock(t):>8}  {d.r_total:7.3f}  {d.posture.name:<9} {d.max_leverage:4.1f}  "
                      f"{str(d.entries_allowed):<7} {str(d.taker_allowed):<5}  {why}\n")
            previous = d.posture
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
