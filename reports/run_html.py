"""``report.html`` of one run directory: overview, failures first, suite metrics, then every case."""

from __future__ import annotations

import json
import math
from typing import Mapping, Sequence

from .manifest import Fault, ScenarioInfo, verdict_rank
from .attribution import FaultOutcome, true_hibernate_s
from .metrics import METRICS, outcomes, reaction_per_break
from .model import RunReport, reads_of
from .page import (definitions_html, esc, fmt_metric, fmt_seconds, fmt_time, page, posture_legend, table,
                   verdict_badge)
from .plots import style_for, timeline_svg
from .scorecard import headline, run_row
from .scorecard_html import scorecard_html
from .traces import RUN, Case

__all__ = ["run_html", "scenario_order"]

_NEVER_TEXT = {"recovery_s": ("not recovered", "cases judging liveness"),
               "reaction_s": ("missed", "cases expecting a reaction"),
               "invariant_hibernate_true_s": ("missed", "cases with an invariant break"),
               "invariant_hibernate_s": ("missed", "cases with an invariant break"),
               "invariant_cancel_s": ("missed", "cases with an invariant break")}
"""Metrics whose infinite value is a failure, counted in the suite row over the cases where they apply."""


def scenario_order(report: RunReport) -> list[tuple[ScenarioInfo, list[Case]]]:
    """Scenarios with their cases, worst verdict first (then manifest order)."""
    groups: dict[str, tuple[ScenarioInfo, list[Case]]] = {}
    for case in report.cases:
        groups.setdefault(case.scenario.name, (case.scenario, []))[1].append(case)
    items = list(groups.values())
    return sorted(items, key=lambda g: (min(verdict_rank(c.run.verdict) for c in g[1]) if g[1] else 9,
                                        0 if any(c.problems for c in g[1]) else 1))


def _header(report: RunReport) -> str:
    m = report.manifest
    counts = report.verdict_counts()
    chips = " ".join(f"{verdict_badge(v)} {n}" for v, n in counts.items() if n or v == "PASS")
    rows = [("run", esc(m.run_id)), ("created (UTC)", esc(m.created_utc)),
            ("controller", f"{esc(m.controller_name)} <span class='muted'>(spec {esc(m.controller_spec)})</span>"),
            ("config id", f"<code>{esc(m.config_id)}</code>"), ("code version", f"<code>{esc(m.code_version)}</code>"),
            ("command", f"<code>{esc(m.command)}</code>"),
            ("companions", esc(", ".join(m.companions) or "none")),
            ("cases", f"{len(report.cases)} ({chips})"),
            ("wall time", f"{fmt_seconds(m.wall_s)} on {m.jobs} job(s)")]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<h1>Degradation report — {esc(m.run_id)}</h1><table class='meta'>{body}</table>"


def _failures(report: RunReport) -> str:
    failing = report.failing()
    if not failing:
        return "<h2 id='failures'>Failures</h2><p>None: every case passed.</p>"
    rows = []
    for c in failing:
        link = f"<a href='#{c.anchor}'>{esc(c.scenario.name)}</a>"
        replay = f"<pre>{esc(c.run.replay)}</pre>" if c.run.replay else "—"
        checks = c.failures or ()
        if c.run.verdict == "ERROR" or not checks:
            what = esc(c.run.error or "no failing check recorded")
            rows.append([link, str(c.run.seed), verdict_badge(c.run.verdict), what, "", "", replay])
            continue
        for i, f in enumerate(checks):
            rows.append([link if i == 0 else "", str(c.run.seed) if i == 0 else "",
                         verdict_badge(c.run.verdict) if i == 0 else "",
                         f"<code>{esc(f.check)}</code> <span class='muted'>{esc(f.kind)}</span>", fmt_time(f.t_s),
                         esc(f.message), replay if i == 0 else ""])
    return (f"<h2 id='failures'>Failures ({len(failing)} of {len(report.cases)} cases)</h2>"
            + table(["scenario", "seed", "verdict", "failing check", "failed at", "message",
                    "replay (from the run directory)"], rows))


def _problems(report: RunReport) -> str:
    bad = report.problem_cases()
    if not bad:
        return ""
    items = "".join(f"<li><a href='#{c.anchor}'>{esc(c.key)}</a>: " + "<br>".join(esc(p) for p in c.problems)
                    + "</li>" for c in bad)
    return (f"<h2 id='problems'>Unreadable traces ({len(bad)} cases)</h2><div class='warn'>These cases are shown "
            f"with what could be read; their plots or metrics are incomplete.<ul>{items}</ul></div>")


