"""``summary.md``: a short Markdown summary for a CI job page or a pull-request comment."""

from __future__ import annotations

from pathlib import Path

from .files import write_output
from .metrics import METRICS
from .model import RunReport, load_report
from .page import fmt_metric, fmt_seconds, fmt_time
from .plots import style_for
from .scorecard import BOOTSTRAP_SEED, LEVEL, Interval, headline, run_row

__all__ = ["summary_markdown", "write_summary", "SUMMARY_METRICS"]

SUMMARY_METRICS = ("tax_return_pct", "risk_withheld_pct", "dd_avoided_static_ladder_pct",
                   "dd_avoided_seed_template_pct", "reaction_s", "invariant_hibernate_s", "invariant_cancel_s",
                   "recovery_s", "switches_per_h", "return_pct")
_MAX_ROWS = 20


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _failures(report: RunReport) -> list[str]:
    failing = report.failing()
    if not failing:
        return []
    lines = ["", "### Failures", "", "| scenario | seed | verdict | failing check | at | replay (from the run directory) |",
             "|---|---|---|---|---|---|"]
    for case in failing[:_MAX_ROWS]:
        f = case.failures[0] if case.failures else None
        what = (f"`{_md(f.check)}` ({f.kind}): {_md(f.message)}" if f is not None
                else _md(case.run.error or "no failing check recorded"))
        more = f" (+{len(case.failures) - 1} more)" if len(case.failures) > 1 else ""
        lines.append(f"| {_md(case.scenario.name)} | {case.run.seed} | **{case.run.verdict}** | {what}{more} | "
                     f"{fmt_time(f.t_s) if f else '—'} | `{_md(case.run.replay)}` |")
    if len(failing) > _MAX_ROWS:
        lines.append(f"| … {len(failing) - _MAX_ROWS} more failing cases in report.html | | | | | |")
    return lines


def _metrics(report: RunReport) -> list[str]:
    names = [n for n in report.controllers if report.suite.get(n)]
    if not names:
        return []
    lines = ["", "### Suite metrics", "", "| metric | " + " | ".join(style_for(n, i).label for i, n in enumerate(names))
             + " |", "|---|" + "---:|" * len(names)]
    for d in METRICS:
        if d.key in SUMMARY_METRICS:
            lines.append(f"| {d.label} | " + " | ".join(_cell(report, n, d.key) for n in names) + " |")
    return lines


def _iv(i: Interval, unit: str, digits: int = 3) -> str:
    if i.n == 0 or i.mean != i.mean:
        return "—"
    return (f"{i.mean:+.{digits}f}{unit} [{i.lo:+.{digits}f}, {i.hi:+.{digits}f}]"
            + (" (noise)" if i.within_noise else ""))


def _scorecard(report: RunReport) -> list[str]:
    rows = [r for r in report.scores if r.cases]
    if not rows:
        return []
    lines = ["", f"### Scorecard (vs uncontrolled, {LEVEL:.0%} bootstrap intervals, seed {BOOTSTRAP_SEED})", "",
             "| controller | cases | tax (pp) | tax (% of return) | protection (pp) | missed reactions | switches /h | "
             "time in HIBERNATE |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows):
        lines.append(f"| {style_for(r.controller, i).label} | {r.cases} | {_iv(r.tax_pp, ' pp')} | "
                     f"{_iv(r.tax_rel_pct, ' %', 1)} | {_iv(r.protection_pp, ' pp')} | {r.misses} | "
                     f"{r.chatter_per_h:.2f} | {r.hibernate_pct:.2f} % |")
    return lines


def _cell(report: RunReport, name: str, key: str) -> str:
    value = report.suite[name].get(key, float("nan"))
    note = report.suite_notes.get(name, {}).get(key) if value == value else None
    return fmt_metric(key, value) + (f" ({_md(note)})" if note else "")


def summary_markdown(report: RunReport) -> str:
    """The Markdown text of a loaded run."""
    m = report.manifest
    counts = report.verdict_counts()
    bad = len(report.failing())
    head = (f"## nor run `{m.run_id}`: " + (f"{bad} of {len(report.cases)} cases failed" if bad
                                             else f"all {len(report.cases)} cases passed"))
    lines = [head, "",
             f"Controller **{_md(m.controller_name)}** (config `{m.config_id[:12]}`), code `{_md(m.code_version)}`, "
             f"{fmt_seconds(m.wall_s)} wall.", "",
             " · ".join(f"**{v}** {n}" for v, n in counts.items()), "",
             f"**{_md(headline(run_row(report.scores)))}**"]
    lines += _scorecard(report)
    lines += _failures(report)
    problems = report.problem_cases()
    if problems:
        lines += ["", "### Unreadable traces", ""] + [f"- {_md(c.key)}: {_md('; '.join(c.problems))}" for c in problems]
    lines += _metrics(report)
    lines += ["", "Full report with plots and definitions: `report.html` in the run directory "
                  "(rebuild with `nor report .` from it)."]
    return "\n".join(lines) + "\n"


def write_summary(run_dir: str | Path, path: str | Path | None = None, report: RunReport | None = None) -> Path:
    """Write ``summary.md`` (default ``<run_dir>/summary.md``); returns the path written."""
    report = report if report is not None else load_report(run_dir)
    out = Path(path) if path is not None else report.run_dir / "summary.md"
    write_output(out, summary_markdown(report))
    return out
