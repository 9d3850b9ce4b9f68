"""JUnit XML and the Markdown summary of a run, from its manifest data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

from reports.files import write_output

__all__ = ["junit_xml", "summary_md", "write_outputs"]


def _failure_text(run: Mapping[str, Any]) -> str:
    lines = []
    for f in run.get("failures", []):
        t = f.get("t_s")
        when = f" at t={t:.1f}s" if isinstance(t, (int, float)) and math.isfinite(t) else ""
        lines.append(f"[{f['kind']}] {f['check']}{when}: {f['message']}")
    if run.get("error"):
        lines.append(f"[error] {run['error']}")
    lines.append(f"replay: {run['replay']}")
    return "\n".join(lines)


def junit_xml(manifest: Mapping[str, Any]) -> str:
    """One testsuite per scenario suite; one testcase per scenario × seed."""
    root = ET.Element("testsuites", name=f"nor run {manifest['run_id']}")
    suites: dict[str, ET.Element] = {}
    for s in manifest["scenarios"]:
        suite = suites.get(s["suite"])
        if suite is None:
            suite = suites[s["suite"]] = ET.SubElement(root, "testsuite", name=s["suite"] or "scenarios")
        for run in s["runs"]:
            case = ET.SubElement(suite, "testcase", classname=f"{s['suite']}.{s['name']}",
                                 name=f"{s['name']}[seed={run['seed']}]", time=f"{run['wall_s']:.3f}")
            if run["verdict"] == "ERROR":
                ET.SubElement(case, "error", message=run.get("error", "error"), type="ERROR").text = _failure_text(run)
            elif run["verdict"] != "PASS":
                first = run["failures"][0] if run["failures"] else {"check": "?", "message": ""}
                ET.SubElement(case, "failure", type=run["verdict"],
                              message=f"{run['verdict']}: {first['check']}: {first['message']}"[:500]).text = \
                    _failure_text(run)
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def summary_md(manifest: Mapping[str, Any]) -> str:
    """A short Markdown summary: verdict counts, then every failing case with its replay command."""
    v = manifest["verdicts"]
    total = sum(v.values())
    ctl = manifest["controller"]
    lines = [f"# nor run {manifest['run_id']}", "",
             f"**{v.get('PASS', 0)}/{total} passed** · " + " · ".join(f"{k} {n}" for k, n in v.items() if k != "PASS"),
             "", f"controller `{ctl['name']}` (config `{ctl['config_id'][:12]}`), code `{manifest['code_version']}`, "
             f"{manifest['timings']['wall_s']:.0f} s on {manifest['timings']['jobs']} worker(s)", ""]
    failing = [(s, r) for s in manifest["scenarios"] for r in s["runs"] if r["verdict"] != "PASS"]
    if failing:
        lines += ["| scenario | seed | verdict | first failure | replay |", "|---|---|---|---|---|"]
        for s, r in failing:
            first = r.get("error") or (f"{r['failures'][0]['check']}: {r['failures'][0]['message']}"
                                       if r["failures"] else "")
            first = first.replace("|", "\\|")[:160]
            lines.append(f"| {s['name']} | {r['seed']} | {r['verdict']} | {first} | `{r['replay']}` |")
    else:
        lines.append("Every scenario passed every check.")
    return "\n".join(lines) + "\n"


def write_outputs(run_dir: Path, manifest: Mapping[str, Any], junit_path: Path | None = None) -> None:
    """``junit.xml`` and ``summary.md`` in the run directory (and the JUnit file at ``junit_path`` too)."""
    xml = junit_xml(manifest)
    write_output(run_dir / "junit.xml", xml)
    if junit_path is not None:          # its directory was checked to exist before the run (never created)
        write_output(junit_path, xml)
    write_output(run_dir / "summary.md", summary_md(manifest))