def _matrix(report: RunReport) -> str:
    groups = scenario_order(report)
    seeds = sorted({c.run.seed for c in report.cases})
    rows = []
    for scenario, cases in groups:
        by_seed = {c.run.seed: c for c in cases}
        cells = []
        for s in seeds:
            c = by_seed.get(s)
            if c is None:
                cells.append("<td class='muted'>—</td>")
                continue
            mark = " <span title='unreadable trace'>⚠</span>" if c.problems else ""
            cells.append(f"<td><a href='#{c.anchor}'>{verdict_badge(c.run.verdict)}</a>{mark}</td>")
        faults = _faults_label(scenario, cases)
        rows.append([f"<a href='#scn-{esc(scenario.name)}'>{esc(scenario.name)}</a>", esc(faults), *cells])
    return ("<h2 id='matrix'>Scenarios × seeds</h2>"
            + table(["scenario", "faults", *[f"seed {s}" for s in seeds]], rows))


def metric_rows(columns: Sequence[Mapping[str, float]], keys: Sequence[str] | None = None,
                notes: Sequence[Mapping[str, str]] | None = None) -> list[list[str]]:
    """One row per metric, one cell per column; ``notes`` (parallel to ``columns``) name what a value
    refers to (e.g. the slowest fault), shown small under it."""
    rows = []
    for d in METRICS:
        if keys is not None and d.key not in keys:
            continue
        label = f"<a href='#def-{d.key}' title='{esc(d.definition)}'>{esc(d.label)}</a>"
        cells = []
        for i, col in enumerate(columns):
            v = col.get(d.key, float("nan"))
            cls = "num bad-cell" if d.key in _NEVER_TEXT and v == float("inf") else "num"
            note = notes[i].get(d.key, "") if notes is not None and not math.isnan(v) else ""
            cells.append(f"<td class='{cls}'>{fmt_metric(d.key, v)}"
                         + (f"<br><span class='note'>{esc(note)}</span>" if note else "") + "</td>")
        rows.append([label, *cells])
    return rows


def _applicable(report: RunReport, name: str, key: str) -> list[float]:
    """Metric ``key`` of controller ``name`` in every case where it applies (not NaN)."""
    values = (report.metrics.get(c.key, {}).get(name, {}).get(key, math.nan) for c in report.cases)
    return [v for v in values if not math.isnan(v)]


def _suite_metrics(report: RunReport) -> str:
    names = [n for n in report.controllers if report.suite.get(n)]
    if not names:
        return "<h2 id='suite'>Suite metrics</h2><p>No readable traces.</p>"
    header = ["metric", *[esc(style_for(n, i).label) for i, n in enumerate(names)]]
    note = ("<p class='muted'>Across all cases: means, except latencies and drawdowns (worst case) and fills and "
            "fees (totals). “no fault” runs have no fault periods, so fault metrics do not apply to them.</p>")
    rows = metric_rows([report.suite[n] for n in names], notes=[report.suite_notes.get(n, {}) for n in names])
    for row in rows:
        key = next((k for k in _NEVER_TEXT if f"def-{k}'" in row[0]), None)
        if key is None:
            continue
        for i, n in enumerate(names):
            values = _applicable(report, n, key)
            never = sum(1 for v in values if v == float("inf"))
            note = report.suite_notes.get(n, {}).get(key, "")
            if never:
                row[i + 1] = (f"<td class='num bad-cell'>{_NEVER_TEXT[key][0]} in {never} of {len(values)} "
                              f"{_NEVER_TEXT[key][1]}"
                              + (f"<br><span class='note'>{esc(note)}</span>" if note else "") + "</td>")
    return "<h2 id='suite'>Suite metrics</h2>" + note + table(header, rows)


def _per_seed(scenario: ScenarioInfo, cases: Sequence[Case]) -> bool:
    return any(c.faults != scenario.faults for c in cases)


def _faults_label(scenario: ScenarioInfo, cases: Sequence[Case]) -> str:
    if _per_seed(scenario, cases):
        counts = sorted({len(c.faults) for c in cases})
        return f"drawn per seed ({counts[0]}–{counts[-1]} faults)" if len(counts) > 1 else \
            f"drawn per seed ({counts[0]} faults)"
    return ", ".join(f.label for f in scenario.faults) or "none"


