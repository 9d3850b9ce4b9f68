"""The report's figures: r_total and layers, posture ribbons, equity and drawdown, over fault windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .manifest import Fault
from .series import posture_runs
from .svg import BUCKETS, Figure, Line
from .traces import RUN, ControllerTrace

__all__ = ["Style", "STYLES", "LAYER_COLOURS", "style_for", "timeline_svg", "fault_windows"]


@dataclass(frozen=True)
class Style:
    label: str
    colour: str
    width: float
    dash: str


STYLES = {
    RUN: Style("this run", "#111111", 2.0, ""),
    "nofault": Style("no fault", "#757575", 1.4, "5 3"),
    "static_ladder": Style("static_ladder", "#7b1fa2", 1.4, "2 2"),
    "seed_template": Style("seed_template", "#795548", 1.4, "8 3 2 3"),
    "uncontrolled": Style("uncontrolled", "#00acc1", 1.4, "1 3"),
}
"""How each controller trace is drawn, in every plot of every report."""
_EXTRA = ("#546e7a", "#ad1457", "#283593", "#827717")
LAYER_COLOURS = ("#00acc1", "#9e9d24", "#d81b60", "#3949ab", "#00897b", "#f06292", "#7cb342", "#ffb300",
                 "#5d4037", "#90a4ae", "#ab47bc", "#26a69a")


def style_for(name: str, index: int = 0) -> Style:
    return STYLES.get(name) or Style(name, _EXTRA[index % len(_EXTRA)], 1.4, "4 2")


def fault_windows(faults: Sequence[Fault]) -> list[tuple[float, float, str]]:
    return [(f.at_s, f.end_s, f.label) for f in faults]


def timeline_svg(title: str, traces: Sequence[tuple[str, ControllerTrace, Style]], faults: Sequence[Fault],
                 duration_s: float, draw_layers: bool = True, breaks: Sequence[tuple[float, float, str]] = (),
                 marks: Sequence[tuple[float, str]] = ()) -> tuple[str, list[str]]:
    """One stacked figure for a scenario seed; returns (svg, names of layers at 1.0 throughout).

    ``traces``: (key, trace, style), the first one drawn on top and the only one whose layers are
    drawn (unless ``draw_layers`` is false). Every panel shades and labels the fault windows and
    shades ``breaks`` (observed invariant breaks) grey; ``marks`` (time, label) are failing checks,
    drawn as red dashed lines.
    """
    t1 = max([duration_s] + [float(tr.t_s[-1]) for _, tr, _ in traces])
    fig = Figure(title, 0.0, t1, fault_windows(faults), [(a, min(b, t1), c) for a, b, c in breaks], marks)
    main = traces[0][1] if traces and draw_layers else None
    layer_lines, flat = [], []
    if main is not None:
        for i, (name, values) in enumerate(sorted(main.layers.items())):
            finite = values[np.isfinite(values)]
            if finite.size and np.all(finite == 1.0):
                flat.append(name)
                continue
            layer_lines.append(Line(f"layer {name}", main.t_s, values, LAYER_COLOURS[i % len(LAYER_COLOURS)], 1.0))
    r_lines = [Line(f"r_total {s.label}", tr.t_s, tr.r_total, s.colour, s.width, s.dash) for _, tr, s in traces]
    title = "risk multiplier r_total" + (" and layer multipliers" if draw_layers else "") + " (0–1)"
    fig.lines(title, r_lines + layer_lines, 0.0, 1.0, height=max(170.0, 13.0 * (len(r_lines) + len(layer_lines)) + 12))
    fig.ribbons("posture", [(s.label, posture_runs(tr.t_s, tr.posture, t1, 0.0, t1, BUCKETS))
                            for _, tr, s in traces])
    eq = [Line(s.label, tr.equity_t_s, 100.0 * (tr.equity / tr.equity[0] - 1.0), s.colour, s.width, s.dash)
          for _, tr, s in traces if tr.equity.size and tr.equity[0]]
    fig.lines("equity (return, % of starting equity)", eq, height=110, unit_fmt="{:g} %")
    dd = [Line(s.label, tr.equity_t_s, -100.0 * tr.drawdown, s.colour, s.width, s.dash) for _, tr, s in traces]
    fig.lines("drawdown (% below peak)", dd, None, 0.0, height=90, unit_fmt="{:g} %")
    return fig.svg(), flat
