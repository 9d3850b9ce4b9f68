"""``junit.xml`` and ``summary.md`` of a run: written by the one writer of each, in ``reports``.

The runner calls this when it does not render the full report (``--no-report``, an interrupted or
``--fail-fast`` run), so the two files have the same format with or without ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from reports import load_report, write_junit, write_summary
from reports.files import write_output

__all__ = ["write_outputs"]


def write_outputs(run_dir: Path, manifest: Mapping[str, Any] | None = None, junit_path: Path | None = None) -> None:
    """``junit.xml`` and ``summary.md`` in the run directory (and the JUnit file at ``junit_path`` too).

    ``manifest`` is accepted for callers that hold it; the writers read the written manifest and traces.
    """
    report = load_report(run_dir)
    xml_path = write_junit(run_dir, report=report)
    if junit_path is not None:          # its directory was checked to exist before the run (never created)
        write_output(junit_path, xml_path.read_text(encoding="utf-8"))
    write_summary(run_dir, report=report)
