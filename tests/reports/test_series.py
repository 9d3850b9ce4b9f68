"""Downsampling keeps what a pixel column shows; figures stay small for long runs."""

from __future__ import annotations

import numpy as np

from reports.series import downsample, posture_runs
from reports.svg import Figure, Line, POSTURE_COLOURS


def test_flat_series_costs_two_points() -> None:
    t = np.arange(21600.0)
    tk, yk = downsample(t, np.ones_like(t), 0.0, 21600.0, 360)
    assert list(tk) == [0.0, 21599.0] and list(yk) == [1.0, 1.0]


def test_every_bucket_keeps_its_extremes_and_the_ends() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(21600.0)
    y = np.cumsum(rng.normal(size=t.size))
    y[12345] = y.min() - 50.0  # a one-second dip must survive
    tk, yk = downsample(t, y, 0.0, 21600.0, 360)
    assert tk.size <= 2 * 360 + 2
    assert tk[0] == 0.0 and tk[-1] == 21599.0 and np.all(np.diff(tk) > 0)
    assert 12345.0 in tk
    bucket = (t / 21600.0 * 360).astype(int)
    kb = (tk / 21600.0 * 360).astype(int)
    for b in range(360):
        assert yk[kb == b].min() == y[bucket == b].min()
        assert yk[kb == b].max() == y[bucket == b].max()


def test_nan_points_are_skipped() -> None:
    t = np.arange(10.0)
    y = np.array([1, 1, np.nan, 0.5, 0.5, 0.5, np.nan, 1, 1, 1], dtype=float)
    tk, yk = downsample(t, y, 0.0, 10.0, 100)
    assert not np.isnan(yk).any() and set(yk) == {1.0, 0.5}


def test_posture_runs_and_worst_per_column() -> None:
    t = np.arange(10.0)
    p = np.array([3, 3, 2, 2, 2, 0, 3, 3, 3, 3], dtype=np.int8)
    assert posture_runs(t, p, 10.0, 0.0, 10.0, 100) == [(0.0, 2.0, 3), (2.0, 5.0, 2), (5.0, 6.0, 0), (6.0, 10.0, 3)]
    # chatter faster than the columns: each column shows its worst posture, a one-second HIBERNATE survives
    t = np.arange(21600.0)
    p = np.where(np.arange(t.size) % 2 == 0, 3, 2).astype(np.int8)
    p[9000] = 0
    runs = posture_runs(t, p, 21600.0, 0.0, 21600.0, 360)
    assert len(runs) <= 3 and any(code == 0 for _, _, code in runs)
    assert all(code in (0, 2) for _, _, code in runs)


def test_six_hour_figure_is_small_and_labelled() -> None:
    t = np.arange(21600.0)
    rng = np.random.default_rng(1)
    fig = Figure("six hours", 0.0, 21600.0, [(3600.0, 10800.0, "sensor_stale mc_forewarner")])
    fig.lines("r", [Line(f"series {i}", t, np.clip(np.cumsum(rng.normal(0, 0.01, t.size)) + 0.5, 0, 1), "#111")
                    for i in range(8)], 0.0, 1.0)
    fig.ribbons("posture", [("this run", [(0.0, 3600.0, 3), (3600.0, 21600.0, 0)])])
    svg = fig.svg()
    assert len(svg) < 120_000
    assert "sensor_stale mc_forewarner" in svg and "simulated time (h)" in svg
    assert POSTURE_COLOURS[0] in svg and POSTURE_COLOURS[3] in svg


def test_crowded_fault_labels_become_numbered_tags_with_a_key() -> None:
    windows = [(480.0 + 60 * i, 900.0 + 60 * i, f"kind_{i} some.long.target->cluster") for i in range(6)]
    fig = Figure("crowded", 0.0, 14400.0, windows)
    fig.lines("r", [Line("x", np.arange(10.0), np.ones(10), "#111")], 0.0, 1.0)
    svg = fig.svg()
    for i in range(6):
        assert f">▼{i + 1}<" in svg
        assert f"{i + 1} kind_{i} some.long.target-&gt;cluster ({(480 + 60 * i) // 60}:00–" in svg
    sparse = Figure("sparse", 0.0, 14400.0, [(3600.0, 7200.0, "sensor_stale mc_forewarner"),
                                            (10800.0, 10800.0, "exf_shock market")]).svg()
    assert ">▼ sensor_stale mc_forewarner<" in sparse and ">▼ exf_shock market<" in sparse
