"""Everything a report shows, loaded once from a run directory: manifest, cases, metrics, aggregates."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .attribution import Reads
from .manifest import Manifest, load_manifest, verdict_rank
from .metrics import METRICS, aggregate, compute_metrics, metric_notes
from .scorecard import ScoreRow, score_rows
from .traces import RUN, Case, load_case

__all__ = ["RunReport", "load_report", "controllers_of", "reads_of"]


@dataclass
class RunReport:
    """A loaded run directory.

    ``cases`` in manifest order; ``metrics[case.key][controller]`` is the metric dict of that trace
    (``controller`` is ``"run"`` or a companion name); ``suite[controller]`` aggregates all cases.
    ``notes[case.key][controller][metric]`` names what a worst-case metric refers to (the slowest
    fault, the worst invariant break); ``suite_notes[controller][metric]`` adds the case.
    """

    manifest: Manifest
    cases: list[Case]
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    suite: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    suite_notes: dict[str, dict[str, str]] = field(default_factory=dict)
    scores: list[ScoreRow] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.manifest.run_dir

    @property
    def controllers(self) -> list[str]:
        return controllers_of(self.manifest.companions)

    def failing(self) -> list[Case]:
        """Cases whose verdict is not PASS, worst verdict first, then in manifest order."""
        bad = [c for c in self.cases if c.run.verdict != "PASS"]
        return sorted(bad, key=lambda c: verdict_rank(c.run.verdict))

    def problem_cases(self) -> list[Case]:
        return [c for c in self.cases if c.problems]

    def verdict_counts(self) -> dict[str, int]:
        counts = {"PASS": 0, "SAFETY": 0, "LIVENESS": 0, "EXPECTATION": 0, "ERROR": 0}
        for c in self.cases:
            counts[c.run.verdict] += 1
        return counts


    def worst_note(self, name: str, key: str, cases: Iterable[Case] | None = None) -> str:
        """``"<what> in <case>"`` for the case where metric ``key`` of ``name`` is worst (max), or ''."""
        worst, note = -math.inf, ""
        for c in self.cases if cases is None else cases:
            v = self.metrics.get(c.key, {}).get(name, {}).get(key, math.nan)
            what = self.notes.get(c.key, {}).get(name, {}).get(key)
            if what and v > worst:
                worst, note = v, f"{what} in {c.key}"
        return note


_WORST_CASE_KEYS = tuple(m.key for m in METRICS if m.aggregate == "max")


def controllers_of(companions: tuple[str, ...]) -> list[str]:
    return [RUN] + list(companions)


def reads_of(manifest: Manifest, case: Case, name: str) -> Reads | None:
    """Layer -> input signals of the controller behind trace ``name`` (None: not recorded)."""
    if name in (RUN, "nofault"):
        return case.scenario.layer_reads
    return (manifest.companion_reads or {}).get(name)


def _case_metrics(manifest: Manifest, case: Case) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    out: dict[str, dict[str, float]] = {}
    notes: dict[str, dict[str, str]] = {}
    refs = {k: v for k, v in case.traces.items() if k != RUN and k != "nofault"}
    for name, tr in case.traces.items():
        faults = () if name == "nofault" else case.faults
        own_refs = {} if name == "nofault" else {k: v for k, v in refs.items() if k != name}
        breaks = None if name == "nofault" else case.breaks  # the breaks of the faulted world
        reads = reads_of(manifest, case, name)
        try:
            faulted = name != "nofault"
            out[name] = compute_metrics(tr, faults, case.scenario.duration_s, own_refs, breaks, reads,
                                        case.true_breaks if faulted else None, case.truth if faulted else None)
            if not case.scenario.liveness_judged:
                out[name]["recovery_s"] = math.nan    # "not recovered" only where the scenario judges liveness
            notes[name] = metric_notes(tr, faults, breaks, reads, case.truth if faulted else None)
        except (ValueError, IndexError, ArithmeticError) as exc:  # a trace that loads but is inconsistent
            case.problems.append(f"{case.run.dir}: metrics of {name!r} could not be computed: {exc}")
    return out, notes


def load_report(run_dir: str | Path, with_traces: bool = True) -> RunReport:
    """Load a run directory. ``with_traces=False`` reads the manifest and ``checks.parquet`` only."""
    manifest = load_manifest(run_dir)
    root = manifest.run_dir
    cases = []
    for scenario in manifest.scenarios:
        for run in scenario.runs:
            cases.append(load_case(root, scenario, run, manifest.companions, traces=with_traces))
    report = RunReport(manifest, cases)
    if with_traces:
        for case in cases:
            report.metrics[case.key], report.notes[case.key] = _case_metrics(manifest, case)
        for name in report.controllers:
            rows = [report.metrics[c.key][name] for c in cases if name in report.metrics.get(c.key, {})]
            report.suite[name] = aggregate(rows) if rows else {}
            report.suite_notes[name] = {k: n for k in _WORST_CASE_KEYS if (n := report.worst_note(name, k))}
        report.scores = score_rows(report.metrics, report.controllers)
    return report

