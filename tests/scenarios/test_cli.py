"""The nor CLI end to end: exit codes, the run directory contract, replay, validate."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scenarios.cli import main

PASSING = """
name = "{name}"
description = "quorum lost for 2 min"
duration = "25m"
seeds = 1
companions = ["nofault"]
[[fault]]
kind = "node_loss"
target = "hz1"
at = "5m"
for = "2m"
[[fault]]
kind = "node_loss"
target = "hz2"
at = "5m"
for = "2m"
[[expect]]
check = "hibernate_within"
within = "20s"
[liveness]
within = "15m"
[cluster]                      # two backups: the quorum loss loses no entry (a lost one reads NaN for an hour)
backup_count = 2
"""

WRONG = PASSING + """
[[expect]]                     # deliberately wrong: quorum loss must hibernate
check = "posture_never"
posture = "HIBERNATE"
"""


def _only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


def test_a_wrong_expectation_exits_1_with_a_replay_command_that_reproduces_it(write_scenario, tmp_path, capsys) -> None:
    path = write_scenario("wrong", WRONG.format(name="wrong"))
    out = tmp_path / "runs"
    assert main(["run", str(path), "--out", str(out), "--jobs", "1", "--no-report"]) == 1
    err = capsys.readouterr().err
    run_dir = _only_run(out)
    replay = f"nor replay {run_dir} wrong --seed 1"         # the console: from here; the outputs: from the run dir
    assert "EXPECTATION wrong seed=1: posture_never: posture HIBERNATE at" in err and replay in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scenarios"][0]["runs"][0]["replay"] == "nor replay . wrong --seed 1"
    args = replay.split()[1:]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "verdict EXPECTATION (recorded EXPECTATION)" in text and "trace byte-identical" in text
    assert "posture_never" in text


def test_the_run_directory_follows_the_contract(write_scenario, tmp_path) -> None:
    write_scenario("alpha", PASSING.format(name="alpha"))
    write_scenario("beta", PASSING.format(name="beta"))
    out, junit = tmp_path / "runs", tmp_path / "ci" / "junit.xml"
    junit.parent.mkdir()                       # nor never creates the --junit directory itself
    assert main(["run", str(tmp_path / "suite"), "--out", str(out), "--jobs", "2", "--seeds", "2",
                 "--junit", str(junit), "--no-report"]) == 0
    run_dir = _only_run(out)
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["format"] == "dolphin-nor.run/2" and m["run_id"] == run_dir.name
    assert m["code_version"].startswith(("git:", "package:")) and m["command"].startswith("nor run ")
    assert set(m["controller"]) >= {"name", "spec", "config_id", "config"} and len(m["controller"]["config_id"]) == 64
    assert m["verdicts"] == {"PASS": 4, "SAFETY": 0, "LIVENESS": 0, "EXPECTATION": 0, "ERROR": 0}
    assert m["timings"]["jobs"] == 2 and m["timings"]["wall_s"] > 0
    s = m["scenarios"][0]
    assert set(s) >= {"name", "file", "suite", "description", "duration_s", "faults", "expectations", "runs"}
    assert s["faults"][0] == {"kind": "node_loss", "target": "hz1", "at_s": 300.0, "for_s": 120.0, "heals": True,
                              "params": {}}
    assert s["expectations"] == [{"check": "hibernate_within", "params": {"within": "20s"}}]
    for r in s["runs"]:
        case = run_dir / r["dir"]
        assert r["dir"] == f"scenario={s['name']}/seed={r['seed']}"
        assert r["verdict"] == "PASS" and r["failures"] == [] and len(r["trace_sha256"]) == 64
        names = {p.name for p in case.iterdir() if p.is_file()}
        assert names == {"decisions.parquet", "signals_observed.parquet", "signals_true.parquet", "orders.parquet",
                         "fills.parquet", "equity.parquet", "events.parquet", "checks.parquet"}
        assert {p.name for p in (case / "companions" / "nofault").iterdir()} == {
            "decisions.parquet", "equity.parquet", "orders.parquet", "fills.parquet"}
        checks = pq.read_table(case / "checks.parquet")
        assert checks.column_names == ["check", "kind", "ok", "t_s", "message", "params"]
        assert set(checks.column("kind").to_pylist()) == {"safety", "liveness", "expectation"}
        events = pq.read_table(case / "events.parquet").column("kind").to_pylist()
        assert events.count("fault_start") == 2 and events.count("fault_end") == 2
    assert (run_dir / "summary.md").exists() and "testsuite" in junit.read_text()
    assert (run_dir / "junit.xml").read_text() == junit.read_text()


def test_invalid_input_exits_2_with_file_field_and_expectation(write_scenario, tmp_path, capsys) -> None:
    path = write_scenario("bad", PASSING.format(name="bad").replace('within = "20s"', 'within = "a while"'))
    assert main(["run", str(path), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"nor: invalid input: {path}: expect[0].within: expected a duration >= 0" in err
    assert not (tmp_path / "runs").exists()                # nothing ran
    assert main(["validate", str(path)]) == 2
    late = write_scenario("late", PASSING.format(name="late") + '[[expect]]\ncheck = "posture_never"\n'
                                                                 'posture = "HIBERNATE"\nwindow = ["2h", "3h"]\n')
    capsys.readouterr()
    assert main(["run", str(late), "--out", str(tmp_path / "runs")]) == 2
    assert (f"nor: invalid input: {late}: expect[1].window: expected a window inside the run [0, 1500 s] with "
            f"from <= to, got '[2h, 3h] = [7200 s, 10800 s]'") in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nowhere")]) == 2
    assert main(["replay", str(tmp_path), "x", "--seed", "1"]) == 2
    assert "manifest.json: expected a manifest.json written by `nor run`, got 'no such file'" in capsys.readouterr().err


def test_validate_lists_the_default_suite(capsys) -> None:
    assert main(["validate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 25 and all(line.startswith("ok ") for line in lines)


def _mutated_run(write_scenario, tmp_path: Path, mutate) -> Path:
    path = write_scenario("tiny", 'name = "tiny"\nduration = "3m"\ncompanions = []\n')
    out = tmp_path / "runs"
    assert main(["run", str(path), "--out", str(out), "--jobs", "1", "--no-report"]) == 0
    run_dir = _only_run(out)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    mutate(manifest)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def _drop_dir(m) -> None:
    del m["scenarios"][0]["runs"][0]["dir"]


def _scenarios_object(m) -> None:
    m["scenarios"] = {"tiny": m["scenarios"][0]}


def _runs_null(m) -> None:
    m["scenarios"][0]["runs"] = None


def _seed_text(m) -> None:
    m["scenarios"][0]["runs"][0]["seed"] = "1"


def _toml_number(m) -> None:
    m["scenarios"][0]["toml"] = 5


def _companion_unknown(m) -> None:
    m["scenarios"][0]["runs"][0]["companions"] = ["oracle"]


@pytest.mark.parametrize("mutate, message", [
    (_drop_dir, "scenarios[0].runs[0].dir: expected a string\n"),
    (_scenarios_object, "scenarios: expected a JSON array, got <dict of 1 entries>"),
    (_runs_null, "scenarios[0].runs: expected a JSON array\n"),
    (_seed_text, "scenarios[0].runs[0].seed: expected an integer in [0, 2^63), got '1'"),
    (_toml_number, "scenarios[0].toml: expected the scenario's TOML text (a string), got 5"),
    (_companion_unknown, "scenarios[0].runs[0].companions: expected an array of companion names"),
])
def test_replay_rejects_a_malformed_manifest_with_exit_2(write_scenario, tmp_path, capsys, mutate, message) -> None:
    run_dir = _mutated_run(write_scenario, tmp_path, mutate)
    capsys.readouterr()
    assert main(["replay", str(run_dir), "tiny", "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nor: invalid input: {run_dir / 'manifest.json'}: {message}"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_bad_controller_option_is_blamed_on_the_option_not_a_scenario_file(tmp_path, capsys, command) -> None:
    from scenarios.cli import SMOKE_SUITE

    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    for value, expected in (("nosuch", "or the path of an existing controller TOML file, got 'nosuch'"),
                            (str(broken), f"or a valid controller TOML path ({broken}: (syntax)")):
        argv = [command, str(SMOKE_SUITE), "--controller", value] + (["--out", str(tmp_path / "r")]
                                                                     if command == "run" else [])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("nor: invalid input: command line: --controller: expected survival, static_ladder, "
                              "seed_template, uncontrolled ") and expected in err, err
        assert "smoke_" not in err
    assert not (tmp_path / "r").exists()
