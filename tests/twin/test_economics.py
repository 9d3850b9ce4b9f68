"""The twin's planted edge: calibrated to the spec's nominal figures, and only where it is planted.

The DOLPHIN signal (vel_div plunge entries) gets a planted edge in the synthetic market
(``[market] edge_*``) so the survival controller's performance tax is measurable. Targets (spec,
before faults, 5-6x leverage, taker 5 bps / maker 1 bps): win rate about 49 %, profit factor about
1.1-1.2, and the nominal scenario under ``uncontrolled`` makes money on average over seeds.
The bands below allow for the sampling error of ~220 round trips (win rate ± 2 standard errors).
"""

from __future__ import annotations

import numpy as np

from reports.trades import round_trips, trade_stats
from scenarios import load_scenario
from scenarios.cli import DEFAULT_SUITE
from twin import World, WorldConfig

SEEDS = range(1, 9)


def _nominal(seed: int, world: WorldConfig, controller: str = "uncontrolled") -> tuple[np.ndarray, float, World]:
    scenario = load_scenario(DEFAULT_SUITE / "nominal.toml")
    w = World(world, controller, seed)
    tables = w.run(scenario.duration_s).tables
    equity = tables["equity"].column("equity").to_numpy()
    return round_trips(tables["fills"]), float(equity[-1] / equity[0] - 1.0), w


def test_uncontrolled_nominal_meets_the_calibration_targets_over_eight_seeds() -> None:
    world = load_scenario(DEFAULT_SUITE / "nominal.toml").world
    assert world.agent.leverage >= 5.0 and world.exchange.taker_fee_bps >= 4.0
    pnl, returns = [], []
    for seed in SEEDS:
        trips, ret, _ = _nominal(seed, world)
        pnl.append(trips)
        returns.append(ret)
    stats = trade_stats(np.concatenate(pnl))
    assert stats.trades >= 150
    assert 0.42 <= stats.win_rate <= 0.56, stats
    assert 1.0 <= stats.profit_factor <= 1.4, stats
    assert np.mean(returns) > 0.0, returns
    assert sum(r > 0 for r in returns) >= 5, returns


def test_without_the_planted_edge_the_same_strategy_loses() -> None:
    world = WorldConfig.from_mapping({"market": {"edge_drift_bps": 0.0}}, source="test")
    pnl, returns = [], []
    for seed in (1, 2, 3, 4):
        trips, ret, w = _nominal(seed, world)
        assert w.ctx.market.edge_episodes == 0
        pnl.append(trips)
        returns.append(ret)
    stats = trade_stats(np.concatenate(pnl))
    assert stats.profit_factor < 1.0 and np.mean(returns) < 0.0, (stats, returns)


def test_the_edge_is_a_property_of_the_market_not_of_the_controller() -> None:
    """Same seed, no faults: the survival controller and no controller see the same planted drifts."""
    world = load_scenario(DEFAULT_SUITE / "nominal.toml").world
    runs = [World(world, ctl, 3) for ctl in ("uncontrolled", "survival")]
    for w in runs:
        w.run(3600.0)
    episodes = [[(a, b, amount, tuple(np.flatnonzero(mask))) for a, b, amount, mask in w.ctx.market._edge_active]
                for w in runs]
    assert runs[0].ctx.market.edge_episodes == runs[1].ctx.market.edge_episodes > 5
    assert episodes[0] == episodes[1]
