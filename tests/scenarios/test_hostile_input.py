"""Each reproduction of issue 11: hostile scenario files, command lines and run directories end in
exit 2 naming the file and the field — never a traceback, never exit 1 or 3, never a write outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scenarios import cli
from scenarios.cli import main

BASE = 'name = "p"\nduration = "1h"\n'
BIG = "1" + "0" * 400


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


SCENARIOS = {
    "duration_huge_int": ('name = "p"\nduration = ' + BIG + "\n", "duration"),
    "duration_nines": ('name = "p"\nduration = "' + "9" * 400 + 'h"\n', "duration"),
    "duration_1e300": ('name = "p"\nduration = 1e300\n', "duration"),
    "seeds_deep": (BASE + "seeds = " + _nested(600) + "\n", "(syntax)"),
    "seeds_depth_400": (BASE + "seeds = " + _nested(400) + "\n", "seeds[0]"),
    "seeds_200000": (BASE + "seeds = [" + ",".join(map(str, range(200_000))) + "]\n", "seeds"),
    "seed_400_digits": (BASE + "seeds = [" + BIG + "]\n", "seeds[0]"),
    "name_nul": ('name = "x\\u0000y"\nduration = "1h"\n', "name"),
    "name_300_chars": ('name = "' + "a" * 300 + '"\nduration = "1h"\n', "name"),
    "name_traversal": ('name = "../../escaped_by_name"\nduration = "1h"\n', "name"),
    "name_absolute": ('name = "/tmp/escaped_abs"\nduration = "1h"\n', "name"),
    "name_dot": ('name = "."\nduration = "1h"\n', "name"),
    "name_dotdot": ('name = ".."\nduration = "1h"\n', "name"),
    "name_slash": ('name = "a/b"\nduration = "1h"\n', "name"),
    "min_above_max": (BASE + '[[expect]]\ncheck = "r_total_within"\nwindow = ["0s", "10m"]\nmin = 0.9\nmax = 0.1\n',
                      "expect[0].min"),
    "fault_at_huge": (BASE + '[[fault]]\nkind = "sensor_stale"\ntarget = "mc_forewarner"\nat = ' + BIG + '\n',
                      "fault[0].at"),
    "fault_param_huge": (BASE + '[[fault]]\nkind = "link_latency"\ntarget = "cluster<->agent"\nat = "1m"\n'
                         'for = "5m"\nlatency_ms = ' + BIG + "\n", "fault[0].latency_ms"),
    "window_huge": (BASE + '[[expect]]\ncheck = "r_total_within"\nwindow = ["0s", ' + BIG + ']\nmin = 0.1\n',
                    "expect[0].window[1]"),
    "within_huge": (BASE + '[[expect]]\ncheck = "hibernate_within"\nwithin = ' + BIG + "\n", "expect[0].within"),
    "agent_huge": (BASE + "[agent]\nmax_positions = " + BIG + "\n", "agent.max_positions"),
    "liveness_huge": (BASE + "[liveness]\nwithin = " + BIG + "\n", "liveness.within"),
    "safety_huge": (BASE + "[safety]\nkeepalive_max_age = " + BIG + "\n", "safety.keepalive_max_age"),
    "weight_huge": (BASE + "[controller.layers.hz_quorum]\nweight = " + BIG + "\n",
                    "controller.layers.hz_quorum.weight"),
    "replay_passwd": (BASE + '[market]\nreplay_path = "/etc/passwd"\n', "market.replay_path"),
    "replay_dir": (BASE + '[market]\nreplay_path = "/tmp"\n', "market.replay_path"),
    "replay_dev_zero": (BASE + '[market]\nreplay_path = "/dev/zero"\n', "market.replay_path"),
    "replay_missing": (BASE + '[market]\nreplay_path = "/nonexistent/prices.arrow"\n', "market.replay_path"),
}


@pytest.mark.parametrize("case", sorted(SCENARIOS))
def test_hostile_scenario_files_are_exit_2_naming_file_and_field(tmp_path, capsys, case) -> None:
    text, field = SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nor: invalid input: {path}: {field}"), err[:300]
    assert "Traceback" not in err and len(err) < 1000


def test_a_traversing_name_writes_nothing_outside_the_run_directory(tmp_path, capsys) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = work / "escape.toml"
    path.write_text('name = "../../escaped_by_name"\nduration = "3m"\ncompanions = []\n', encoding="utf-8")
    assert main(["run", str(path), "--out", str(work / "runs"), "--jobs", "1", "--no-report"]) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["escape.toml", "work"]


def test_a_newline_in_a_config_name_round_trips_through_dump_config(tmp_path) -> None:
    from controller import apply_overrides, default_config, dump_config, load_config

    cfg = apply_overrides(default_config(), {"name": 'evil\nname = "x"\n[postures]\t"\\\x7f'}, "test")
    path = tmp_path / "c.toml"
    path.write_text(dump_config(cfg), encoding="utf-8")
    back = load_config(path)
    assert back.name == cfg.name and back.config_id == cfg.config_id


def test_an_unexpected_exception_is_exit_3_with_a_crash_log_never_1(tmp_path, capsys, monkeypatch) -> None:
    def bug(*_args):                       # stands in for a bug anywhere below the CLI boundary
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_dispatch", bug)
    monkeypatch.setenv("NOR_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert main(["report", str(tmp_path / "some_run")]) == 3
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: a bug)" in err and "Traceback" not in err
    assert f"run directory: {tmp_path / 'some_run'}" in err and "report it" in err
    logs = list(tmp_path.glob("crash-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text() and str(logs[0]) in err


# -- run directories ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def a_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile_run")
    path = root / "tiny.toml"
    path.write_text('name = "tiny"\nduration = "3m"\ncompanions = []\n', encoding="utf-8")
    assert main(["run", str(path), "--out", str(root / "runs"), "--jobs", "1"]) == 0
    return next((root / "runs").iterdir())


def _copy(a_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(a_run, run)
    return run


def _manifest(run: Path, edit) -> None:
    data = json.loads((run / "manifest.json").read_text())
    edit(data)
    (run / "manifest.json").write_text(json.dumps(data))


def _commands(run: Path, other: Path, tmp_path: Path) -> list[list[str]]:
    return [["report", str(run)], ["replay", str(run), "tiny", "--seed", "1"],
            ["compare", str(run), str(other), "--out", str(tmp_path / "cmp")]]


DAMAGE = {
    "trace_is_a_directory": (lambda run: (run / "scenario=tiny/seed=1/decisions.parquet").unlink()
                             or (run / "scenario=tiny/seed=1/decisions.parquet").mkdir(), "decisions.parquet"),
    "manifest_deeply_nested": (lambda run: (run / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
                               "manifest.json"),
    "scenarios_x": (lambda run: _manifest(run, lambda d: d.update(scenarios="x")), "scenarios"),
    "scenarios_5": (lambda run: _manifest(run, lambda d: d.update(scenarios=[5])), "scenarios[0]"),
    "controller_5": (lambda run: _manifest(run, lambda d: d.update(controller=5)), "controller"),
    "runs_x": (lambda run: _manifest(run, lambda d: d["scenarios"][0].update(runs=["x"])), "scenarios[0].runs[0]"),
    "duration_huge": (lambda run: (run / "manifest.json").write_text(
        (run / "manifest.json").read_text().replace('"duration_s": 180.0', '"duration_s": ' + BIG)), "duration_s"),
    "dir_escapes": (lambda run: _manifest(run, lambda d: d["scenarios"][0]["runs"][0].update(dir="../../etc")),
                    "scenarios[0].runs[0].dir"),
    "not_utf8": (lambda run: (run / "manifest.json").write_bytes(b"\xff\xfe{"), "manifest.json"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_run_directories_are_exit_2_naming_the_file(a_run, tmp_path, capsys, case) -> None:
    damage, fragment = DAMAGE[case]
    run = _copy(a_run, tmp_path)
    damage(run)
    for argv in _commands(run, a_run, tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("nor: invalid input: ") and fragment in err, (argv, err[:300])
        assert "Traceback" not in err


def test_report_html_as_a_directory_is_exit_2(a_run, tmp_path, capsys) -> None:
    run = _copy(a_run, tmp_path)
    (run / "report.html").unlink()
    (run / "report.html").mkdir()
    assert main(["report", str(run)]) == 2
    assert "report.html: expected a regular file to write, found a directory" in capsys.readouterr().err


def test_report_never_writes_through_a_symlink(a_run, tmp_path, capsys) -> None:
    run = _copy(a_run, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (run / "summary.md").unlink()
    (run / "summary.md").symlink_to(victim)
    assert main(["report", str(run)]) == 2
    assert victim.read_text() == "keep me"
    assert "summary.md: expected a regular file to write, found a symbolic link" in capsys.readouterr().err


# -- command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["--jobs", "-1"], "--jobs"),
    (["--jobs", "0"], "--jobs"),
    (["--out", "/etc/passwd"], "--out"),
    (["--out", "/proc/self/nor_runs"], "--out"),
])
def test_bad_command_line_values_are_exit_2(tmp_path, capsys, argv, fragment) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('name = "ok"\nduration = "3m"\ncompanions = []\n', encoding="utf-8")
    with pytest.raises(SystemExit) as info:          # argparse's own errors exit 2 as well
        raise SystemExit(main(["run", str(path), *argv]))
    assert info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_junit_into_a_missing_directory_is_exit_2_and_creates_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('name = "ok"\nduration = "3m"\ncompanions = []\n', encoding="utf-8")
    junit = tmp_path / "missing" / "deeper" / "junit.xml"
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--junit", str(junit)]) == 2
    assert "--junit" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists() and not (tmp_path / "runs").exists()


def test_a_replay_shorter_than_the_run_is_rejected_at_validation(tmp_path, capsys) -> None:
    path = tmp_path / "rp.toml"
    path.write_text('name = "rp"\nduration = "3h"\n[market]\nreplay_path = "sample"\n', encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert f"{path}: duration: expected a duration <= the span of market.replay_path (7200 s)" in \
        capsys.readouterr().err


def test_replay_mismatch_names_each_distinct_hash_once(a_run, tmp_path, capsys) -> None:
    run = _copy(a_run, tmp_path)
    damaged = run / "scenario=tiny" / "seed=1" / "equity.parquet"
    damaged.write_bytes(damaged.read_bytes() + b"tampered")
    assert main(["replay", str(run), "tiny", "--seed", "1"]) == 4
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("NOT byte-identical")][0]
    recorded = json.loads((run / "manifest.json").read_text())["scenarios"][0]["runs"][0]["trace_sha256"]
    hashes = [w.strip(",;()") for w in line.split() if len(w.strip(",;()")) == 64]
    assert hashes.count(recorded) == 1 and len(set(hashes)) == 2, line
    assert "equity.parquet" in line
