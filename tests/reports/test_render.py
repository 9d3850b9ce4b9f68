"""render_run on a real small run: every scenario, failing check and replay command in the HTML;
summary.md and junit.xml from the same data; reports rebuilt from traces alone."""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import load_report, render_run, write_junit, write_summary


class _Page(HTMLParser):
    """Collects the visible text, element ids, links and inline SVGs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.svgs = 0
        self.srcs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        for attr in ("src", "href"):
            if tag in ("img", "link", "iframe", "object", "embed") and a.get(attr):
                self.srcs.append(a[attr] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture(scope="module")
def rendered(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("render") / run_dir.name
    shutil.copytree(run_dir, copy)
    render_run(copy)
    return copy


def test_outputs_written(rendered: Path) -> None:
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (rendered / name).stat().st_size > 0


def test_html_has_every_scenario_failure_and_replay(rendered: Path) -> None:
    manifest = json.loads((rendered / "manifest.json").read_text())
    page = parse(rendered / "report.html")
    text = page.all_text
    n_cases = 0
    for scenario in manifest["scenarios"]:
        assert scenario["name"] in text
        assert f"scn-{scenario['name']}" in page.ids
        for run in scenario["runs"]:
            n_cases += 1
            for failure in run["failures"]:
                assert failure["check"] in text
                assert failure["message"] in text
            if run["verdict"] != "PASS":
                assert run["replay"] in text
    assert page.svgs == n_cases + 1  # one timeline figure per case, and the scorecard's scatter
    assert page.scripts == 0 and page.srcs == []  # self-contained: nothing to fetch
    internal = [h for h in page.hrefs if h.startswith("#")]
    assert internal and all(h[1:] in page.ids for h in internal)


def test_failures_listed_before_passing_cases(rendered: Path) -> None:
    html = (rendered / "report.html").read_text()
    failures_at = html.index("id='failures'")
    table = html[failures_at:html.index("id='matrix'")]
    assert "recovers_to" in table and "r_total_within" in table and "posture_never" not in table
    # failing scenarios' sections come before the passing one's
    passing = html.index("id='scn-mc_forewarner_stale_20m'")
    assert html.index("id='scn-ob_down_then_stale'") < passing
    assert html.index("id='scn-ledger_desync_2m'") < passing


def test_figures_label_faults_and_postures(rendered: Path) -> None:
    html = (rendered / "report.html").read_text()
    assert "▼ sensor_stale mc_forewarner" in html and "▼ ledger_desync ledger" in html
    for label in ("r_total this run", "r_total no fault", "r_total static_ladder", "r_total seed_template",
                  "APEX", "STALKER", "TURTLE", "HIBERNATE", "simulated time (min)", "drawdown (% below peak)"):
        assert label in html, label


def test_metrics_are_defined_in_the_report(rendered: Path) -> None:
    page = parse(rendered / "report.html")
    for key in ("tax_return_pct", "dd_avoided_static_ladder_pct", "reaction_s", "invariant_cancel_s", "recovery_s",
                "switches_per_h", "time_apex_pct", "fills", "fees"):
        assert f"def-{key}" in page.ids


def test_junit_matches_manifest(rendered: Path) -> None:
    manifest = json.loads((rendered / "manifest.json").read_text())
    root = ET.parse(rendered / "junit.xml").getroot()
    runs = {f"{s['name']}[seed={r['seed']}]": r for s in manifest["scenarios"] for r in s["runs"]}
    assert int(root.get("tests")) == len(runs) == 6
    assert int(root.get("failures")) == sum(r["verdict"] not in ("PASS", "ERROR") for r in runs.values()) == 4
    assert int(root.get("errors")) == 0
    for tc in root.iter("testcase"):
        run = runs[tc.get("name")]
        failure = tc.find("failure")
        if run["verdict"] == "PASS":
            assert failure is None
            continue
        assert failure.get("type") == run["verdict"]
        assert run["failures"][0]["check"] in failure.get("message")
        assert run["failures"][0]["message"] in failure.get("message")
        assert f"replay (from the run directory): {run['replay']}" in failure.text


def test_summary_markdown(rendered: Path) -> None:
    manifest = json.loads((rendered / "manifest.json").read_text())
    md = (rendered / "summary.md").read_text()
    assert md.startswith(f"## nor run `{manifest['run_id']}`: 4 of 6 cases failed")
    assert "| ob_down_then_stale | 1 | **EXPECTATION** | `recovers_to` (expectation)" in md
    for s in manifest["scenarios"]:
        for r in s["runs"]:
            assert (r["replay"] in md) == (r["verdict"] != "PASS")
    assert "| performance tax |" in md and "| recovery time |" in md
    assert len(md) < 5000


def test_regenerated_from_traces_alone(rendered: Path) -> None:
    first = {n: (rendered / n).read_bytes() for n in ("report.html", "summary.md", "junit.xml")}
    for n in first:
        (rendered / n).unlink()
    render_run(rendered)
    assert {n: (rendered / n).read_bytes() for n in first} == first


def test_write_functions_take_a_run_dir_and_an_optional_path(rendered: Path, tmp_path: Path) -> None:
    j = write_junit(rendered, tmp_path / "j.xml")
    s = write_summary(str(rendered), tmp_path / "s.md")
    assert j == tmp_path / "j.xml" and ET.parse(j).getroot().tag == "testsuites"
    assert s.read_text() == (rendered / "summary.md").read_text()


def test_metrics_from_real_traces(run_dir: Path) -> None:
    report = load_report(run_dir)
    m = report.metrics["ledger_desync_2m/1"]
    # an invariant break puts the controller in HIBERNATE in the same step
    assert m["run"]["invariant_hibernate_s"] == 0.0
    assert m["run"]["time_hibernate_pct"] > 0
    # nofault companion: no fault metrics, APEX held
    assert m["nofault"]["reaction_s"] != m["nofault"]["reaction_s"]  # NaN
    # static_ladder is the tax reference: its own tax is not defined, ours is
    assert m["run"]["tax_return_pct"] == m["run"]["tax_return_pct"]
    for case in report.cases:
        for values in report.metrics[case.key].values():
            total = sum(values[f"time_{p}_pct"] for p in ("apex", "stalker", "turtle", "hibernate"))
            assert abs(total - 100.0) < 1e-9


def test_reactions_are_attributed_per_fault_by_mechanism(run_dir: Path, rendered: Path) -> None:
    """Order-book down, then MC-Forewarner stale, with no reaction check: each fault's own layer drops
    (ob_streamer, then mc_forewarner), both credited as reactions not required; nothing expected, so the
    headline reaction latency does not apply and nothing is missed."""
    from reports.metrics import outcomes
    from reports.model import reads_of

    report = load_report(run_dir)
    case = next(c for c in report.cases if c.key == "ob_down_then_stale/1")
    found = outcomes(case.traces["run"], case.faults, reads_of(report.manifest, case, "run"))
    assert [o.layers for o in found] == [("ob_streamer",), ("mc_forewarner",)]
    assert [o.outcome for o in found] == ["reacted (not required)"] * 2
    assert found[0].detect_s < found[1].detect_s and found[1].designed_s == 90.0
    m = report.metrics[case.key]["run"]
    assert m["misses"] == 0 and math.isnan(m["reaction_s"])
    assert m["posture_reaction_s"] == max(o.posture_s for o in found if not math.isnan(o.posture_s))
    html = (rendered / "report.html").read_text()
    section = html[html.index(f"id='{case.anchor}'"):]
    section = section[:section.index("</details>")]
    assert "reacted (not required)" in section and "ob.age_s, ob.latency_ms, ob.depth_ratio" in section


def test_nor_report_rebuilds_without_rerunning(run_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    traces = {p: p.stat().st_mtime_ns for p in copy.rglob("*.parquet")}
    proc = subprocess.run([sys.executable, "-c", "import sys; from scenarios.cli import main; sys.exit(main())",
                           "report", str(copy)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(copy / "report.html")
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*.parquet")} == traces  # nothing re-run or rewritten
    assert parse(copy / "report.html").svgs == 6 + 1      # the cases' figures and the scorecard scatter


def test_swarm_run_uses_each_seeds_faults_and_companions(swarm_run_dir: Path) -> None:
    manifest = json.loads((swarm_run_dir / "manifest.json").read_text())
    runs = manifest["scenarios"][0]["runs"]
    assert all("faults" in r and r["companions"] == ["nofault"] for r in runs)  # what this test is about
    report = load_report(swarm_run_dir)
    assert [c.problems for c in report.cases] == [[], []]  # no "missing companion" for companions not run
    assert all(set(c.traces) == {"run", "nofault"} for c in report.cases)
    html = render_run(swarm_run_dir).read_text()
    assert "drawn per seed" in html and "Faults of this seed:" in html
    for run in runs:
        svg = html[html.index(f"id='case-swarm-short-{run['seed']}'"):]
        svg = svg[svg.index("<svg"):svg.index("</svg>")]
        for f in run["faults"]:  # a label at the window, or a numbered tag and a key line when crowded
            assert escape(f"▼ {f['kind']} {f['target']}") in svg or escape(f" {f['kind']} {f['target']} (") in svg
        case = next(c for c in report.cases if c.run.seed == run["seed"])
        assert len(case.faults) == len(run["faults"])
        if run["faults"]:
            assert report.metrics[case.key]["run"]["fault_dd_pct"] == report.metrics[case.key]["run"]["fault_dd_pct"]
