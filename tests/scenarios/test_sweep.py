"""``nor sweep``: a grid of configs over a real run's recorded signals, open loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from controller import load_config
from reports.traces import read_table
from scenarios.cli import main
from scenarios.sweep import load_cases
from scenarios.sweep_cli import run_sweep
from scenarios.sweep_grid import SweepMetrics

SCENARIO = """
name = "sweep_fixture"
duration = "50m"
seeds = 1
companions = []
[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "3m"
for = "10m"
[[fault]]
kind = "node_loss"
target = "hz1"
at = "20m"
for = "2m"
[[fault]]
kind = "node_loss"
target = "hz2"
at = "20m"
for = "2m"
[[expect]]
check = "r_total_within"
window = ["fault[0].start+6m", "fault[0].end"]
max = 0.99
[liveness]
within = "25m"
"""

GRID = """
[[param]]
path = "layers.mc_forewarner.inputs.mc_forewarner.age_s.deadband"
values = [90.0, 3600.0]
[[param]]
path = "postures.apex.enter"
range = [0.9, 0.92, 2]
[metrics]
grace_s = 60
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    (root / "s.toml").write_text(SCENARIO)
    code = main(["run", str(root / "s.toml"), "--out", str(root / "runs"), "--jobs", "1", "--no-report"])
    assert code in (0, 1)                                # the sweep reads a run whatever its verdicts
    (run,) = (root / "runs").iterdir()
    return run


def test_sweep_ranks_configs_and_flags_the_one_that_never_reacts(run_dir, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    assert main(["sweep", str(run_dir), "--grid", str(grid), "--top", "3", "--out", str(tmp_path / "out")]) == 0
    table = pq.read_table(tmp_path / "out" / "sweep.parquet").to_pydict()
    assert len(table["config"]) == 4
    dead = table["layers.mc_forewarner.inputs.mc_forewarner.age_s.deadband"]
    for i in range(4):
        assert table["invariant_misses"][i] == 0          # the quorum loss: HIBERNATE in the same step
        if dead[i] == 3600.0:                            # a 1 h deadband never cuts risk in a 10 min stall
            assert table["misses"][i] == 1 and not table["feasible"][i]
        else:
            assert table["misses"][i] == 0 and table["feasible"][i]
            assert table["react_s_mean"][i] > 0
    tomls = sorted((tmp_path / "out").glob("top*.toml"))
    assert len(tomls) == 2                                # only the feasible configs
    ids = {load_config(p).config_id for p in tomls}
    assert ids == {table["config_id"][i] for i in range(4) if table["feasible"][i]}
    html = (tmp_path / "out" / "sweep.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert "M steps/s" in capsys.readouterr().out


def test_open_loop_replay_of_the_run_config_reproduces_the_recorded_decisions(run_dir, tmp_path):
    """A grid point equal to the run's own config sees exactly the recorded r_total in every window."""
    grid = tmp_path / "grid.toml"
    grid.write_text('[[param]]\npath = "postures.apex.enter"\nvalues = [0.92]\n')
    sweep = run_sweep(run_dir, grid)
    cases, base = load_cases(run_dir, SweepMetrics())
    assert sweep.configs[0].config_id == base.config_id
    (case_dir,) = [p for p in run_dir.iterdir() if p.is_dir()]
    decisions = read_table(next(case_dir.iterdir()) / "decisions.parquet")
    r = np.asarray(decisions.column("r_total").to_numpy())
    labels = cases[0].labels
    nofault = labels == 0
    assert sweep.result.columns["tax_mean"][0] == pytest.approx(1.0 - r[nofault].mean(), abs=1e-12)
    depth = np.mean([1.0 - r[labels == w].min() for w in range(1, labels.max() + 1)])
    assert sweep.result.columns["protection_depth"][0] == pytest.approx(depth, abs=1e-12)


@pytest.mark.parametrize("text, field", [
    ('[[param]]\npath = "postures.apex.enter"\nvalues = [0.9]\nbogus = 1\n', "param[0].bogus"),
    ('[[param]]\npath = "postures.apex"\nvalues = [0.9]\n', "param[0].path"),
    ('[[param]]\npath = "postures.apex.enter"\nvalues = []\n', "param[0].values"),
    ('[[param]]\npath = "postures.apex.enter"\nrange = [0.9, 0.8, 3]\n', "param[0].range[1]"),
    ('[[param]]\npath = "postures.apex.enter"\nvalues = [0.9]\n[metrics]\nreact = 1\n', "metrics.react"),
    ('[[param]]\npath = "postures.apex.leverage"\nvalues = [60.0]\n', "param"),
    ('[[param]]\npath = "layers.nope.weight"\nvalues = [1.0]\n', "param"),
    ('nothing = 1\n', "nothing"),
])
def test_bad_grid_is_exit_2_naming_file_and_field(run_dir, tmp_path, capsys, text, field):
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    assert main(["sweep", str(run_dir), "--grid", str(grid), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(grid) in err and f": {field}: expected" in err


def test_validate_runs_the_top_config_closed_loop_and_prints_both_loops(run_dir, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('[[param]]\npath = "postures.apex.enter"\nvalues = [0.92]\n')
    code = main(["sweep", str(run_dir), "--grid", str(grid), "--top", "1", "--validate", "--jobs", "1",
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "validate config 0" in out and "open loop" in out and "closed loop" in out
    # the run's own config, closed loop again: the same seed gives the same trace, so no difference
    lines = [line for line in out.splitlines() if "open loop" in line]
    assert len(lines) == 2 and all(line.endswith("(diff +0.0000)") for line in lines)


def test_grid_points_assembled_per_part_equal_whole_overrides(tmp_path):
    """Each grid point equals the base with all of its overrides applied at once (same config_id)."""
    from controller import apply_overrides, default_config
    from scenarios.sweep_grid import grid_configs, load_grid

    grid_file = tmp_path / "grid.toml"
    grid_file.write_text(GRID + '[[param]]\npath = "layers.mc_forewarner.recovery_per_min"\nvalues = [0.01, 0.05]\n'
                         '[[param]]\npath = "layers.exf.inputs.exf.age_s.deadband"\nvalues = [600.0, 900.0]\n')
    grid = load_grid(grid_file)
    configs, points = grid_configs(grid, default_config())
    assert len(configs) == 16 and points.shape == (16, 4)
    for cfg, point in zip(configs, points):
        ov = {"postures": {"apex": {"enter": point[1]}}, "layers": {
            "mc_forewarner": {"recovery_per_min": point[2],
                              "inputs": {"mc_forewarner.age_s": {"deadband": point[0]}}},
            "exf": {"inputs": {"exf.age_s": {"deadband": point[3]}}}}}
        assert cfg.config_id == apply_overrides(default_config(), ov, source="t").config_id
    assert len({c.config_id for c in configs}) == 16
