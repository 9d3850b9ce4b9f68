"""Config comparison: two run directories (two controller configs, same scenarios and seeds) side by side."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from .errors import ReportError
from .files import OutputError, write_output
from .manifest import Manifest, load_manifest, verdict_rank
from .metrics import METRICS, aggregate
from .model import RunReport, load_report
from .page import definitions_html, esc, fmt_metric, page, table, verdict_badge
from .metrics_json import METRICS_FORMAT, bootstrap_info, metric_units, value, write_metrics_json
from .plots import Style, timeline_svg
from .scorecard import BOOTSTRAP_SEED, LEVEL, RESAMPLES, Interval, paired_interval
from .summary import SUMMARY_METRICS
from .traces import RUN, Case

__all__ = ["render_compare", "compare_html", "compare_markdown", "delta_text", "headline_deltas", "HEADLINE_KEYS",
           "compare_document"]

HEADLINE_KEYS = ("tax_return_pct", "dd_avoided_uncontrolled_pct", "misses", "reaction_s", "switches_per_h",
                 "time_hibernate_pct", "fault_dd_pct", "return_pct")
"""Metrics whose B − A difference is reported with a paired bootstrap interval over the common cases."""


def headline_deltas(a: RunReport, b: RunReport, pairs: Sequence[tuple[Case, Case]]) -> dict[str, Interval]:
    """Per headline metric: mean of B − A over the common cases where both are finite, with its
    90 % paired-bootstrap interval (:mod:`reports.scorecard`)."""
    out = {}
    for key in HEADLINE_KEYS:
        va = [a.metrics.get(ca.key, {}).get(RUN, {}).get(key, math.nan) for ca, _ in pairs]
        vb = [b.metrics.get(cb.key, {}).get(RUN, {}).get(key, math.nan) for _, cb in pairs]
        out[key] = paired_interval(va, vb)
    return out


def _delta_words(key: str, i: Interval) -> str:
    if i.n == 0:
        return "—"
    unit = next(m.unit for m in METRICS if m.key == key)
    text = f"{i.mean:+.3f} [{i.lo:+.3f}, {i.hi:+.3f}] {unit}".rstrip()
    return text + (" — within noise" if i.within_noise else "")


def _deltas_html(a: RunReport, b: RunReport, pairs: Sequence[tuple[Case, Case]]) -> str:
    deltas = headline_deltas(a, b, pairs)
    rows = [[f"<a href='#def-{k}'>{esc(next(m.label for m in METRICS if m.key == k))}</a>",
             f"<td class='num'>{esc(_delta_words(k, deltas[k]))}</td>", str(deltas[k].n)] for k in HEADLINE_KEYS]
    return ("<h2 id='deltas'>Headline differences (B − A)</h2><p class='muted'>Mean over the common cases of B − A "
            f"with its {LEVEL:.0%} paired-bootstrap interval ({RESAMPLES} resamples, seed {BOOTSTRAP_SEED}); "
            "an interval containing 0 is within noise: the runs do not differ on it.</p>"
            + table(["metric", "Δ mean [90 % interval]", "cases"], rows))


def compare_document(a: RunReport, b: RunReport) -> dict:
    """The comparison's metrics.json: both runs' per-case metrics and the headline deltas with intervals."""
    pairs = _pairs(a, b)
    deltas = headline_deltas(a, b, pairs)
    return {"format": METRICS_FORMAT, "kind": "compare", "bootstrap": bootstrap_info(), "metrics": metric_units(),
            "a": {"run_id": a.manifest.run_id, "config_id": a.manifest.config_id, "controller": a.manifest.controller_name},
            "b": {"run_id": b.manifest.run_id, "config_id": b.manifest.config_id, "controller": b.manifest.controller_name},
            "cases": {ca.key: {"a": {k: value(v) for k, v in a.metrics.get(ca.key, {}).get(RUN, {}).items()},
                               "b": {k: value(v) for k, v in b.metrics.get(cb.key, {}).get(RUN, {}).items()}}
                      for ca, cb in pairs},
            "deltas": {k: d.to_dict() for k, d in deltas.items()}}

_STYLE_A = ("#111111", 2.0, "")
_STYLE_B = ("#d81b60", 1.8, "6 3")


def _case_keys(m: Manifest) -> list[str]:
    return [f"{s.name}/{r.seed}" for s in m.scenarios for r in s.runs]


def _nothing_in_common(a: Manifest, b: Manifest) -> ReportError:
    def what(m: Manifest) -> str:
        names = sorted({s.name for s in m.scenarios})
        shown = ", ".join(names[:6]) + (f", … ({len(names)} scenarios)" if len(names) > 6 else "")
        return f"{m.run_dir} ({len(_case_keys(m))} cases: {shown or 'none'})"
    return ReportError(f"nothing to compare: {what(a)} and {what(b)} have no scenario seed in common; "
                       "compare two runs of the same scenarios and seeds")


def _pairs(a: RunReport, b: RunReport) -> list[tuple[Case, Case]]:
    """The cases both runs have (same scenario name and seed), in A's order; raises :class:`ReportError`
    when there is none."""
    by_key = {c.key: c for c in b.cases}
    pairs = [(c, by_key[c.key]) for c in a.cases if c.key in by_key]
    if not pairs:
        raise _nothing_in_common(a.manifest, b.manifest)
    return pairs


def delta_text(key: str, va: float, vb: float) -> str:
    """``B − A`` formatted with the metric's unit; '—' if either is missing, 'changed' / '±0' for infinities."""
    if math.isnan(va) or math.isnan(vb):
        return "—"
    if math.isinf(va) or math.isinf(vb):
        return "±0" if va == vb else "changed"
    return fmt_metric(key, vb - va, signed=True)


