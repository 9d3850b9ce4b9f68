"""Checks judge by the order of events, not by timestamps alone: what happened at one instant is ordered by the
trace's sequence (orders table rows in send order; ``decisions.orders_before``), and the ledger check is
suspended only by faults on the agent↔exchange path, for the fills they hold."""

from __future__ import annotations

import numpy as np

from faults import Fault
from scenarios.checks import SafetyPolicy
from scenarios.checks import safety as S

POLICY = SafetyPolicy()


def _first_entry(v) -> int:
    return int(np.flatnonzero(v.orders["intent"] == "entry")[0])


def test_the_trace_orders_decisions_and_orders_of_one_instant(make_view) -> None:
    v = make_view()
    ob = v.orders_before
    assert len(ob) == len(v.t) and (np.diff(ob) >= 0).all() and ob[-1] == len(v.orders["id"])
    for row in range(len(v.orders["id"])):                   # an order is sent at (after) its decision's instant
        j = v.decision_for_order(row)
        assert j >= 0 and v.t[j] == v.orders["t_s"][row] and v.decisions["posture"][j] == v.orders["posture"][row]


def test_an_entry_sent_after_a_turtle_decision_of_the_same_instant_fails(make_view) -> None:
    def turtle_first(v) -> None:
        r = _first_entry(v)
        j = v.decision_for_order(r)          # APEX/STALKER at t; now a TURTLE decision at t precedes the entry
        v.decisions["t_s"][j + 1] = v.t[j]
        v.decisions["posture"][j + 1], v.decisions["entries_allowed"][j + 1] = "TURTLE", False
        v.decisions["orders_before"][j + 1] = r

    assert S.entries_within_posture(make_view(), POLICY).ok
    bad = S.entries_within_posture(make_view(turtle_first), POLICY)
    assert not bad.ok and "was TURTLE" in bad.message, bad.message


def test_an_order_stamped_at_the_hibernate_instant_must_be_cancelled(make_view) -> None:
    def same_instant(v) -> None:
        s = int(np.flatnonzero(v.posture == 0)[0])
        r = int(v.orders_before[s]) - 1              # sent just before the HIBERNATE decision
        v.orders["t_s"][r], v.orders["t_done_s"][r] = v.t[s], v.t[s] + 600.0

    assert S.hibernate_cancels_orders(make_view(), POLICY).ok
    bad = S.hibernate_cancels_orders(make_view(same_instant), POLICY)
    assert not bad.ok and "still working" in bad.message


def test_entries_of_one_instant_count_against_each_other(make_view) -> None:
    """A batch of entries at one instant, each 0.6 of the room alone, 1.2× together (plus booked exposure)."""
    def batch(v) -> None:
        o = v.orders
        rows = np.flatnonzero(o["intent"] == "entry")
        t, counts = np.unique(o["t_s"][rows], return_counts=True)
        at = t[np.flatnonzero(counts >= 2)[0]]
        same = rows[o["t_s"][rows] == at][:2]
        cap = v.decisions["max_leverage"][v.decision_for_order(int(same[0]))]
        for r in same:
            o["qty"][r] = 0.6 * cap * v.capital / o["price"][r]

    assert S.leverage_within_cap(make_view(), POLICY).ok
    bad = S.leverage_within_cap(make_view(batch), POLICY)
    assert not bad.ok and "posture cap" in bad.message


def _drop_a_fill(v, faults: tuple[Fault, ...]) -> None:
    i = int(np.flatnonzero(v.fills["intent"] == "entry")[0])
    v.fills["t_booked_s"][i] = np.nan
    v.faults = v.faults + faults


def test_a_dropped_fill_report_fails_whatever_else_is_faulted(make_view) -> None:
    end = make_view().duration_s
    unrelated = (Fault("link_down", "sensor.ob->cluster", end - 20.0, 10.0),
                 Fault("network_partition", "network", end - 25.0, 20.0, (("groups", (("hz*",),)),)),
                 Fault("ledger_desync", "ledger", 100.0, 60.0))
    later_on_the_path = (Fault("link_down", "agent<->exchange", end - 20.0, 10.0),)
    for faults in (unrelated, later_on_the_path):
        bad = S.ledger_conserved(make_view(lambda v, f=faults: _drop_a_fill(v, f)), POLICY)
        assert not bad.ok and "never booked" in bad.message, (faults, bad.message)
    # a fill held by a fault on the agent↔exchange path that has not healed for the settle time is in flight
    def held(v) -> None:
        i = int(np.flatnonzero(v.fills["intent"] == "entry")[-1])
        v.fills["t_booked_s"][i:] = np.nan
        v.faults = v.faults + (Fault("link_down", "agent<->exchange", float(v.fills["t_s"][i]) - 1.0, None),)
    assert S.ledger_conserved(make_view(held), POLICY).ok


def test_equity_comparisons_go_on_after_an_unbooked_fill(make_view) -> None:
    """A fill booked 10 min late without a fault on the agent↔exchange path: the samples in between are compared
    (the old check skipped every sample while a fill was unbooked)."""
    def late(v) -> None:
        i = int(np.flatnonzero(v.fills["intent"] == "entry")[0])
        t = v.fills["t_s"][i]
        v.fills["t_booked_s"][i] = t + 600.0
        k = int(np.searchsorted(v.equity["t_s"], t + 300.0))
        v.equity["exchange_equity"][k] += 50.0

    bad = S.ledger_conserved(make_view(late), POLICY)
    assert not bad.ok and "not booked" in bad.message, bad.message