def _fault_items(faults: Sequence[Fault]) -> str:
    return "".join(f"<li><b>{esc(f.kind)}</b> on <code>{esc(f.target)}</code> at {fmt_seconds(f.at_s)}"
                   f"{' for ' + fmt_seconds(f.for_s) if f.for_s else ' (instantaneous)'}"
                   f"{'' if f.heals else ', never healed'}"
                   f"{' ' + esc(json.dumps(dict(f.params), sort_keys=True)) if f.params else ''}</li>"
                   for f in faults)


def _scenario_head(scenario: ScenarioInfo, cases: Sequence[Case]) -> str:
    faults = ("<li>drawn per seed: listed with each case</li>" if _per_seed(scenario, cases)
              else _fault_items(scenario.faults) or "<li>none</li>")
    expects = "".join(f"<li><code>{esc(e.check)}</code> {esc(json.dumps(dict(e.params), sort_keys=True))}</li>"
                      for e in scenario.expectations) or "<li>none beyond the always-on checks</li>"
    return (f"<h2 id='scn-{esc(scenario.name)}'>{esc(scenario.name)}</h2>"
            f"<p>{esc(scenario.description)} <span class='muted'>suite {esc(scenario.suite)}, "
            f"{esc(scenario.file)}, {fmt_seconds(scenario.duration_s)} simulated</span></p>"
            f"<table class='meta'><tr><td>faults</td><td><ul>{faults}</ul></td></tr>"
            f"<tr><td>expectations</td><td><ul>{expects}</ul></td></tr></table>")


def _case_failures(case: Case) -> str:
    out = []
    if case.run.error:
        out.append(f"<div class='bad'>Error: {esc(case.run.error)}</div>")
    for f in case.failures:
        out.append(f"<div class='bad'><code>{esc(f.check)}</code> ({esc(f.kind)}) failed at {fmt_time(f.t_s)}: "
                   f"{esc(f.message)}</div>")
    if case.run.replay and (case.failures or case.run.verdict != "PASS"):
        out.append(f"<p>Replay (from the run directory): <code>{esc(case.run.replay)}</code></p>")
    for p in case.problems:
        out.append(f"<div class='warn'>⚠ {esc(p)}</div>")
    return "".join(out)


def _outcome_cell(o: FaultOutcome) -> str:
    bad = o.outcome == "missed"
    when = ""
    if not math.isnan(o.detect_s):
        when = f"<br><span class='note'>layer drop after {fmt_seconds(o.detect_s)}"
        when += (f" (designed delay {fmt_seconds(o.designed_s)})" if o.designed_s else "")
        when += (f"; {esc(o.posture_after)} after {fmt_seconds(o.posture_s)}" if not math.isnan(o.posture_s) else "")
        when += "</span>"
    return f"<td class='{'bad-cell' if bad else ''}'>{esc(o.outcome)}{when}</td>"


def _reactions(report: RunReport, case: Case) -> str:
    """Per fault: what it acts on, whether a reaction is expected, and each controller's outcome."""
    names = [n for n in report.controllers if n in case.traces and n != "nofault"]
    if not case.faults or not names:
        return ""
    per = {n: outcomes(case.traces[n], case.faults, reads_of(report.manifest, case, n), case.truth) for n in names}
    rows = []
    for i, f in enumerate(case.faults):
        own = per[names[0]][i].layers if names[0] == RUN else ()
        sigs = ", ".join(f.signals) if f.signals else ("none" if f.signals is not None else "not recorded")
        expected = {True: "reaction", False: "no harm", None: "—"}[f.expects_reaction]
        rows.append([esc(f.label), fmt_seconds(f.at_s), esc(sigs), esc(", ".join(own) or "—"), expected,
                     *[_outcome_cell(per[n][i]) for n in names]])
    return table(["fault", "starts at", "acts on signals", "layers reading them (this run)", "scenario expects",
                  *[esc(style_for(n, i).label) for i, n in enumerate(names)]], rows)


