"""Parity: the Nautilus path decides exactly what the controller decides on the same trace.

A signals trace (the twin's ``signals_observed.parquet`` format) is replayed through the
survival Actor inside a ``BacktestEngine``. The reference is the same controller class,
stepped directly the way the twin's agent steps it: every 1 s on the latest observation,
and at once when an invariant signal changes. Every decision must match exactly —
``r_total``, posture and every layer, bit for bit, at the same times.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.nautilus import DEFAULT_ORIGIN_NS, TraceError, load_signal_trace, replay_in_backtest
from controller import SurvivalController, default_config
from tests.adapters.nautilus.signal_scripts import scripted_columns, write_trace

FLIPS = (300.37, 451.123456789, 452.5)  # off the 1 s grid, one finer than a nanosecond
OUTAGE = [
    (60.0, 200.0, {"ob.latency_ms": 2000.0, "ob.depth_ratio": 0.3}),          # STALKER
    (200.0, 290.0, {"portfolio.drawdown": 0.2}),                               # TURTLE
    (300.37, 451.123456789, {"hz.quorum": 0.0}),                               # HIBERNATE at once
    (452.5, 470.0, {"ledger.consistent": 0.0, "heartbeat.age_s": float("nan")}),
    (600.0, 900.0, {"mc_forewarner.age_s": 2400.0, "exf.shock": 0.5}),
    (800.0, 820.0, {"ob.depth_ratio": float("nan")}),
]


def reference_steps(trace, controller) -> list[tuple[float, object]]:
    """The twin agent's stepping: invariant changes at once, then the 1 s tick, on the latest row."""
    invariants = [j for j, n in enumerate(trace.names) if n in controller.invariant_signals]
    out = []
    last_tick = int(np.floor(trace.t_s[-1]))
    i = 0
    for tick in range(last_tick + 1):
        while i < len(trace) and trace.t_s[i] <= tick:
            prev = trace.values[i - 1, invariants] if i else None
            here = trace.values[i, invariants]
            if prev is not None and not np.array_equal(prev, here, equal_nan=True):
                out.append((float(trace.t_s[i]), controller.step(float(trace.t_s[i]), trace.row(i))))
            i += 1
        out.append((float(tick), controller.step(float(tick), trace.row(i - 1))))
    return out


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("parity") / "signals_observed.parquet"
    return load_signal_trace(write_trace(path, scripted_columns(900.0, 1.0, OUTAGE, FLIPS)))


def test_nautilus_decisions_equal_the_controllers_exactly(trace) -> None:
    config = default_config()
    published = replay_in_backtest(trace, SurvivalController(config)).decisions
    expected = reference_steps(trace, SurvivalController(config))
    assert len(published) == len(expected) == 900 + 4  # ticks 0..899 and four invariant changes
    for got, (t_s, want) in zip(published, expected):
        assert got.t_s == t_s and got.ts_event == DEFAULT_ORIGIN_NS + round(t_s * 1e9)
        assert (got.r_total, got.posture, got.layers) == (want.r_total, want.posture.name, want.layers), t_s
        assert (got.max_leverage, got.entries_allowed, got.taker_allowed) == (
            want.max_leverage, want.entries_allowed, want.taker_allowed)
    postures = {d.posture for d in published}
    assert postures == {"APEX", "STALKER", "TURTLE", "HIBERNATE"}, "the trace should exercise every posture"
    assert [d.trigger for d in published if d.trigger != "timer"] == [
        "invariant:hz.quorum", "invariant:hz.quorum", "invariant:ledger.consistent", "invariant:ledger.consistent"]


def test_invariant_flip_is_decided_at_its_own_time_not_the_next_tick(trace) -> None:
    published = replay_in_backtest(trace, SurvivalController(default_config())).decisions
    flip = next(d for d in published if d.trigger == "invariant:hz.quorum")
    assert flip.t_s == 300.37 and flip.posture == "HIBERNATE" and flip.r_total == 0.0
    before = [d for d in published if d.t_s < 300.37]
    assert before[-1].posture == "TURTLE" and before[-1].t_s == 300.0