def _delta_cell(key: str, va: float, vb: float) -> str:
    better = next(m.better for m in METRICS if m.key == key)
    if not (math.isfinite(va) and math.isfinite(vb)):
        return f"<td class='num'>{delta_text(key, va, vb)}</td>"
    d = vb - va
    cls = ""
    if better and abs(d) > 1e-12:
        cls = "better" if (d < 0) == (better == "lower") else "worse"
    return f"<td class='num {cls}'>{fmt_metric(key, d, signed=True)}</td>"


def _value_cell(key: str, v: float, note: str) -> str:
    note_html = f"<br><span class='note'>{esc(note)}</span>" if note and not math.isnan(v) else ""
    return f"<td class='num'>{fmt_metric(key, v)}{note_html}</td>"


def _metric_table(a: RunReport, b: RunReport, items: Sequence[tuple[Case, Case]]) -> str:
    """A, B and B − A of every metric aggregated over ``items``; worst-case values name their fault and case."""
    ma = aggregate([a.metrics[ca.key][RUN] for ca, _ in items if RUN in a.metrics.get(ca.key, {})])
    mb = aggregate([b.metrics[cb.key][RUN] for _, cb in items if RUN in b.metrics.get(cb.key, {})])
    rows = []
    for d in METRICS:
        va, vb = ma.get(d.key, math.nan), mb.get(d.key, math.nan)
        na = a.worst_note(RUN, d.key, [ca for ca, _ in items]) if d.aggregate == "max" else ""
        nb = b.worst_note(RUN, d.key, [cb for _, cb in items]) if d.aggregate == "max" else ""
        rows.append([f"<a href='#def-{d.key}' title='{esc(d.definition)}'>{esc(d.label)}</a>",
                     _value_cell(d.key, va, na), _value_cell(d.key, vb, nb), _delta_cell(d.key, va, vb)])
    return table(["metric", esc(_label(a, "A")), esc(_label(b, "B")), "Δ (B − A)"], rows)


def _label(report: RunReport, tag: str) -> str:
    return f"{tag}: {report.manifest.controller_name}"


def _header(a: RunReport, b: RunReport, pairs: list) -> str:
    rows = "".join(f"<tr><td>{tag}</td><td>{esc(r.manifest.run_id)}</td><td>{esc(r.manifest.controller_name)}</td>"
                   f"<td><code>{esc(r.manifest.config_id[:16])}</code></td><td><code>{esc(r.manifest.code_version)}"
                   f"</code></td></tr>" for tag, r in (("A", a), ("B", b)))
    out = ("<h1>Config comparison</h1><table><tr><th></th><th>run</th><th>controller</th><th>config id</th>"
           f"<th>code</th></tr>{rows}</table><p>{len(pairs)} common scenario seeds.</p>")
    if a.manifest.config_id and a.manifest.config_id == b.manifest.config_id:
        out += "<div class='warn'>Both runs used the same controller config id.</div>"
    only_a = sorted({c.key for c in a.cases} - {c.key for c in b.cases})
    only_b = sorted({c.key for c in b.cases} - {c.key for c in a.cases})
    for tag, keys in (("A", only_a), ("B", only_b)):
        if keys:
            out += f"<div class='warn'>Only in {tag} (not compared): {esc(', '.join(keys))}</div>"
    return out


def _verdicts(pairs: list[tuple[Case, Case]]) -> str:
    rows = []
    for ca, cb in pairs:
        ra, rb = verdict_rank(ca.run.verdict), verdict_rank(cb.run.verdict)
        change = "same" if ra == rb else ("<b>better</b>" if rb > ra else "<b>worse</b>")
        mark = " ⚠" if ca.problems or cb.problems else ""
        rows.append([f"<a href='#cmp-{esc(ca.scenario.name)}'>{esc(ca.scenario.name)}</a>", str(ca.run.seed),
                     verdict_badge(ca.run.verdict), verdict_badge(cb.run.verdict), change + mark])
    rows.sort(key=lambda r: (0 if "worse" in r[4] else 1 if "better" in r[4] else 2))
    return "<h2 id='verdicts'>Verdicts</h2>" + table(["scenario", "seed", "A", "B", "change"], rows)