def _break_reactions(report: RunReport, case: Case) -> str:
    """One row per observed invariant break: when, what, and each controller's time to HIBERNATE / cancels."""
    if not case.breaks:
        return ""
    names = [n for n in report.controllers if n in case.traces and n != "nofault"]
    per = {n: reaction_per_break(case.traces[n], case.breaks) for n in names}
    rows = []
    for i, brk in enumerate(case.breaks):
        cells = [esc(brk.cause), fmt_time(brk.start_s), "never" if brk.end_s == float("inf") else fmt_time(brk.end_s)]
        for n in names:
            r = per[n][i]
            cls = " bad-cell" if float("inf") in (r.hibernate_s, r.cancel_s) else ""
            true_s = (true_hibernate_s(case.traces[n].t_s, case.traces[n].posture, brk, case.true_breaks)
                      if case.true_breaks is not None else float("nan"))
            cells.append(f"<td class='num{cls}'>{fmt_metric('invariant_hibernate_true_s', true_s)} / "
                         f"{fmt_metric('invariant_hibernate_s', r.hibernate_s)} / "
                         f"{fmt_metric('invariant_cancel_s', r.cancel_s)}</td>")
        rows.append(cells)
    header = ["observed invariant break", "from", "healed",
              *[f"{esc(style_for(n, i).label)}: true break → HIBERNATE / observed → HIBERNATE / orders done"
                for i, n in enumerate(names)]]
    return table(header, rows)


def case_html(report: RunReport, case: Case) -> str:
    names = [n for n in report.controllers if n in case.traces]
    failed = case.run.verdict != "PASS" or bool(case.problems)
    parts = [f"<details class='case' id='{case.anchor}'{' open' if failed else ''}><summary><h3>"
             f"{esc(case.scenario.name)} — seed {case.run.seed} {verdict_badge(case.run.verdict)} "
             f"<span class='muted'>{fmt_seconds(case.run.wall_s)} wall</span></h3></summary>",
             _case_failures(case)]
    if case.faults != case.scenario.faults:
        parts.append(f"<p>Faults of this seed:</p><ul>{_fault_items(case.faults) or '<li>none</li>'}</ul>")
    if RUN in case.traces:
        traces = [(n, case.traces[n], style_for(n, i)) for i, n in enumerate(names)]
        breaks = [(b.start_s, b.end_s, f"observed invariant break: {b.cause}") for b in case.breaks or ()]
        marks = [(f.t_s, f.check) for f in case.failures]
        svg, flat = timeline_svg(f"{case.scenario.name} · seed {case.run.seed}", traces, case.faults,
                                 case.scenario.duration_s, breaks=breaks, marks=marks)
        parts.append(svg)
        parts.append("<p class='muted'>"
                     + (f"Layers at exactly 1.0 throughout (not drawn): {esc(', '.join(flat))}. " if flat else "")
                     + "Fault windows shaded yellow" + (", observed invariant breaks as grey bars atop each panel" if breaks else "")
                     + (", failing checks as red dashed lines" if marks else "")
                     + f". Posture colours: {posture_legend()}</p>")
        metrics = report.metrics.get(case.key, {})
        cols = [n for n in names if n in metrics]
        notes = report.notes.get(case.key, {})
        parts.append(table(["metric", *[esc(style_for(n, i).label) for i, n in enumerate(cols)]],
                           metric_rows([metrics[n] for n in cols], notes=[notes.get(n, {}) for n in cols])))
        parts.append(_reactions(report, case))
        parts.append(_break_reactions(report, case))
    elif case.run.verdict != "ERROR":
        parts.append("<div class='warn'>No plot: this case's own trace could not be read.</div>")
    parts.append("</details>")
    return "".join(parts)


def run_html(report: RunReport) -> str:
    """The whole report page."""
    nav = ("<nav><a href='#scorecard'>scorecard</a><a href='#failures'>failures</a><a href='#matrix'>scenarios × seeds</a>"
           "<a href='#suite'>suite metrics</a><a href='#definitions'>definitions</a>"
           + ("<a href='#problems'>unreadable traces</a>" if report.problem_cases() else "") + "</nav>")
    answer = f"<p class='answer' id='answer'><b>{esc(headline(run_row(report.scores)))}</b></p>"
    body = [_header(report).replace("</h1>", "</h1>" + answer, 1), scorecard_html(report.scores, answer=False), nav, _failures(report), _problems(report),
            _matrix(report), _suite_metrics(report),
            "<h2 id='definitions'>Metric definitions</h2>", definitions_html()]
    for scenario, cases in scenario_order(report):
        body.append(_scenario_head(scenario, cases))
        body.extend(case_html(report, c) for c in sorted(cases, key=lambda c: (verdict_rank(c.run.verdict),
                                                                               c.run.seed)))
    return page(f"nor report {report.manifest.run_id}", body)
