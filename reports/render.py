"""Render a run directory's report files from its traces alone (nothing is re-run)."""

from __future__ import annotations

from pathlib import Path

from .files import write_output
from .junit import write_junit
from .model import load_report
from .run_html import run_html
from .summary import write_summary

__all__ = ["render_run"]


def render_run(run_dir: str | Path) -> Path:
    """Write ``report.html``, ``summary.md`` and ``junit.xml`` into ``run_dir``; returns report.html's path.

    Raises :class:`reports.ManifestError` when ``run_dir`` has no valid manifest; an unreadable trace
    file does not raise: its case is marked in every output and the message names the file.
    """
    report = load_report(run_dir)
    out = report.run_dir / "report.html"
    write_output(out, run_html(report))
    write_summary(run_dir, report=report)
    write_junit(run_dir, report=report)
    return out
