"""Companion runs record no signal rows and compute no ground truth (for speed): every table they keep is the
same, byte for byte, as in a run that records everything — through faults, for every controller."""

from __future__ import annotations

import io
from dataclasses import replace

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from controller import SurvivalController, make_controller
from scenarios import load_scenarios
from scenarios.case import simulate
from scenarios.cli import DEFAULT_SUITE

_SIGNALS = ("signals_observed", "signals_true")


@pytest.fixture(scope="module")
def suite() -> dict:
    return {s.name: s for s in load_scenarios([DEFAULT_SUITE])}


def _bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@pytest.mark.parametrize("name, controller", [("swarm_mixed", "survival"), ("compound_partition_ledger", "survival"),
                                              ("compound_partition_ledger", "uncontrolled"),
                                              ("exchange_outage", "static_ladder")])
def test_a_run_without_signal_rows_keeps_every_other_table_identical(suite, name, controller) -> None:
    scenario = replace(suite[name], duration_s=2700.0)      # every fault of these files has started by then
    faults = scenario.faults_for(1)
    assert any(f.at_s < scenario.duration_s for f in faults)

    def ctl():
        return SurvivalController(scenario.controller) if controller == "survival" else make_controller(controller)

    full = simulate(scenario, 1, ctl(), faults)
    lean = simulate(scenario, 1, ctl(), faults, signals=False)
    assert set(lean) == set(full)
    for table in set(full) - set(_SIGNALS):
        assert _bytes(lean[table]) == _bytes(full[table]), f"{name}/{controller}: {table} differs without signal rows"
    assert full["signals_true"].num_rows == full["decisions"].num_rows > 0
    assert all(lean[t].num_rows == 0 for t in _SIGNALS)
