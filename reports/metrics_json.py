"""``metrics.json``: every report metric per case, per scenario and for the suite, for every controller.

Format ``dolphin-nor.metrics/1``::

    {"format": ..., "run_id": ..., "config_id": ..., "bootstrap": {"seed", "resamples", "level"},
     "metrics": {key: {"label", "unit", "better", "aggregate", "definition"}},
     "cases": {"<scenario>/<seed>": {"scenario", "seed", "verdict", "controllers": {name: {key: value}}}},
     "scenarios": {name: {controller: {key: value}}}, "suite": {controller: {key: value}},
     "scorecard": [{"controller", "tax_pp": {"mean", "lo", "hi", "n", "within_noise"}, ...}],
     "headline": "..."}

A value that does not apply is ``null``; an infinite one (a missed reaction or invariant, not
recovered) is the string ``"inf"``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from .files import write_output
from .metrics import METRICS, aggregate
from .scorecard import BOOTSTRAP_SEED, LEVEL, RESAMPLES, headline, run_row

__all__ = ["METRICS_FORMAT", "metrics_document", "write_metrics_json", "value", "metric_units"]

METRICS_FORMAT = "dolphin-nor.metrics/1"


def value(v: float) -> float | str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return round(float(v), 9)


def _values(m: Mapping[str, float]) -> dict[str, Any]:
    return {d.key: value(m.get(d.key, math.nan)) for d in METRICS}


def metric_units() -> dict[str, dict[str, str]]:
    return {d.key: {"label": d.label, "unit": d.unit, "better": d.better, "aggregate": d.aggregate,
                    "definition": d.definition} for d in METRICS}


def bootstrap_info() -> dict[str, Any]:
    return {"seed": BOOTSTRAP_SEED, "resamples": RESAMPLES, "level": LEVEL, "method": "percentile, cases resampled"}


def metrics_document(report: Any) -> dict[str, Any]:
    """The metrics.json content of a loaded :class:`reports.RunReport`."""
    m = report.manifest
    cases = {}
    by_scenario: dict[str, dict[str, list]] = {}
    for c in report.cases:
        per = report.metrics.get(c.key, {})
        cases[c.key] = {"scenario": c.scenario.name, "seed": c.run.seed, "verdict": c.run.verdict,
                        "controllers": {n: _values(v) for n, v in per.items()}}
        for n, v in per.items():
            by_scenario.setdefault(c.scenario.name, {}).setdefault(n, []).append(v)
    return {"format": METRICS_FORMAT, "run_id": m.run_id, "config_id": m.config_id, "code_version": m.code_version,
            "controller": m.controller_name, "bootstrap": bootstrap_info(), "metrics": metric_units(),
            "cases": cases,
            "scenarios": {s: {n: _values(aggregate(rows)) for n, rows in per.items()} for s, per in by_scenario.items()},
            "suite": {n: _values(v) for n, v in report.suite.items() if v},
            "scorecard": [r.to_dict() for r in report.scores],
            "headline": headline(run_row(report.scores))}


def write_metrics_json(path: Path, document: Mapping[str, Any]) -> Path:
    return write_output(path, json.dumps(document, indent=1, sort_keys=False, allow_nan=False) + "\n")
