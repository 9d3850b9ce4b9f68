"""Corrupt or truncated trace files and bad manifests: clear messages naming the file; the rest renders."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest

from reports import ManifestError, load_manifest, render_run
from traceio import TraceMeta, read_meta, read_table, write_table


@pytest.fixture()
def damaged(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def _truncate(path: Path, keep: float = 0.4) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_decisions_marks_the_case_and_the_rest_renders(damaged: Path) -> None:
    bad = damaged / "scenario=mc_forewarner_stale_20m" / "seed=2" / "decisions.parquet"
    _truncate(bad)
    html = render_run(damaged).read_text()
    assert f"{bad}: not a readable Parquet trace file" in html
    assert "Unreadable traces (1 cases)" in html
    # the broken case is marked in the matrix and has no figure; every other case has one
    assert html.count("title='unreadable trace'>⚠") == 1
    assert html.count("<svg") == 5 + 1     # five case figures and the scorecard scatter
    assert "No plot: this case's own trace could not be read." in html
    junit = ET.parse(damaged / "junit.xml").getroot()
    tc = next(t for t in junit.iter("testcase") if t.get("name") == "mc_forewarner_stale_20m[seed=2]")
    assert str(bad) in tc.find("system-err").text
    summary = (damaged / "summary.md").read_text()
    assert "### Unreadable traces" in summary and str(bad) in summary


def test_garbage_companion_and_checks_files(damaged: Path) -> None:
    case = damaged / "scenario=ledger_desync_2m" / "seed=1"
    (case / "companions" / "static_ladder" / "equity.parquet").write_bytes(b"PAR1\x00\x00 not really parquet PAR1")
    (case / "checks.parquet").write_bytes(b"")
    html = render_run(damaged).read_text()
    assert f"{case / 'companions' / 'static_ladder' / 'equity.parquet'}: not a readable Parquet trace file" in html
    assert f"{case / 'checks.parquet'}: not a readable Parquet trace file (0 bytes" in html
    # the case still has its own figure (the other companions are drawn) and its manifest failures
    assert html.count("<svg") == 6 + 1     # and the scorecard scatter
    manifest = json.loads((damaged / "manifest.json").read_text())
    run = next(r for sc in manifest["scenarios"] for r in sc["runs"] if r["dir"] == "scenario=ledger_desync_2m/seed=1")
    assert run["failures"][0]["message"] in html  # from the manifest, since checks.parquet is unreadable


def test_missing_trace_and_missing_column(damaged: Path) -> None:
    case = damaged / "scenario=ob_down_then_stale" / "seed=1"
    (case / "fills.parquet").unlink()
    path = case / "companions" / "nofault" / "decisions.parquet"
    write_table(path, read_table(path).drop_columns(["posture"]), TraceMeta("ob_down_then_stale", 1))
    html = render_run(damaged).read_text()
    assert f"{case / 'fills.parquet'}: missing trace file" in html
    assert f"{case / 'companions' / 'nofault' / 'decisions.parquet'}: missing column(s) posture" in html


@pytest.mark.parametrize("name", ["events.parquet", "signals_true.parquet", "checks.parquet",
                                  "signals_observed.parquet"])
def test_every_missing_trace_file_is_named(damaged: Path, name: str) -> None:
    case = damaged / "scenario=ledger_desync_2m" / "seed=1"
    (case / name).unlink()
    html = render_run(damaged).read_text()
    assert f"{case / name}: missing trace file" in html
    assert "Unreadable traces (1 cases)" in html
    summary = (damaged / "summary.md").read_text()
    assert f"{case / name}: missing trace file" in summary


def test_missing_companion_directory(damaged: Path) -> None:
    case = damaged / "scenario=ledger_desync_2m" / "seed=2"
    shutil.rmtree(case / "companions" / "seed_template")
    html = render_run(damaged).read_text()
    assert f"{case / 'companions' / 'seed_template'}: missing companion directory" in html


def test_worst_verdict_listed_first(damaged: Path) -> None:
    manifest = json.loads((damaged / "manifest.json").read_text())
    run = next(r for sc in manifest["scenarios"] for r in sc["runs"] if r["dir"] == "scenario=mc_forewarner_stale_20m/seed=2")
    run.update(verdict="SAFETY", failures=[{"check": "exits_never_blocked", "kind": "safety", "t_s": 1234.0,
                                            "message": "exit order 17 blocked in TURTLE"}])
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    (damaged / "scenario=mc_forewarner_stale_20m" / "seed=2" / "checks.parquet").unlink()  # failures then come from the manifest
    html = render_run(damaged).read_text()
    table = html[html.index("id='failures'"):html.index("id='matrix'")]
    assert "Failures (5 of 6 cases)" in table
    assert table.index("SAFETY") < table.index("EXPECTATION")
    assert "exits_never_blocked" in table and "t=1234 s (20.6 min)" in table
    assert html.index("id='scn-mc_forewarner_stale_20m'") < html.index("id='scn-ledger_desync_2m'")


def test_error_run_without_traces(damaged: Path) -> None:
    manifest = json.loads((damaged / "manifest.json").read_text())
    run = manifest["scenarios"][0]["runs"][0]
    run.update(verdict="ERROR", error="twin crashed: ZeroDivisionError in exchange.fill")
    shutil.rmtree(damaged / run["dir"])
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    html = render_run(damaged).read_text()
    assert "twin crashed: ZeroDivisionError in exchange.fill" in html
    junit = ET.parse(damaged / "junit.xml").getroot()
    assert junit.get("errors") == "1"


def _write_manifest(tmp_path: Path, data: object) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize(("edit", "field", "expected"), [
    (lambda m: m.update(format="dolphin-nor.run/9"), "format", "'dolphin-nor.run/2'"),
    (lambda m: m.update(format="dolphin-nor.run/1"), "format",
     "'dolphin-nor.run/2' (run/1 directories hold Arrow IPC traces; this version reads Parquet ones: re-run"),
    (lambda m: m["scenarios"][0]["runs"][0].update(dir="ledger_desync_2m/1"), "scenarios[0].runs[0].dir",
     "a path inside the run directory (scenario=<name>/seed=<n>)"),
    (lambda m: m["scenarios"][1]["runs"][0].update(seed="one"), "scenarios[1].runs[0].seed", "an integer"),
    (lambda m: m["scenarios"][0]["runs"][1].update(verdict="OK"), "scenarios[0].runs[1].verdict", "one of ERROR"),
    (lambda m: m["scenarios"][2].update(duration_s=None), "scenarios[2].duration_s", "a finite number"),
    (lambda m: m["scenarios"][0]["faults"][0].update(for_s=-5), "scenarios[0].faults[0].for_s", "a duration >= 0"),
    (lambda m: m["scenarios"][0].update(runs={}), "scenarios[0].runs", "a JSON array"),
    (lambda m: m.pop("run_id"), "run_id", "a string"),
])
def test_bad_manifest_names_file_and_field(run_dir: Path, tmp_path: Path, edit, field: str, expected: str) -> None:
    data = json.loads((run_dir / "manifest.json").read_text())
    edit(data)
    d = _write_manifest(tmp_path, data)
    with pytest.raises(ManifestError) as info:
        render_run(d)
    msg = str(info.value)
    assert msg.startswith(f"{d / 'manifest.json'}: {field}: expected {expected}"), msg


def test_missing_or_broken_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest.json: expected a manifest.json written by `nor run`"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{\"format\": ")
    with pytest.raises(ManifestError, match=r"manifest.json: expected valid JSON, got 'Expecting value at line 1"):
        load_manifest(tmp_path)
    with pytest.raises(ManifestError, match="expected a run directory"):
        load_manifest(tmp_path / "nope")


@pytest.mark.parametrize(("text", "says"), [
    ('{"run_id": "a\tb"}', "'Invalid control character at line 1 column 14'"),
    ('{"run_id": "ab', "'Unterminated string starting at line 1 column 12'"),
    ('{"run_id" "ab"}', "\"Expecting ':' delimiter at line 1 column 11\""),
])
def test_json_errors_read_cleanly(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert str(info.value) == f"{tmp_path / 'manifest.json'}: expected valid JSON, got {says}"


def test_silently_altered_trace_is_flagged_by_its_digest(damaged: Path) -> None:
    path = damaged / "scenario=ledger_desync_2m" / "seed=2" / "equity.parquet"
    table = read_table(path).to_pydict()
    table["equity"][len(table["equity"]) // 2] += 1.0   # one value changed: still a valid trace file
    meta = read_meta(path)
    write_table(path, pa.table(table, schema=read_table(path).schema), TraceMeta(meta["scenario"], meta["seed"]))
    html = render_run(damaged).read_text()
    assert f"{path.parent}: trace files differ from those the manifest recorded (trace_sha256 mismatch)" in html
    assert html.count("<svg") == 6 + 1  # still drawn, but marked (+ the scorecard scatter)


def test_intact_run_has_no_problems(run_dir: Path) -> None:
    from reports import load_report

    assert [c.problems for c in load_report(run_dir).cases] == [[]] * 6


def test_bad_companion_name(run_dir: Path, tmp_path: Path) -> None:
    data = json.loads((run_dir / "manifest.json").read_text())
    data["companions"] = ["nofault", 3]
    d = _write_manifest(tmp_path, data)
    with pytest.raises(ManifestError, match=r"manifest.json: companions\[1\]: expected a companion name"):
        load_manifest(d)
