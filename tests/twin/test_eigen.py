"""The incremental λ_max scanner agrees with a full eigendecomposition."""

from __future__ import annotations

import numpy as np
import pytest

from twin.eigen import RollingLambda, full_lambda_max


@pytest.mark.parametrize("n, window", [(8, 5), (30, 50), (60, 40)])
def test_rolling_lambda_matches_full_recompute_across_window_wraps(n: int, window: int) -> None:
    rng = np.random.default_rng(n)
    roll = RollingLambda(n, window)
    f = rng.standard_normal(4 * window + 7)
    rows = rng.standard_normal((len(f), n)) + np.outer(f * np.linspace(0.2, 1.5, len(f)), np.ones(n))
    for i, row in enumerate(rows):
        roll.push(row)
        if i >= 3:
            lo = max(0, i + 1 - window)
            expected = full_lambda_max(rows[lo:i + 1])
            assert roll.lambda_max() == pytest.approx(expected, rel=1e-7)


def test_correlation_regime_moves_lambda() -> None:
    rng = np.random.default_rng(0)
    roll = RollingLambda(20, 50)
    for _ in range(50):
        roll.push(rng.standard_normal(20))
    calm = roll.lambda_max()
    for _ in range(50):
        roll.push(rng.standard_normal(20) * 0.2 + rng.standard_normal())
    assert calm < 4.0 < 15.0 < roll.lambda_max() <= 20.0


def test_clear_forgets_the_window() -> None:
    roll = RollingLambda(4, 10)
    for i in range(12):
        roll.push(np.arange(4.0) * i + np.array([0.0, 1.0, -1.0, 0.5]) * (i % 3))
    roll.clear()
    assert roll.count == 0 and roll.lambda_max() == 0.0


def test_scanner_publishes_lambda_max_itself_not_divided_by_n() -> None:
    from twin import World, WorldConfig

    w = World(WorldConfig.from_mapping({"market": {"assets": 60}}), "survival", 3)
    w.run(400.0)
    scan = w.sensors["scan"]
    seq, v50, v750, vel_div, ranked = w.ctx.cluster.data[scan.key][1].payload
    assert v50 == pytest.approx(full_lambda_max(scan.short.window_rows()), rel=1e-8)
    assert v750 == pytest.approx(full_lambda_max(scan.long.window_rows()), rel=1e-8)
    assert 1.0 < v50 < 60.0 and 1.0 < v750 < 60.0      # λ_max of a 60x60 correlation matrix
    assert (v50, v750, vel_div) == scan.last and seq == scan.seq and len(ranked) == 10