def _scenario_sections(a: RunReport, b: RunReport, pairs: list[tuple[Case, Case]]) -> list[str]:
    groups: dict[str, list[tuple[Case, Case]]] = {}
    for pa_, pb_ in pairs:
        groups.setdefault(pa_.scenario.name, []).append((pa_, pb_))
    out = []
    la, lb = _label(a, "A"), _label(b, "B")
    for name, items in groups.items():
        scenario = items[0][0].scenario
        out.append(f"<h2 id='cmp-{esc(name)}'>{esc(name)}</h2><p>{esc(scenario.description)}</p>"
                   + _metric_table(a, b, items))
        for ca, cb in items:
            problems = ca.problems + cb.problems
            out.extend(f"<div class='warn'>⚠ {esc(p)}</div>" for p in problems)
            if RUN in ca.traces and RUN in cb.traces:
                traces = [("A", ca.traces[RUN], Style(la, *_STYLE_A)), ("B", cb.traces[RUN], Style(lb, *_STYLE_B))]
                svg, _ = timeline_svg(f"{name} · seed {ca.run.seed} · A vs B", traces, ca.faults,
                                      scenario.duration_s, draw_layers=False)
                out.append(svg)
    return out


def compare_html(a: RunReport, b: RunReport) -> str:
    pairs = _pairs(a, b)
    body = [_header(a, b, pairs), _deltas_html(a, b, pairs), _verdicts(pairs),
            "<h2 id='suite'>Suite metrics (common cases)</h2>" + _metric_table(a, b, pairs),
            *_scenario_sections(a, b, pairs), "<h2 id='definitions'>Metric definitions</h2>", definitions_html()]
    return page(f"nor compare {a.manifest.run_id} vs {b.manifest.run_id}", body)


def compare_markdown(a: RunReport, b: RunReport) -> str:
    pairs = _pairs(a, b)
    ma = aggregate([a.metrics[ca.key][RUN] for ca, _ in pairs if RUN in a.metrics.get(ca.key, {})])
    mb = aggregate([b.metrics[cb.key][RUN] for _, cb in pairs if RUN in b.metrics.get(cb.key, {})])
    worse = [(ca, cb) for ca, cb in pairs if verdict_rank(cb.run.verdict) < verdict_rank(ca.run.verdict)]
    better = [(ca, cb) for ca, cb in pairs if verdict_rank(cb.run.verdict) > verdict_rank(ca.run.verdict)]
    lines = [f"## Config comparison: A `{a.manifest.controller_name}` vs B `{b.manifest.controller_name}`", "",
             f"{len(pairs)} common cases; B is worse on {len(worse)}, better on {len(better)}.", ""]
    if worse or better:
        lines += [f"- worse: {ca.key} {ca.run.verdict} → {cb.run.verdict}" for ca, cb in worse]
        lines += [f"- better: {ca.key} {ca.run.verdict} → {cb.run.verdict}" for ca, cb in better] + [""]
    deltas = headline_deltas(a, b, pairs)
    lines += ["| headline metric | Δ mean (B − A) [90 % interval] | cases |", "|---|---:|---:|"]
    lines += [f"| {next(m.label for m in METRICS if m.key == k)} | {_delta_words(k, deltas[k])} | {deltas[k].n} |"
              for k in HEADLINE_KEYS] + [""]
    lines += ["| metric | A | B | Δ (B − A) |", "|---|---:|---:|---:|"]
    for d in METRICS:
        if d.key in SUMMARY_METRICS:
            va, vb = ma.get(d.key, math.nan), mb.get(d.key, math.nan)
            lines.append(f"| {d.label} | {fmt_metric(d.key, va)} | {fmt_metric(d.key, vb)} | "
                         f"{delta_text(d.key, va, vb)} |")
    return "\n".join(lines) + "\n"


def render_compare(run_a: str | Path, run_b: str | Path, out_dir: str | Path) -> Path:
    """Write ``compare.html``, ``compare.md`` and ``metrics.json`` into ``out_dir`` (created); returns compare.html's path.

    Raises :class:`ReportError` naming both runs when they have no scenario seed in common (checked
    on the manifests, before any trace is read), and :class:`ManifestError` for a bad manifest.
    """
    ma, mb = load_manifest(run_a), load_manifest(run_b)
    if not set(_case_keys(ma)) & set(_case_keys(mb)):
        raise _nothing_in_common(ma, mb)
    a, b = load_report(run_a), load_report(run_b)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(out, f"expected a directory for the comparison ({exc.strerror or exc})") from None
    path = out / "compare.html"
    write_output(path, compare_html(a, b))
    write_output(out / "compare.md", compare_markdown(a, b))
    write_metrics_json(out / "metrics.json", compare_document(a, b))
    return path
