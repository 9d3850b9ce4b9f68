"""Degradation reports: read run directories (manifest + Arrow traces), render HTML, JUnit and Markdown.

    from reports import render_run, render_compare
    render_run("runs/20261125-021500-ab12cd")            # -> .../report.html (+ summary.md, junit.xml)
    render_compare("runs/A", "runs/B", "runs/compare")   # -> .../compare.html (+ compare.md)

Imports nothing of the twin, the faults or the adapters: everything comes from the run directory.
"""

from .compare import render_compare
from .errors import ManifestError, ReportError, TraceError
from .junit import junit_xml, write_junit
from .manifest import Manifest, load_manifest, read_manifest
from .metrics import METRICS
from .model import RunReport, load_report
from .render import render_run, write_run_metrics
from .summary import summary_markdown, write_summary

__all__ = [
    "METRICS", "Manifest", "ManifestError", "ReportError", "RunReport", "TraceError", "junit_xml", "load_manifest",
    "load_report", "read_manifest", "render_compare", "render_run", "summary_markdown", "write_junit",
    "write_run_metrics", "write_summary",
]
