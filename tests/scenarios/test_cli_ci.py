"""The CLI in CI: selection (-k, --only, suites by name), --json, --fail-fast, --run-dir, --version,
and an interrupted run that leaves an incomplete manifest `nor report` renders."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.select import matches

QUIET = "name = '{name}'\nduration = '{d}'\nseeds = 1\ncompanions = []\n"
FAILING = QUIET + "[[expect]]\ncheck = 'posture_reached'\nposture = 'HIBERNATE'\nwithin = '1m'\n"


def _suite(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    for name, text in files.items():
        (d / f"{name}.toml").write_text(text)
    return d


@pytest.mark.parametrize("expr, name, expected", [
    ("mc", "smoke_mc_stale", True), ("mc and not ob", "smoke_ob_mc", False), ("(ob or quorum) and smoke", "smoke_quorum", True),
    ("not smoke", "nominal", True), ("MC", "smoke_mc_stale", True),
])
def test_k_expressions(expr, name, expected):
    assert matches(expr, name) is expected


def test_json_lines_run_dir_and_k(tmp_path, capsys):
    suite = _suite(tmp_path, {"a_quiet": QUIET.format(name="a_quiet", d="5m"), "b_quiet": QUIET.format(name="b_quiet", d="5m")})
    run_dir = tmp_path / "fixed"
    code = main(["run", str(suite), "-k", "a_", "--json", "--run-dir", str(run_dir), "--jobs", "1", "--no-report"])
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["scenario"] for x in lines[:-1]] == ["a_quiet"] and lines[0]["verdict"] == "PASS"
    assert len(lines[0]["trace_sha256"]) == 64
    assert lines[-1]["summary"] and lines[-1]["run_dir"] == str(run_dir) and lines[-1]["exit_code"] == 0
    assert (run_dir / "manifest.json").is_file()
    assert main(["run", str(suite), "--run-dir", str(run_dir), "--jobs", "1"]) == 2    # not empty any more


def test_fail_fast_stops_and_marks_the_manifest_incomplete(tmp_path):
    suite = _suite(tmp_path, {f"f{i}": FAILING.format(name=f"f{i}", d="5m") for i in range(3)})
    code = main(["run", str(suite), "--fail-fast", "--jobs", "1", "--out", str(tmp_path / "runs"), "--no-report"])
    assert code == 1
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["stopped_by"] == "fail-fast"
    assert len(manifest["not_run"]) == 2
    assert sum(len(s["runs"]) for s in manifest["scenarios"]) == 1


def test_sigterm_leaves_an_incomplete_manifest_that_report_renders(tmp_path):
    suite = _suite(tmp_path, {"a_fast": QUIET.format(name="a_fast", d="5m"),
                              "z_slow": QUIET.format(name="z_slow", d="30h")})
    proc = subprocess.Popen([sys.executable, "-m", "scenarios.cli", "run", str(suite), "--json", "--jobs", "2",
                             "--out", str(tmp_path / "runs"), "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))
    first = json.loads(proc.stdout.readline())         # both start at once: the 5 min case finishes, the 30 h one runs
    assert first["verdict"] == "PASS"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["stopped_by"] == "interrupt"
    assert manifest["not_run"] and first["scenario"] + "/1" not in manifest["not_run"]
    assert main(["report", str(run)]) == 0


def test_tags_select_and_unknown_tag_is_exit_2_with_a_suggestion(tmp_path, capsys):
    suite = _suite(tmp_path, {"a": QUIET.format(name="a", d="5m") + "tags = ['cluster', 'fast']\n",
                              "b": QUIET.format(name="b", d="5m") + "tags = ['sensors']\n"})
    assert main(["run", str(suite), "--tags", "fast", "--json", "--jobs", "1", "--out", str(tmp_path / "r"),
                 "--no-report"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["scenario"] for x in lines[:-1]] == ["a"]
    assert main(["run", str(suite), "--tags", "sensor", "--out", str(tmp_path / "r")]) == 2
    assert "did you mean sensors?" in capsys.readouterr().err
    (suite / "c.toml").write_text(QUIET.format(name="c", d="5m") + "tags = ['no spaces']\n")
    assert main(["validate", str(suite)]) == 2
    assert "tags[0]" in capsys.readouterr().err


def test_validate_reports_every_bad_file_with_suggestions_and_an_empty_directory_is_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2
    assert "no scenario files" in capsys.readouterr().err
    suite = _suite(tmp_path, {"good": QUIET.format(name="good", d="5m"),
                              "typo_key": "name = 'k'\nduraton = '5m'\n",
                              "typo_kind": QUIET.format(name="t", d="5m")
                              + "[[fault]]\nkind = 'sensor_stal'\ntarget = 'mc_forewarner'\nat = '1m'\nfor = '1m'\n",
                              "typo_check": QUIET.format(name="c", d="5m") + "[[expect]]\ncheck = 'posture_nevr'\n"})
    assert main(["validate", str(suite)]) == 2
    captured = capsys.readouterr()
    assert "ok " in captured.out and "good" in captured.out
    err = captured.err
    assert "duraton" in err and "did you mean duration?" in err
    assert "did you mean sensor_stale" in err
    assert "did you mean posture_never" in err
    assert "3 of 4 files invalid" in err


def test_resume_runs_only_the_missing_cases_and_completes_the_manifest(tmp_path, capsys):
    suite = _suite(tmp_path, {"f0": FAILING.format(name="f0", d="5m"), "q1": QUIET.format(name="q1", d="4m"),
                              "q2": QUIET.format(name="q2", d="3m")})
    assert main(["run", str(suite), "--fail-fast", "--jobs", "1", "--out", str(tmp_path / "runs"), "--no-report"]) == 1
    (run,) = (tmp_path / "runs").iterdir()
    first = json.loads((run / "manifest.json").read_text())
    assert first["not_run"] == ["q1/1", "q2/1"]                  # longest first: f0 ran and failed
    capsys.readouterr()
    assert main(["run", "--resume", str(run), "--jobs", "1", "--json", "--no-report"]) == 1   # f0 still failed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert sorted(x["scenario"] for x in lines) == ["q1", "q2"]   # only the missing cases ran
    merged = json.loads((run / "manifest.json").read_text())
    assert "complete" not in merged and "not_run" not in merged
    assert merged["verdicts"]["PASS"] == 2 and merged["verdicts"]["EXPECTATION"] == 1
    assert [len(s["runs"]) for s in merged["scenarios"]] == [1, 1, 1]
    assert main(["replay", str(run), "q1", "--seed", "1"]) == 0  # a resumed case replays byte-identical
    assert main(["run", "--resume", str(run)]) == 2              # nothing left to resume
    assert main(["report", str(run)]) == 0


def test_junit_and_summary_are_the_same_with_and_without_the_report(tmp_path):
    """One writer of each: --no-report changes neither junit.xml nor summary.md; JUnit carries properties."""
    import xml.etree.ElementTree as ET

    suite = _suite(tmp_path, {"f0": FAILING.format(name="f0", d="5m"), "q1": QUIET.format(name="q1", d="4m")})
    dirs = []
    for extra in ([], ["--no-report"]):
        run_dir = tmp_path / f"run{len(dirs)}"
        assert main(["run", str(suite), "--jobs", "1", "--run-dir", str(run_dir), *extra]) == 1
        dirs.append(run_dir)
    def norm(text: str, d: Path) -> str:
        text = text.replace(str(d), "RUN")
        text = re.sub(r"\d{8}-\d{6}-[0-9a-f]{6}", "RUN_ID", text)
        text = re.sub(r'(time|timestamp)="[^"]*"', r'\1=""', text)
        return re.sub(r"[0-9.]+ (s|ms) wall", "WALL", text)

    a, b = (norm((d / "junit.xml").read_text(), d) for d in dirs)
    assert a == b
    root = ET.fromstring(b.split("\n", 1)[1])
    case = next(root.iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert set(props) == {"seed", "controller", "config_id", "trace_sha256"} and len(props["trace_sha256"]) == 64
    assert ET.fromstring((dirs[1] / "junit.xml").read_text().split("\n", 1)[1]).find("testsuite").get("timestamp")
    sa, sb = (norm((d / "summary.md").read_text(), d) for d in dirs)
    assert sa == sb and "EXPECTATION" in sa


def test_recorded_replay_commands_run_from_a_copied_run_directory(tmp_path, capsys, monkeypatch):
    """manifest.json, junit.xml and summary.md record `nor replay . NAME --seed S` (from the run directory): a run
    directory moved elsewhere (a downloaded CI artifact), its scenario files and controller TOML gone, still replays
    from inside it, byte-identical."""
    from controller import default_config, dump_config

    suite = _suite(tmp_path, {"f0": FAILING.format(name="f0", d="5m"),
                              "q1": QUIET.format(name="q1", d="4m") + "controller = 'ctl.toml'\n"})
    (suite / "ctl.toml").write_text(dump_config(default_config()))
    run_dir = tmp_path / "run"
    assert main(["run", str(suite / "f0.toml"), str(suite / "q1.toml"), "--jobs", "1", "--run-dir", str(run_dir),
                 "--no-report"]) == 1
    copy = tmp_path / "downloaded" / "artifact"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(run_dir)
    shutil.rmtree(suite)
    manifest = json.loads((copy / "manifest.json").read_text())
    commands = {s["name"]: s["runs"][0]["replay"] for s in manifest["scenarios"]}
    assert commands == {"f0": "nor replay . f0 --seed 1", "q1": "nor replay . q1 --seed 1"}
    junit, summary = (copy / "junit.xml").read_text(), (copy / "summary.md").read_text()
    assert all(f"replay (from the run directory): {c}" in junit for c in commands.values())
    assert "replay (from the run directory)" in summary and f"`{commands['f0']}`" in summary
    assert str(tmp_path) not in junit + summary
    monkeypatch.chdir(copy)
    capsys.readouterr()
    assert main(commands["q1"].split()[1:]) == 0
    assert "trace byte-identical" in capsys.readouterr().out
    assert main(commands["f0"].split()[1:]) == 1                 # the failure reproduces, byte-identical
    assert "trace byte-identical" in capsys.readouterr().out


def test_validate_names_every_problem_of_one_file(tmp_path, capsys):
    """Several bad fields in one file: each named with the file, the field and what was expected (exit 2), near
    misses with "did you mean"; the faults are checked in the world without its bad keys."""
    bad = _suite(tmp_path, {"bad": "name = 'bad one'\nduraton = '5m'\nduration = '1h'\nseeds = 0\n"
                                   "[cluster]\nmembrs = 4\nmembers = 5\n[market]\nassets = -3\n"
                                   "[[fault]]\nkind = 'sensor_stal'\ntarget = 'mc_forewarner'\nat = '1m'\nfor = '3m'\n"
                                   "[[fault]]\nkind = 'node_loss'\ntarget = 'hz4'\nat = '2h'\nfor = '3m'\n"
                                   "[[expect]]\ncheck = 'posture_nevr'\n"
                                   "[[expect]]\ncheck = 'posture_never'\nposture = 'APEXX'\n"})
    assert main(["validate", str(bad)]) == 2
    lines = capsys.readouterr().err.splitlines()
    where = f"nor: invalid input: {bad / 'bad.toml'}: "
    fields = [line[len(where):].split(":")[0] for line in lines if line.startswith(where)]
    assert fields == ["duraton", "name", "market.assets", "cluster.membrs", "fault[0].kind", "fault[1].at",
                      "expect[0].check", "expect[1].posture", "seeds"], lines
    assert all(": expected " in line for line in lines[:-1]) and lines[-1] == "nor validate: 1 of 1 files invalid"
    text = "\n".join(lines)
    for hint in ("did you mean duration?", "did you mean members?", "did you mean sensor_stale", "did you mean posture_never"):
        assert hint in text
    assert "fault[1].target" not in text          # hz4 exists: members = 5 is kept while membrs is dropped
