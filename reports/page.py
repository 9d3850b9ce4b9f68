"""HTML building blocks shared by the run report and the comparison: page shell, styles, formatting."""

from __future__ import annotations

import math
from html import escape
from typing import Iterable, Sequence

from .metrics import METRICS, MetricDef
from .svg import POSTURE_COLOURS, POSTURE_NAMES

__all__ = ["esc", "page", "verdict_badge", "posture_legend", "fmt_metric", "fmt_seconds", "fmt_time", "table",
           "metric_def", "definitions_html", "VERDICT_COLOURS", "MISSED_METRICS"]

VERDICT_COLOURS = {"PASS": "#2e7d32", "EXPECTATION": "#f9a825", "LIVENESS": "#ef6c00", "SAFETY": "#c62828",
                   "ERROR": "#6a1b9a"}
_DEFS = {m.key: m for m in METRICS}
MISSED_METRICS = ("invariant_hibernate_s", "invariant_cancel_s", "invariant_hibernate_true_s", "reaction_s")
"""Latencies whose infinite value means the controller never answered: shown as "missed"."""

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#212121;margin:0;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px 64px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #e0e0e0;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff}
th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:#f1f1f1;padding:1px 4px;border-radius:3px}
pre{padding:6px 8px;white-space:pre-wrap;word-break:break-all;margin:2px 0}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-weight:600;font-size:12px}
.badge.EXPECTATION{color:#212121}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px;margin:6px 0}
.bad{background:#ffebee;border-left:4px solid #c62828;padding:6px 10px;margin:6px 0}
.meta td:first-child{color:#616161}.muted{color:#757575}.fig{max-width:100%;height:auto;background:#fff}
.better{background:#e8f5e9}.worse{background:#ffebee}td.bad-cell{background:#ffebee;font-weight:600}
.note{color:#616161;font-size:11px;font-weight:400}
nav a{margin-right:10px}dl.defs dt{font-weight:600;margin-top:6px}dl.defs dd{margin-left:18px}
.case{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:6px 14px;margin:10px 0}
.swatch{display:inline-block;width:11px;height:11px;margin:0 4px 0 10px;vertical-align:-1px}
.answer{font-size:16px;background:#e3f2fd;border-left:4px solid #0072b2;padding:8px 12px;margin:8px 0}
details.case>summary{cursor:pointer;font-weight:600;padding:4px 0}details.case>summary h3{display:inline}
"""


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def page(title: str, body: Iterable[str]) -> str:
    """A complete self-contained HTML document (no scripts, no external resources)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
            + "".join(body) + "</main></body></html>\n")


def verdict_badge(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#616161")
    return f'<span class="badge {esc(verdict)}" style="background:{colour}">{esc(verdict)}</span>'


def posture_legend() -> str:
    return "".join(f'<span class="swatch" style="background:{c}"></span>{n}'
                   for n, c in zip(reversed(POSTURE_NAMES), reversed(POSTURE_COLOURS)))


def fmt_seconds(v: float) -> str:
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "never"
    if abs(v) < 1:
        return f"{v * 1000:.0f} ms"
    if abs(v) < 120:
        return f"{v:.1f} s"
    if abs(v) < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.2f} h"


def fmt_time(t_s: float) -> str:
    """A simulated instant: ``t=905 s (15.1 min)``."""
    if math.isnan(t_s):
        return "—"
    return f"t={t_s:.0f} s" + (f" ({fmt_seconds(t_s)})" if abs(t_s) >= 120 else "")


def fmt_metric(key: str, v: float, signed: bool = False) -> str:
    """Format a metric value with its unit; NaN is '—', an infinite latency is 'never'."""
    d = _DEFS.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    v = float(v)
    if d is not None and d.unit == "s":
        if key == "recovery_s" and math.isinf(v):
            return "not recovered"
        if key in MISSED_METRICS and math.isinf(v):
            return "missed"
        text = fmt_seconds(abs(v)) if signed else fmt_seconds(v)
        return (("+" if v > 0 else "−" if v < 0 else "±") + text) if signed else text
    sign = "+" if signed else ""
    if abs(v) < 5e-4:
        v = 0.0  # no "-0.000 %"
    if d is not None and d.key in ("fills", "trades", "misses"):
        return f"{v:{sign},.0f}"
    if d is not None and d.unit in ("%", "% of capital", "% of peak", "% of fills", "% of trades"):
        return f"{v:{sign}.3f} %"
    if d is not None and d.unit == "pp":
        return f"{v:+.3f} pp"
    if d is not None and d.unit == "/h":
        return f"{v:{sign}.2f} /h"
    return f"{v:{sign},.2f}"


def metric_def(key: str) -> MetricDef:
    return _DEFS[key]


def table(header: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """An HTML table; cells are HTML already (escape text before)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def definitions_html() -> str:
    items = "".join(f'<dt id="def-{m.key}">{esc(m.label)}{f" ({esc(m.unit)})" if m.unit else ""}</dt>'
                    f"<dd>{esc(m.definition)}</dd>" for m in METRICS)
    return f'<dl class="defs">{items}</dl>'
