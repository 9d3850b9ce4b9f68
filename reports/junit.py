"""``junit.xml``: one test case per scenario seed, grouped in one test suite per scenario."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from .files import write_output
from .model import RunReport, load_report
from .page import fmt_time

__all__ = ["junit_xml", "write_junit"]


def _case_text(report: RunReport, case) -> tuple[str, str]:  # (message, details)
    failures = case.failures
    if case.run.verdict == "ERROR":
        message = case.run.error or "error"
    elif failures:
        f = failures[0]
        message = f"{f.check} ({f.kind}) failed at {fmt_time(f.t_s)}: {f.message}"
    else:
        message = f"verdict {case.run.verdict}"
    lines = [f"{f.check} ({f.kind}) failed at {fmt_time(f.t_s)}: {f.message}" for f in failures]
    lines += [f"trace problem: {p}" for p in case.problems]
    if case.run.replay:
        lines.append(f"replay (from the run directory): {case.run.replay}")
    return message, "\n".join(lines)


def junit_xml(report: RunReport) -> str:
    """The JUnit XML text of a loaded run (verdict PASS = passed; ERROR = error; others = failure)."""
    root = ET.Element("testsuites", name=f"nor {report.manifest.run_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    groups: dict[str, list] = {}
    for case in report.cases:
        groups.setdefault(case.scenario.name, []).append(case)
    for name, cases in groups.items():
        suite = ET.SubElement(root, "testsuite", name=name)
        if report.manifest.created_utc:
            suite.set("timestamp", report.manifest.created_utc.rstrip("Z"))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        wall = 0.0
        for case in cases:
            wall_s = case.run.wall_s if math.isfinite(case.run.wall_s) else 0.0
            wall += wall_s
            suite_name = case.scenario.suite or "run"
            tc = ET.SubElement(suite, "testcase", name=f"{name}[seed={case.run.seed}]",
                               classname=f"nor.{suite_name}.{name}", time=f"{wall_s:.3f}")
            counts["tests"] += 1
            props = ET.SubElement(tc, "properties")
            for key, value in (("seed", case.run.seed), ("controller", report.manifest.controller_name),
                               ("config_id", case.run.config_id or report.manifest.config_id),
                               ("trace_sha256", case.run.trace_sha256)):
                ET.SubElement(props, "property", name=key, value=str(value))
            if case.run.verdict != "PASS":
                message, details = _case_text(report, case)
                tag = "error" if case.run.verdict == "ERROR" else "failure"
                counts["errors" if tag == "error" else "failures"] += 1
                ET.SubElement(tc, tag, message=message, type=case.run.verdict).text = details
            elif case.problems:
                ET.SubElement(tc, "system-err").text = "\n".join(case.problems)
            if case.run.replay:
                ET.SubElement(tc, "system-out").text = f"replay (from the run directory): {case.run.replay}"
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{wall:.3f}")
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(run_dir: str | Path, path: str | Path | None = None, report: RunReport | None = None) -> Path:
    """Write ``junit.xml`` (default ``<run_dir>/junit.xml``) from the manifest and ``checks.parquet``.

    Reads no other trace, so the runner can call it right after a run; returns the path written.
    """
    report = report if report is not None else load_report(run_dir, with_traces=False)
    out = Path(path) if path is not None else report.run_dir / "junit.xml"
    write_output(out, junit_xml(report))
    return out
