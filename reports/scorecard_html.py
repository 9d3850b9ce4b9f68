"""The scorecard at the top of ``report.html``: the one-line answer, the table and the tax/protection scatter."""

from __future__ import annotations

import math
from typing import Sequence

from .page import esc, table
from .plots import style_for
from .scorecard import BOOTSTRAP_SEED, LEVEL, RESAMPLES, Interval, ScoreRow, headline, run_row

__all__ = ["scorecard_html", "scatter_svg", "interval_text"]

_W, _H, _PAD = 460, 300, 52


def interval_text(i: Interval, unit: str, digits: int = 3) -> str:
    if i.n == 0 or math.isnan(i.mean):
        return "—"
    text = f"{i.mean:+.{digits}f}{unit} [{i.lo:+.{digits}f}, {i.hi:+.{digits}f}]"
    return text + (" <span class='muted'>(within noise)</span>" if i.within_noise else "")


def _ticks(lo: float, hi: float) -> list[float]:
    from .svg import nice_ticks
    return nice_ticks(lo, hi, 5)


def scatter_svg(rows: Sequence[ScoreRow], names: Sequence[str]) -> str:
    """Tax (x, pp of capital) against protection (y, pp of drawdown), one point per controller with its
    90 % intervals as whiskers."""
    pts = [(r, i) for i, r in enumerate(rows) if r.tax_pp.n and r.protection_pp.n]
    if not pts:
        return ""
    xs = [v for r, _ in pts for v in (r.tax_pp.lo, r.tax_pp.hi, 0.0)]
    ys = [v for r, _ in pts for v in (r.protection_pp.lo, r.protection_pp.hi, 0.0)]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    x0, x1, y0, y1 = x0 - 0.1 * dx, x1 + 0.1 * dx, y0 - 0.1 * dy, y1 + 0.1 * dy

    def px(x: float) -> float:
        return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD + (y - y0) / (y1 - y0) * -(_H - 2 * _PAD)
    out = [f"<svg class='fig' role='img' aria-label='tax against protection' viewBox='0 0 {_W} {_H}' "
           f"width='{_W}' height='{_H}' xmlns='http://www.w3.org/2000/svg' font-family='system-ui,sans-serif' "
           "font-size='11'>", f"<rect x='0' y='0' width='{_W}' height='{_H}' fill='#fff'/>"]
    for x in _ticks(x0, x1):
        out.append(f"<line x1='{px(x):.1f}' y1='{_PAD - 10}' x2='{px(x):.1f}' y2='{_H - _PAD}' stroke='#eee'/>"
                   f"<text x='{px(x):.1f}' y='{_H - _PAD + 14}' text-anchor='middle' fill='#555'>{x:g}</text>")
    for y in _ticks(y0, y1):
        out.append(f"<line x1='{_PAD}' y1='{py(y):.1f}' x2='{_W - _PAD + 10}' y2='{py(y):.1f}' stroke='#eee'/>"
                   f"<text x='{_PAD - 4}' y='{py(y) + 4:.1f}' text-anchor='end' fill='#555'>{y:g}</text>")
    out.append(f"<line x1='{px(0):.1f}' y1='{_PAD - 10}' x2='{px(0):.1f}' y2='{_H - _PAD}' stroke='#999'/>"
               f"<line x1='{_PAD}' y1='{py(0):.1f}' x2='{_W - _PAD + 10}' y2='{py(0):.1f}' stroke='#999'/>")
    out.append(f"<text x='{_W / 2:.0f}' y='{_H - 12}' text-anchor='middle'>performance tax (pp of capital given up "
               "outside faults) →</text>")
    out.append(f"<text transform='translate(14 {_H / 2:.0f}) rotate(-90)' text-anchor='middle'>protection (pp of "
               "drawdown avoided in faults) →</text>")
    out.append(f"<text x='{_PAD}' y='16' fill='#555'>better: up and to the left; whiskers: {LEVEL:.0%} intervals"
               "</text>")
    for r, i in pts:
        st = style_for(names[i] if i < len(names) else r.controller, i)
        cx, cy = px(r.tax_pp.mean), py(r.protection_pp.mean)
        out.append(f"<g><title>{esc(st.label)}: tax {r.tax_pp.mean:+.3f} pp, protection {r.protection_pp.mean:+.3f} pp"
                   f"</title><line x1='{px(r.tax_pp.lo):.1f}' y1='{cy:.1f}' x2='{px(r.tax_pp.hi):.1f}' y2='{cy:.1f}' "
                   f"stroke='{st.colour}' stroke-width='1.5'/><line x1='{cx:.1f}' y1='{py(r.protection_pp.lo):.1f}' "
                   f"x2='{cx:.1f}' y2='{py(r.protection_pp.hi):.1f}' stroke='{st.colour}' stroke-width='1.5'/>"
                   f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{st.colour}'/>"
                   f"<text x='{cx + 7:.1f}' y='{cy - 6 - 11 * (i % 3):.1f}' fill='{st.colour}' font-weight='600'>{esc(st.label)}"
                   "</text></g>")
    out.append("</svg>")
    return "".join(out)


def scorecard_html(rows: Sequence[ScoreRow], answer: bool = True) -> str:
    """The scorecard section: the one-line answer first (unless ``answer`` is false: the page shows it
    above), then the table and the scatter."""
    names = [r.controller for r in rows]
    line = f"<p class='answer' id='answer'><b>{esc(headline(run_row(rows)))}</b></p>" if answer else ""
    if not any(r.cases for r in rows):
        return "<h2 id='scorecard'>Scorecard</h2>" + line
    body = []
    for i, r in enumerate(rows):
        body.append([esc(style_for(r.controller, i).label), str(r.cases),
                     f"<td class='num'>{interval_text(r.tax_pp, ' pp')}</td>",
                     f"<td class='num'>{interval_text(r.tax_rel_pct, ' %', 1)}</td>",
                     f"<td class='num'>{interval_text(r.protection_pp, ' pp')}</td>",
                     f"<td class='num{' bad-cell' if r.misses else ''}'>{r.misses}</td>",
                     f"<td class='num'>{r.chatter_per_h:.2f} /h</td>" if math.isfinite(r.chatter_per_h) else "—",
                     f"<td class='num'>{r.hibernate_pct:.2f} %</td>" if math.isfinite(r.hibernate_pct) else "—"])
    note = (f"<p class='muted'>Against <code>uncontrolled</code> (no survival control) on the same cases: tax = return "
            f"outside fault periods given up (pp of capital, and as % of uncontrolled's), protection = drawdown inside "
            f"fault periods avoided (pp). Means over cases with {LEVEL:.0%} percentile-bootstrap intervals "
            f"({RESAMPLES} resamples of the cases, seed {BOOTSTRAP_SEED}); an interval containing 0 is within noise. "
            "The twin's market has a planted edge (README: Economics of the twin), so the tax is a real cost "
            "here, not evidence about the real signal.</p>")
    return ("<h2 id='scorecard'>Scorecard</h2>" + line + note
            + table(["controller", "cases", "tax (pp)", "tax (% of return)", "protection (pp)", "missed reactions",
                     "posture switches", "time in HIBERNATE"], body)
            + scatter_svg(rows, names))
