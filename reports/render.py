"""Render a run directory's report files from its traces alone (nothing is re-run)."""

from __future__ import annotations

from pathlib import Path

from .files import write_output
from .junit import write_junit
from .metrics_json import metrics_document, write_metrics_json
from .model import load_report
from .run_html import run_html
from .summary import write_summary

__all__ = ["render_run", "write_run_metrics"]


def render_run(run_dir: str | Path) -> Path:
    """Write ``report.html``, ``summary.md``, ``junit.xml`` and ``metrics.json`` into ``run_dir``; returns report.html's path.

    Raises :class:`reports.ManifestError` when ``run_dir`` has no valid manifest; an unreadable trace
    file does not raise: its case is marked in every output and the message names the file.
    """
    report = load_report(run_dir)
    out = report.run_dir / "report.html"
    write_output(out, run_html(report))
    write_summary(run_dir, report=report)
    write_junit(run_dir, report=report)
    write_metrics_json(report.run_dir / "metrics.json", metrics_document(report))
    return out


def write_run_metrics(run_dir: str | Path) -> Path:
    """Write only ``metrics.json`` into ``run_dir`` (for ``nor run --no-report``); returns its path."""
    report = load_report(run_dir)
    return write_metrics_json(report.run_dir / "metrics.json", metrics_document(report))
