"""hibernate_cancels_orders while the venue is out: cancels sent at once, confirmed after it heals."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from controller import Posture, default_config
from faults import parse_fault
from scenarios.case import simulate
from scenarios.checks import RunView, SafetyPolicy
from scenarios.checks import safety as S
from scenarios.loader import load_scenario_text

_TEXT = """name = 'gateway_down_hibernate'
duration = 2400
[exchange]
entry_fill_ratio = 0.0
[agent]
maker_timeout_s = 3600
"""


@pytest.fixture(scope="module")
def run() -> dict:
    scenario = load_scenario_text(_TEXT, "venue.toml")
    tables = {}
    for kind in ("exchange_gateway_down", "exchange_outage"):
        raw = [{"kind": kind, "at": 1800, "for": 300}, {"kind": "heartbeat_loss", "at": 1800, "for": 300}]
        faults = tuple(parse_fault(f, "venue.toml", f"fault[{i}]", scenario.world, 2400.0) for i, f in enumerate(raw))
        tables[kind] = (faults, simulate(scenario, 6, default_config(), faults))
    return {"scenario": scenario, "tables": tables}


def _view(run: dict, kind: str) -> RunView:
    s = run["scenario"]
    faults, tables = run["tables"][kind]
    view = RunView.from_tables(tables, faults, s.duration_s, s.world, s.controller, {})
    for k in list(view.orders):
        view.orders[k] = copy.copy(view.orders[k])
    return view


def _working_at_hibernate(view: RunView) -> tuple[float, np.ndarray]:
    t0 = float(view.t[(view.posture == int(Posture.HIBERNATE)) & (view.t >= 1800.0)][0])
    o = view.orders
    return t0, np.flatnonzero((o["t_s"] < t0) & ~(o["t_done_s"] <= t0))


@pytest.mark.parametrize("kind", ["exchange_gateway_down", "exchange_outage"])
def test_cancels_sent_at_once_and_confirmed_after_the_heal_pass(run: dict, kind: str) -> None:
    view = _view(run, kind)
    t0, working = _working_at_hibernate(view)
    assert len(working) > 0
    assert np.all(view.orders["t_done_s"][working] >= 2100.0)       # the venue confirmed them only after it healed
    result = S.hibernate_cancels_orders(view, SafetyPolicy())
    assert result.ok, result.message


@pytest.mark.parametrize("kind", ["exchange_gateway_down", "exchange_outage"])
def test_a_cancel_not_sent_within_the_bound_fails_even_if_confirmed_after_the_heal(run: dict, kind: str) -> None:
    view = _view(run, kind)
    t0, working = _working_at_hibernate(view)
    view.orders["t_cancel_s"][working[0]] = t0 + 60.0               # an agent that waited for the venue
    result = S.hibernate_cancels_orders(view, SafetyPolicy())
    assert not result.ok and "no cancel sent within 10 s of HIBERNATE" in result.message
    assert "confirmed after it heals" in result.message
    view.orders["t_cancel_s"][working[0]] = math.nan                 # ... or never sent one
    assert not S.hibernate_cancels_orders(view, SafetyPolicy()).ok


def test_a_cancel_confirmed_long_after_the_heal_fails(run: dict) -> None:
    view = _view(run, "exchange_gateway_down")
    _, working = _working_at_hibernate(view)
    view.orders["t_done_s"][working[0]] = 2100.0 + 60.0
    result = S.hibernate_cancels_orders(view, SafetyPolicy())
    assert not result.ok and "after the exchange fault healed" in result.message
