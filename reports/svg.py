"""Hand-written inline SVG figures: stacked panels over one time axis, fault windows shaded and labelled.

No plotting library and no network: the figure is a string embedded in the HTML.

    fig = Figure("title", t0_s, t1_s, windows=[(at_s, end_s, "sensor_stale mc_forewarner")])
    fig.lines("r_total (0–1)", [Line("this run", t, y, "#111", 2.0)], 0.0, 1.0, height=190)
    fig.ribbons("posture", [("this run", [(start_s, end_s, code), ...])])
    svg_text = fig.svg()
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

import numpy as np

from .series import downsample

__all__ = ["POSTURE_COLOURS", "POSTURE_NAMES", "Line", "Figure", "nice_ticks"]

POSTURE_NAMES = ("HIBERNATE", "TURTLE", "STALKER", "APEX")
POSTURE_COLOURS = ("#d55e00", "#e69f00", "#56b4e9", "#0072b2")
"""One colour per posture code, from the Okabe–Ito colour-blind-safe palette: HIBERNATE vermillion,
TURTLE orange, STALKER sky blue, APEX blue (APEX and HIBERNATE stay apart under deuteranopia)."""
BREAK_FILL = "#555555"
MARK_COLOUR = "#cc0000"

WIDTH, LEFT, RIGHT_LEGEND, TOP = 1000, 96, 200, 34
PLOT_W = WIDTH - LEFT - RIGHT_LEGEND
BUCKETS = 360
FAULT_FILL = "#fdd835"
LABEL_ROWS = 3
CHAR_W = 6.6
"""Approximate advance of one character of the 11 px bold fault labels."""


@dataclass(frozen=True)
class Line:
    label: str
    t: np.ndarray
    y: np.ndarray
    colour: str
    width: float = 1.2
    dash: str = ""


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


def _clock(t_s: float) -> str:
    """Simulated time as h:mm:ss (m:ss under an hour)."""
    t = int(round(t_s))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60}:{t % 60:02d}"


def _span(a: float, b: float) -> str:
    if b <= a:
        return f"at {_clock(a)}"
    return f"{_clock(a)}–{_clock(b) if math.isfinite(b) else 'end'}"


def _tick_label(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-9 else "0"


class Figure:
    """Panels stacked top to bottom, sharing the time axis [t0_s, t1_s]."""

    def __init__(self, title: str, t0_s: float, t1_s: float,
                 windows: Sequence[tuple[float, float, str]] = (), breaks: Sequence[tuple[float, float, str]] = (),
                 marks: Sequence[tuple[float, str]] = ()) -> None:
        self.title, self.t0, self.t1 = title, float(t0_s), float(max(t1_s, t0_s + 1.0))
        self.windows = list(windows)
        self.breaks = list(breaks)      # observed invariant-break windows: a grey bar atop every panel
        self.marks = [(t, label) for t, label in marks if math.isfinite(t)]   # failing checks' times
        self._plot_top: float | None = None
        self.hours = (self.t1 - self.t0) >= 7200
        self.parts: list[str] = []
        self._labels, self._key = self._layout_labels()
        rows = 1 + max((row for _, row, _ in self._labels), default=-1)
        self.y = TOP + 14 * (rows + len(self._key))

    def _place(self, items: list[tuple[float, str]]) -> list[tuple[float, int, str]] | None:
        """Greedy rows for labels starting at x; None when they do not fit in LABEL_ROWS rows."""
        ends = [-math.inf] * LABEL_ROWS
        out = []
        for x, text in items:
            row = next((r for r in range(LABEL_ROWS) if ends[r] <= x), None)
            if row is None:
                return None
            ends[row] = x + len(text) * CHAR_W + 8
            out.append((x, row, text))
        return out

    def _layout_labels(self) -> tuple[list[tuple[float, int, str]], list[str]]:
        """Fault labels ``▼ kind target`` at their window's start; when they collide, numbered tags
        ``▼n`` and key lines ``n kind target (start–end)`` above the plot."""
        windows = sorted(self.windows)
        xs = [float(self.x(max(a, self.t0))) + 2 for a, _, _ in windows]
        placed = self._place([(x, f"▼ {label}") for x, (_, _, label) in zip(xs, windows)])
        if placed is not None:
            return placed, []
        tags = [(x, f"▼{i + 1}") for i, x in enumerate(xs)]
        placed = self._place(tags) or [(x, i % LABEL_ROWS, t) for i, (x, t) in enumerate(tags)]
        entries = [f"{i + 1} {label} ({_span(a, b)})" for i, (a, b, label) in enumerate(windows)]
        lines, line = [], ""
        for e in entries:
            if line and (len(line) + 5 + len(e)) * CHAR_W > WIDTH - LEFT:
                lines.append(line)
                line = ""
            line = f"{line}  ·  {e}" if line else e
        return placed, lines + [line]

    def x(self, t_s: float | np.ndarray) -> float | np.ndarray:
        return LEFT + (np.asarray(t_s, dtype=np.float64) - self.t0) / (self.t1 - self.t0) * PLOT_W

    def _shade(self, top: float, height: float) -> None:
        if self._plot_top is None:
            self._plot_top = top
        for a, b, label in self.breaks:
            x0, x1 = float(self.x(max(a, self.t0))), float(self.x(min(max(b, a), self.t1)))
            self.parts.append(f'<rect x="{_fmt(x0)}" y="{_fmt(top)}" width="{_fmt(max(x1 - x0, 1.5))}" '
                              f'height="{_fmt(min(5.0, height))}" fill="{BREAK_FILL}" fill-opacity="0.75" class="brk">'
                              f'<title>{escape(label)}</title></rect>')
        for a, b, label in self.windows:
            x0, x1 = float(self.x(max(a, self.t0))), float(self.x(min(max(b, a), self.t1)))
            w = max(x1 - x0, 1.5)
            self.parts.append(f'<rect x="{_fmt(x0)}" y="{_fmt(top)}" width="{_fmt(w)}" height="{_fmt(height)}" '
                              f'fill="{FAULT_FILL}" fill-opacity="0.28" stroke="#f9a825" stroke-width="0.6">'
                              f'<title>{escape(label)}</title></rect>')

    def _frame(self, title: str, top: float, height: float) -> None:
        self.parts.append(f'<text x="{LEFT}" y="{_fmt(top - 5)}" class="pt">{escape(title)}</text>')
        self.parts.append(f'<rect x="{LEFT}" y="{_fmt(top)}" width="{PLOT_W}" height="{_fmt(height)}" '
                          f'fill="none" stroke="#9e9e9e" stroke-width="0.8"/>')

    def _legend(self, top: float, items: Sequence[tuple[str, str, str, float]]) -> None:
        x = LEFT + PLOT_W + 12
        for i, (label, colour, dash, width) in enumerate(items):
            y = top + 8 + 13 * i
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(f'<line x1="{x}" y1="{_fmt(y)}" x2="{x + 22}" y2="{_fmt(y)}" stroke="{colour}" '
                              f'stroke-width="{max(width, 1.5):g}"{dash_attr}/>'
                              f'<text x="{x + 27}" y="{_fmt(y + 3.5)}" class="lg">{escape(label)}</text>')

    def lines(self, title: str, lines: Sequence[Line], y_lo: float | None = None, y_hi: float | None = None,
              height: float = 150, unit_fmt: str = "{:g}") -> None:
        """A panel of lines, the first on top and first in the legend; the y range defaults to the
        data range (padded)."""
        top = self.y + 16
        pts = [downsample(ln.t, ln.y, self.t0, self.t1, BUCKETS) for ln in lines]
        values = np.concatenate([p[1] for p in pts]) if pts else np.zeros(0)
        values = values[np.isfinite(values)]
        lo = y_lo if y_lo is not None else (float(values.min()) if values.size else 0.0)
        hi = y_hi if y_hi is not None else (float(values.max()) if values.size else 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        elif y_lo is None or y_hi is None:
            pad = 0.06 * (hi - lo)
            lo, hi = (lo - pad if y_lo is None else lo), (hi + pad if y_hi is None else hi)
        self._shade(top, height)
        self._frame(title, top, height)

        def y_of(v: np.ndarray) -> np.ndarray:
            return top + height - (np.clip(v, lo, hi) - lo) / (hi - lo) * height

        for tick in nice_ticks(lo, hi, 4):
            if lo - 1e-9 <= tick <= hi + 1e-9:
                yy = float(y_of(np.array([tick]))[0])
                self.parts.append(f'<line x1="{LEFT}" y1="{_fmt(yy)}" x2="{LEFT + PLOT_W}" y2="{_fmt(yy)}" '
                                  f'class="grid"/><text x="{LEFT - 4}" y="{_fmt(yy + 3.5)}" class="yt">'
                                  f'{escape(unit_fmt.format(tick))}</text>')
        for ln, (t, y) in reversed(list(zip(lines, pts))):  # the first line is drawn last, on top
            if t.size == 0:
                continue
            xs, ys = self.x(t), y_of(y)
            coords = " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in zip(xs, ys))
            dash_attr = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
            self.parts.append(f'<polyline points="{coords}" fill="none" stroke="{ln.colour}" '
                              f'stroke-width="{ln.width:g}" stroke-linejoin="round"{dash_attr}>'
                              f'<title>{escape(ln.label)}</title></polyline>')
        self._legend(top, [(ln.label, ln.colour, ln.dash, ln.width) for ln in lines])
        self.y = top + height + 8

    def ribbons(self, title: str, rows: Sequence[tuple[str, Sequence[tuple[float, float, int]]]]) -> None:
        """One posture ribbon per row: coloured spans (start_s, end_s, posture code)."""
        top, row_h = self.y + 16, 13
        height = row_h * len(rows)
        self._shade(top, height)
        self.parts.append(f'<text x="{LEFT}" y="{_fmt(top - 5)}" class="pt">{escape(title)}</text>')
        for i, (label, spans) in enumerate(rows):
            y = top + i * row_h
            self.parts.append(f'<text x="{LEFT - 4}" y="{_fmt(y + 9.5)}" class="yt">{escape(label)}</text>')
            for a, b, code in spans:
                x0, x1 = float(self.x(a)), float(self.x(min(b, self.t1)))
                self.parts.append(f'<rect x="{_fmt(x0)}" y="{_fmt(y + 1)}" width="{_fmt(max(x1 - x0, 0.4))}" '
                                  f'height="{row_h - 2}" fill="{POSTURE_COLOURS[code]}"/>')
        x = LEFT + PLOT_W + 12
        for j, code in enumerate(reversed(range(4))):
            yy = top + (j % 2) * 13 + 1
            xx = x + (j // 2) * 92
            self.parts.append(f'<rect x="{xx}" y="{_fmt(yy)}" width="11" height="10" fill="{POSTURE_COLOURS[code]}"/>'
                              f'<text x="{xx + 15}" y="{_fmt(yy + 9)}" class="lg">{POSTURE_NAMES[code]}</text>')
        self.y = top + max(height, 28) + 8

    def _marks(self) -> None:
        top = self._plot_top if self._plot_top is not None else TOP
        for t, label in self.marks:
            xx = float(self.x(min(max(t, self.t0), self.t1)))
            self.parts.append(f'<line x1="{_fmt(xx)}" y1="{_fmt(top - 12)}" x2="{_fmt(xx)}" y2="{_fmt(self.y)}" '
                              f'stroke="{MARK_COLOUR}" stroke-width="1.4" stroke-dasharray="5 3" class="mark">'
                              f'<title>{escape(label)}</title></line><text x="{_fmt(xx + 3)}" y="{_fmt(top - 3)}" '
                              f'class="mk">✗ {escape(label)}</text>')

    def _axis(self) -> None:
        unit, scale = ("h", 3600.0) if self.hours else ("min", 60.0)
        y = self.y + 2
        for tick in nice_ticks(self.t0 / scale, self.t1 / scale, 8):
            xx = float(self.x(tick * scale))
            if LEFT - 0.5 <= xx <= LEFT + PLOT_W + 0.5:
                self.parts.append(f'<line x1="{_fmt(xx)}" y1="{_fmt(y)}" x2="{_fmt(xx)}" y2="{_fmt(y + 4)}" '
                                  f'stroke="#616161"/><text x="{_fmt(xx)}" y="{_fmt(y + 15)}" class="xt">'
                                  f'{_tick_label(tick)}</text>')
        self.parts.append(f'<text x="{LEFT + PLOT_W / 2}" y="{_fmt(y + 29)}" class="xt">simulated time ({unit})</text>')
        self.y = y + 36

    def _window_labels(self) -> list[str]:
        out = [f'<text x="{LEFT}" y="{TOP + 10 + 14 * i}" class="fl">{escape(line)}</text>'
               for i, line in enumerate(self._key)]
        top = TOP + 10 + 14 * len(self._key)
        out += [f'<text x="{_fmt(x)}" y="{_fmt(top + 14 * row)}" class="fl">{escape(text)}</text>'
                for x, row, text in self._labels]
        return out

    def svg(self) -> str:
        """The finished figure (``<svg>`` element with its own styles)."""
        self._marks()
        self._axis()
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_fmt(self.y)}" width="{WIDTH}" '
                f'height="{_fmt(self.y)}" role="img" aria-label="{escape(self.title)}" class="fig">'
                '<style>.pt{font:600 12px sans-serif;fill:#212121}.lg{font:11px sans-serif;fill:#424242}'
                '.yt{font:10px sans-serif;fill:#616161;text-anchor:end}.xt{font:10px sans-serif;fill:#616161;'
                'text-anchor:middle}.fl{font:600 11px sans-serif;fill:#8d6e00}.grid{stroke:#eeeeee;stroke-width:1}'
                '.ft{font:700 14px sans-serif;fill:#111}.mk{font:600 10px sans-serif;fill:#cc0000}</style>'
                f'<text x="{LEFT}" y="18" class="ft">{escape(self.title)}</text>')
        return head + "".join(self._window_labels()) + "".join(self.parts) + "</svg>"
