"""Parity with the twin: a real twin trace through the Nautilus path gives the twin's decisions.

The twin (``twin.World``) runs the survival controller through a scripted outage — a stalled
MC-Forewarner, a slow order-book link, two Hazelcast members lost and restarted, a ledger
desync — and writes ``signals_observed.parquet`` and ``decisions.parquet``. The observed signals
are replayed through the survival Actor inside a ``BacktestEngine`` (1 s clock timer; the
rows the twin stepped on an invariant event are delivered as events). Every decision the
Actor publishes must equal the twin's row for row: time, r_total, posture, every layer,
limits and reasons — bit for bit.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from adapters.nautilus import (
    DEFAULT_ORIGIN_NS,
    load_event_rows,
    load_signal_trace,
    off_grid_rows,
    replay_in_backtest,
)
from controller import SurvivalController, default_config

twin = pytest.importorskip("twin")

DURATION_S = 1800.0


def _outage(world) -> None:
    ports = world.ports
    world.at(200.0, ports["sensor.mc_forewarner"].stall)
    world.at(400.0, lambda: ports["link.exchange->sensor.ob"].set_latency(1500.0, 300.0))
    world.at(600.0, lambda: ports["cluster"].kill_member(0))
    world.at(601.0, lambda: ports["cluster"].kill_member(1))
    world.at(700.0, lambda: ports["cluster"].restart_member(0))
    world.at(705.0, lambda: ports["cluster"].restart_member(1))
    world.at(900.0, ports["ledger"].desync)
    world.at(960.0, ports["ledger"].resync)
    world.at(1300.0, ports["sensor.mc_forewarner"].resume)


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory):
    world = twin.World(twin.WorldConfig(), default_config(), seed=11)
    _outage(world)
    directory = tmp_path_factory.mktemp("twin")
    world.run(DURATION_S).write(directory)
    signals = load_signal_trace(directory / "signals_observed.parquet")
    decisions = pq.read_table(directory / "decisions.parquet").to_pylist()
    return directory, signals, decisions


def test_the_twin_trace_exercises_invariant_events_and_postures(twin_run) -> None:
    _, _, decisions = twin_run
    assert sum(d["trigger"] == "invariant" for d in decisions) >= 4
    assert {"APEX", "STALKER", "HIBERNATE"} <= {d["posture"] for d in decisions}


def test_nautilus_path_makes_the_twins_decisions_exactly(twin_run) -> None:
    directory, signals, recorded = twin_run
    events = load_event_rows(directory / "decisions.parquet", signals)
    published = replay_in_backtest(signals, SurvivalController(default_config()), event_rows=events).decisions
    assert len(published) == len(recorded)
    layer_columns = [k for k in recorded[0] if k.startswith("layer.")]
    assert len(layer_columns) == len(published[0].layers) > 0
    for got, want in zip(published, recorded):
        where = f"step {want['step']} at t={want['t_s']!r}"
        assert got.t_s == want["t_s"], where
        assert got.ts_event == DEFAULT_ORIGIN_NS + round(want["t_s"] * 1e9), where
        assert ("timer" if want["trigger"] == "tick" else "event") == got.trigger, where
        assert (got.r_total, got.posture) == (want["r_total"], want["posture"]), where
        layers = got.layers
        assert {c: layers[c[len("layer."):]] for c in layer_columns} == {c: want[c] for c in layer_columns}, where
        assert (got.entries_allowed, got.taker_allowed, got.max_leverage, got.invariant_broken) == (
            want["entries_allowed"], want["taker_allowed"], want["max_leverage"], want["invariant_broken"]), where
        assert "; ".join(got.reasons) == want["reasons"], where


def test_without_the_decisions_file_the_grid_rule_finds_the_same_events(twin_run) -> None:
    directory, signals, recorded = twin_run
    assert (off_grid_rows(signals) == load_event_rows(directory / "decisions.parquet", signals)).all()
    published = replay_in_backtest(signals, SurvivalController(default_config())).decisions  # grid rule
    assert [(d.t_s, d.r_total, d.posture) for d in published] == [
        (w["t_s"], w["r_total"], w["posture"]) for w in recorded]
