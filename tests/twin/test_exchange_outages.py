"""The venue's two outages: matching halted (exchange_outage) and the order gateway down (exchange_gateway_down)."""

from __future__ import annotations

import math

from twin import World, WorldConfig


def _world(seed: int, **sections) -> World:
    return World(WorldConfig.from_mapping(sections), "survival", seed)


# seed 8: a maker entry sent at 346 s rests until it fills at 1151 s (left alone, no fault)


def test_matching_halted_fills_nothing_and_queues_cancels_until_it_resumes() -> None:
    w = _world(8, agent={"maker_timeout_s": 120.0})
    w.at(400.0, lambda: w.ports["exchange"].outage(True))
    w.at(1500.0, lambda: w.ports["exchange"].outage(False))
    trace = w.run(2400.0)
    fills, orders = trace.tables["fills"].to_pydict(), trace.tables["orders"].to_pydict()
    assert any(t < 400.0 for t in fills["t_s"]) or any(t >= 1500.0 for t in fills["t_s"])
    assert not any(400.0 <= t < 1500.0 for t in fills["t_s"])            # nothing trades while halted
    cancelled = [i for i, c in enumerate(orders["t_cancel_s"]) if 400.0 <= c < 1490.0]
    assert cancelled, "a resting order must have been cancelled (maker timeout) while matching was halted"
    assert all(orders["status"][i] == "cancelled" and orders["t_done_s"][i] >= 1500.0 for i in cancelled)
    new = [i for i, t in enumerate(orders["t_s"]) if 401.0 <= t < 1490.0]
    assert new and all(orders["status"][i] == "rejected" and orders["reason"][i] == "exchange_outage" for i in new)


def test_gateway_down_refuses_orders_and_cancels_while_resting_orders_keep_filling() -> None:
    w = _world(8, agent={"maker_timeout_s": 3600.0})
    w.at(400.0, lambda: w.ports["exchange"].gateway_down(True))
    w.at(1500.0, lambda: w.ports["exchange"].gateway_down(False))
    trace = w.run(2400.0)
    fills, orders = trace.tables["fills"].to_pydict(), trace.tables["orders"].to_pydict()
    sent_before = {oid for oid, t in zip(orders["id"], orders["t_s"]) if t < 400.0}
    assert any(400.0 < t < 1500.0 and o in sent_before for t, o in zip(fills["t_s"], fills["order_id"]))
    new = [i for i, t in enumerate(orders["t_s"]) if 401.0 <= t < 1490.0]
    assert new and all(orders["status"][i] == "rejected" and orders["reason"][i] == "gateway_down" for i in new)


def test_a_cancel_fails_while_the_gateway_is_down_and_is_sent_again_until_it_heals() -> None:
    w = _world(8, agent={"maker_timeout_s": 120.0})
    w.at(400.0, lambda: w.ports["exchange"].gateway_down(True))
    w.at(1500.0, lambda: w.ports["exchange"].gateway_down(False))
    trace = w.run(2400.0)
    orders = trace.tables["orders"].to_pydict()
    events = trace.tables["events"].to_pydict()
    failed = [t for t, k in zip(events["t_s"], events["kind"]) if k == "cancel_failed"]
    assert failed and all(400.0 <= t < 1501.0 for t in failed)
    cancelled = [i for i, c in enumerate(orders["t_cancel_s"]) if 400.0 <= c < 1490.0]
    assert cancelled and all(orders["status"][i] == "filled" or orders["t_done_s"][i] >= 1500.0 for i in cancelled)


def test_hibernate_cancel_all_fails_while_the_gateway_is_down_and_is_retried_until_it_heals() -> None:
    # maker entries never fill, so they are still working when the keepalive breaks
    w = _world(6, exchange={"entry_fill_ratio": 0.0}, agent={"maker_timeout_s": 3600.0})
    w.at(1800.0, lambda: w.ports["exchange"].gateway_down(True))
    w.at(1800.0, w.ports["sensor.heartbeat"].stall)
    w.at(2100.0, lambda: w.ports["exchange"].gateway_down(False))
    trace = w.run(2400.0)
    dec, orders = trace.tables["decisions"].to_pydict(), trace.tables["orders"].to_pydict()
    t_hib = next(t for t, p in zip(dec["t_s"], dec["posture"]) if p == "HIBERNATE" and t >= 1800.0)
    working = [i for i, t in enumerate(orders["t_s"]) if t < t_hib and not orders["t_done_s"][i] <= t_hib]
    assert working
    for i in working:
        assert orders["t_cancel_s"][i] <= t_hib + 1.0            # sent at once
        assert orders["status"][i] == "cancelled" and 2100.0 <= orders["t_done_s"][i] <= 2102.0
    events = trace.tables["events"].to_pydict()
    retries = sum(1 for k in events["kind"] if k == "cancel_failed")
    assert retries >= len(working) * 200                       # one failed attempt per order per step


def test_without_a_venue_fault_cancels_are_not_refused() -> None:
    w = _world(21, agent={"maker_timeout_s": 20.0})
    trace = w.run(1200.0)
    orders = trace.tables["orders"].to_pydict()
    assert any(not math.isnan(c) for c in orders["t_cancel_s"])
    assert "cancel_failed" not in trace.tables["events"].column("kind").to_pylist()