def test_a_baseline_controller_runs_through_the_same_actor(trace) -> None:
    from controller import make_controller

    published = replay_in_backtest(trace, make_controller("static_ladder")).decisions
    expected = reference_steps(trace, make_controller("static_ladder"))
    assert [(d.t_s, d.r_total, d.posture) for d in published] == [
        (t, e.r_total, e.posture.name) for t, e in expected]


@pytest.mark.parametrize("columns, message", [
    ({"x": [1.0]}, "missing column 't_s'"),
    ({"t_s": [0.0, 2.0, 1.0], "hz.quorum": [1.0, 1.0, 1.0]}, "goes backwards at row 2"),
    ({"t_s": [0.0, float("nan")], "hz.quorum": [1.0, 1.0]}, "row 1 is nan"),
    ({"t_s": [0.0]}, "no signal columns"),
    ({"t_s": np.zeros(0), "hz.quorum": np.zeros(0)}, "no rows"),
])
def test_malformed_traces_are_refused_with_file_and_field(tmp_path, columns, message) -> None:
    path = write_trace(tmp_path / "bad.parquet", {k: np.asarray(v, float) for k, v in columns.items()})
    with pytest.raises(TraceError, match=message) as info:
        load_signal_trace(path)
    assert str(path) in str(info.value)


def test_unreadable_or_missing_files_are_named(tmp_path) -> None:
    with pytest.raises(TraceError, match="absent.parquet: missing trace file"):
        load_signal_trace(tmp_path / "absent.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"definitely not parquet")
    with pytest.raises(TraceError, match="junk.parquet: not a readable Parquet trace file"):
        load_signal_trace(junk)


def test_text_signal_columns_are_refused(tmp_path) -> None:
    import pyarrow as pa

    from traceio import TraceMeta, write_table

    path = tmp_path / "text.parquet"
    write_table(path, pa.table({"t_s": [0.0], "hz.quorum": ["yes"]}), TraceMeta("", 0))
    with pytest.raises(TraceError, match="column 'hz.quorum' has type string; expected float64"):
        load_signal_trace(path)


def test_one_row_per_step_traces_replay_in_order_including_same_instant_steps() -> None:
    """Twin-style trace: a row per step. At t=10 an event step precedes the tick; at t=20 the
    tick comes first and the event follows at the same instant (deferred after the timer)."""
    from adapters.nautilus import signal_trace_from_columns

    t = [float(i) for i in range(31)]
    t = sorted(t + [5.25, 10.0, 20.0])
    cols = scripted_columns(31.0, 1.0, [(5.25, 20.0, {"hz.quorum": 0.0})], (5.25,))
    rows = {name: [] for name in cols}
    seen: dict[float, int] = {}
    for time_s in t:
        i = int(np.searchsorted(cols["t_s"], time_s))
        seen[time_s] = seen.get(time_s, 0) + 1
        for name in cols:
            rows[name].append(cols[name][i])
    quorum = rows["hz.quorum"]
    first_10, first_20 = t.index(10.0), t.index(20.0)
    quorum[first_10] = 0.5      # the event row at 10 differs from the tick row after it
    quorum[first_20 + 1] = 0.0  # at 20: tick row first (quorum back), then an event row (lost again)
    trace = signal_trace_from_columns("steps", {k: np.asarray(v) for k, v in rows.items()})
    events = np.zeros(len(t), dtype=bool)
    events[[t.index(5.25), first_10, first_20 + 1]] = True

    published = replay_in_backtest(trace, SurvivalController(default_config()), event_rows=events).decisions
    ctl = SurvivalController(default_config())
    expected = [ctl.step(float(trace.t_s[i]), trace.row(i)) for i in range(len(trace))]
    assert [(d.t_s, d.trigger) for d in published] == [
        (time_s, "event" if e else "timer") for time_s, e in zip(t, events)]
    assert [(d.r_total, d.posture, d.layers) for d in published] == [
        (e.r_total, e.posture.name, e.layers) for e in expected]
