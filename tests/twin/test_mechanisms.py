"""Mechanism tests: faults act on components, and the signals follow through network and cluster."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin import World


def _rows(cols: dict[str, list], t0: float, t1: float) -> list[int]:
    return [i for i, t in enumerate(cols["t_s"]) if t0 <= t <= t1]


def test_stalled_mc_forewarner_ages_at_one_second_per_second(make_world, cols) -> None:
    w: World = make_world(seed=3)
    w.at(600.0, w.ports["sensor.mc_forewarner"].stall)
    obs = cols(w.run(1500.0).tables["signals_observed"])
    rows = _rows(obs, 700.0, 1499.0)
    t = np.array([obs["t_s"][i] for i in rows])
    age = np.array([obs["mc_forewarner.age_s"][i] for i in rows])
    assert np.allclose(np.diff(age), np.diff(t))          # +1 s per simulated second
    assert age[-1] > 899.0                                   # last record is from before the stall
    true = cols(w.trace().tables["signals_true"])
    assert true["mc_forewarner.age_s"][rows[-1]] == pytest.approx(age[-1], abs=2.0)


def test_losing_one_of_three_members_loses_no_entry_and_keeps_quorum(make_world, cols) -> None:
    w: World = make_world(seed=4)
    w.at(900.0, lambda: w.ports["cluster"].kill_member(1))
    trace = w.run(1300.0)
    obs = cols(trace.tables["signals_observed"])
    delay = w.config.cluster.crash_detection_s
    after = _rows(obs, 900.0 + delay + 1.0, 1299.0)
    assert all(obs["hz.quorum"][i] == 1.0 for i in after)
    assert all(obs["data.checksum_ok"][i] == 1.0 for i in after)
    assert w.ctx.cluster.lost_keys == []
    kinds = cols(trace.tables["events"])["kind"]
    assert "partition_lost" not in kinds and "membership" in kinds and "migration" in kinds
    owned, backed = w.ctx.cluster.replica_count()
    assert owned == 271 and backed == 271                   # backups re-created after migration


def test_losing_two_members_loses_their_entries_and_breaks_an_invariant(make_world, cols) -> None:
    w: World = make_world(seed=4)
    cluster = w.ctx.cluster
    doomed = {k for k in cluster.data if set(cluster.replicas[cluster.partition_id(k)]) <= {1, 2}}
    assert doomed, "some keys must live only on members 1 and 2"

    def kill_two() -> None:
        cluster.kill_member(1)
        cluster.kill_member(2)

    w.at(1200.0, kill_two)
    trace = w.run(1400.0)
    assert doomed <= set(cluster.lost_keys)
    obs = cols(trace.tables["signals_observed"])
    after = _rows(obs, 1200.0 + w.config.cluster.crash_detection_s + 1.0, 1399.0)
    assert all(obs["hz.quorum"][i] == 0.0 or obs["data.checksum_ok"][i] == 0.0 for i in after)
    dec = cols(trace.tables["decisions"])
    assert all(dec["posture"][i] == "HIBERNATE" and dec["r_total"][i] == 0.0 for i in after)


def test_partition_isolating_the_agent_ages_heartbeat_and_hibernates(make_world, cols) -> None:
    w: World = make_world(seed=5)
    w.at(600.0, lambda: w.ports["network"].partition([["agent"]]))
    trace = w.run(700.0)
    obs, dec = cols(trace.tables["signals_observed"]), cols(trace.tables["decisions"])
    rows = _rows(obs, 601.0, 699.0)
    hb = [obs["heartbeat.age_s"][i] for i in rows]
    assert hb == sorted(hb) and hb[-1] > 90.0
    late = _rows(dec, 615.0, 699.0)
    assert all(dec["posture"][i] == "HIBERNATE" for i in late)
    assert all(obs["hz.quorum"][i] == 0.0 for i in late)


def test_hibernate_cancels_working_orders_and_sends_no_entry(make_world, cols) -> None:
    # maker entries never fill, so they are still working when the controller hibernates
    w: World = make_world(seed=6, exchange={"entry_fill_ratio": 0.0}, agent={"maker_timeout_s": 3600.0})
    w.at(1800.0, lambda: w.ports["network"].partition([["agent", "exchange"]]))
    trace = w.run(2400.0)
    dec, orders = cols(trace.tables["decisions"]), cols(trace.tables["orders"])
    hib = [t for t, p in zip(dec["t_s"], dec["posture"]) if p == "HIBERNATE"]
    assert hib, "the partition must drive the controller to HIBERNATE"
    t_hib = hib[0]
    working = [i for i, t in enumerate(orders["t_s"]) if t < t_hib and (math.isnan(orders["t_done_s"][i])
                                                                        or orders["t_done_s"][i] > t_hib)]
    assert working, "there must be working orders when HIBERNATE starts"
    for i in working:
        assert orders["status"][i] == "cancelled" and orders["t_done_s"][i] <= t_hib + 1.0
    hib_set = set(hib)
    assert not any(orders["intent"][i] == "entry" and orders["t_s"][i] in hib_set for i in range(len(orders["id"])))
    assert all(p != "HIBERNATE" for p, k in zip(orders["posture"], orders["intent"]) if k == "entry")


def test_exits_still_execute_in_turtle(make_world, cols) -> None:
    w: World = make_world(seed=8, agent={"max_hold_s": 240.0, "take_profit_bps": 1000.0, "stop_bps": 1000.0})
    w.at(300.0, w.ports["sensor.mc_forewarner"].stall)
    trace = w.run(3000.0)
    dec, orders = cols(trace.tables["decisions"]), cols(trace.tables["orders"])
    assert "TURTLE" in dec["posture"]
    exits = [i for i, (p, k) in enumerate(zip(orders["posture"], orders["intent"])) if p == "TURTLE" and k == "exit"]
    assert exits and all(orders["status"][i] == "filled" for i in exits)
    assert not any(p == "TURTLE" and k == "entry" for p, k in zip(orders["posture"], orders["intent"]))


def test_fills_conserve_cash_and_positions(make_world, cols) -> None:
    w: World = make_world(seed=8, exchange={"partial_fill_ratio": 0.5, "reject_ratio": 0.05})
    trace = w.run(7200.0)
    fills = cols(trace.tables["fills"])
    assert len(fills["id"]) > 20
    assert fills["id"] == list(range(1, len(fills["id"]) + 1))
    pf, ex = w.agent.portfolio, w.ctx.exchange
    booked = [f for f in pf.fills]
    assert sorted(f.id for f in booked) == [f for f in fills["id"] if not math.isnan(fills["t_booked_s"][f - 1])]
    assert len({f.id for f in booked}) == len(booked)
    flows = sum((-1 if s == "buy" else 1) * q * p - fee for s, q, p, fee in
                zip(fills["side"], fills["qty"], fills["price"], fills["fee"]))
    assert ex.cash == pytest.approx(pf.initial_cash + flows, rel=1e-12)
    positions: dict[int, float] = {}
    for a, s, q in zip(fills["asset"], fills["side"], fills["qty"]):
        positions[a] = positions.get(a, 0.0) + (q if s == "buy" else -q)
    held = {a: q for a, q in positions.items() if abs(q) > 1e-9}
    assert held.keys() == ex.positions.keys()
    assert all(ex.positions[a] == pytest.approx(q) for a, q in held.items())
    in_flight = [f for f in ex.fills if f.id not in pf.booked]
    assert pf.cash == pytest.approx(ex.cash - sum(f.cash_flow for f in in_flight), rel=1e-12)
    assert w.agent.ledger_consistent


def test_ledger_desync_breaks_consistency_until_resync_books_missed_fills_once(make_world, cols) -> None:
    # tight exits (the old defaults), so positions close while the ledger is desynchronised
    w: World = make_world(seed=9, agent={"take_profit_bps": 40.0, "stop_bps": 60.0})
    w.at(600.0, w.ports["ledger"].desync)
    w.at(1500.0, w.ports["ledger"].resync)
    trace = w.run(1700.0)
    obs, dec = cols(trace.tables["signals_observed"]), cols(trace.tables["decisions"])
    during = _rows(obs, 625.0, 1499.0)
    assert all(obs["ledger.consistent"][i] == 0.0 for i in during)
    assert all(dec["posture"][i] == "HIBERNATE" for i in during)
    assert obs["ledger.consistent"][-1] == 1.0
    pf, ex = w.agent.portfolio, w.ctx.exchange
    missed = [f for f in ex.fills if 600.0 < f.t_s < 1500.0]
    assert missed and all(f.t_booked_s >= 1500.0 for f in missed)     # booked only at resync
    assert sorted(pf.booked) == [f.id for f in ex.fills]               # every fill booked, once
    assert len(pf.fills) == len(ex.fills)
    assert pf.cash == pytest.approx(ex.cash, rel=1e-12) and pf.positions.keys() == ex.positions.keys()


def test_corrupt_records_break_data_checksum(make_world, cols) -> None:
    w: World = make_world(seed=10)
    w.at(300.0, lambda: w.ports["sensor.scan"].corrupt(True))
    w.at(600.0, lambda: w.ports["sensor.scan"].corrupt(False))
    obs = cols(w.run(700.0).tables["signals_observed"])
    assert all(obs["data.checksum_ok"][i] == 1.0 for i in _rows(obs, 0.0, 299.0))
    assert all(obs["data.checksum_ok"][i] == 0.0 for i in _rows(obs, 310.0, 600.0))
    assert all(obs["data.checksum_ok"][i] == 1.0 for i in _rows(obs, 610.0, 699.0))
    assert max(obs["scan.age_s"][i] for i in _rows(obs, 310.0, 600.0)) > 250.0   # corrupt values are not used


def test_market_shock_reaches_the_controller_through_exf(make_world, cols) -> None:
    w: World = make_world(seed=11)
    w.at(1000.0, lambda: w.ports["market"].shock(0.8))
    trace = w.run(1200.0)
    obs, dec = cols(trace.tables["signals_observed"]), cols(trace.tables["decisions"])
    before = _rows(obs, 0.0, 999.0)
    assert max(obs["exf.shock"][i] for i in before) == 0.0
    after = _rows(obs, 1065.0, 1199.0)
    assert max(obs["exf.shock"][i] for i in after) >= 0.75
    assert min(dec["layer.exf"][i] for i in after) < 0.5


def test_link_down_and_feed_latency_show_up_as_signals(make_world, cols) -> None:
    w: World = make_world(seed=12)
    w.at(300.0, w.ports["link.sensor.scan->cluster"].down)
    w.at(600.0, w.ports["link.sensor.scan->cluster"].up)
    w.at(300.0, lambda: w.ports["link.exchange->sensor.ob"].set_latency(900.0, 50.0))
    obs = cols(w.run(700.0).tables["signals_observed"])
    assert max(obs["scan.age_s"][i] for i in _rows(obs, 0.0, 299.0)) <= 6.0
    assert obs["scan.age_s"][_rows(obs, 599.0, 599.0)[0]] > 290.0
    assert max(obs["scan.age_s"][i] for i in _rows(obs, 620.0, 699.0)) <= 6.0
    assert min(obs["ob.latency_ms"][i] for i in _rows(obs, 310.0, 699.0)) >= 900.0


def test_clock_skew_shifts_observed_ages_only(make_world, cols) -> None:
    w: World = make_world(seed=13)
    w.at(300.0, lambda: w.ports["clock"].skew("esof", 120.0))
    trace = w.run(1000.0)
    obs, true = cols(trace.tables["signals_observed"]), cols(trace.tables["signals_true"])
    i = _rows(obs, 999.0, 999.0)[0]
    assert obs["esof.age_s"][i] == pytest.approx(true["esof.age_s"][i] - 120.0, abs=1.0)


def test_exchange_outage_rejects_orders_and_freezes_the_book(make_world, cols) -> None:
    w: World = make_world(seed=14)
    w.at(60.0, lambda: w.ports["exchange"].outage(True))
    trace = w.run(3600.0)
    obs, orders = cols(trace.tables["signals_observed"]), cols(trace.tables["orders"])
    assert obs["ob.age_s"][_rows(obs, 3599.0, 3599.0)[0]] > 3500.0
    late = [i for i, t in enumerate(orders["t_s"]) if t > 61.0]
    assert late and all(orders["status"][i] == "rejected" and orders["reason"][i] == "exchange_outage" for i in late)


def test_degraded_delayed_and_flapping_sensors(make_world, cols) -> None:
    w: World = make_world(seed=15)
    w.at(100.0, lambda: w.ports["sensor.ob"].degrade(0.1))          # 1 Hz instead of 10 Hz
    w.at(300.0, lambda: w.ports["sensor.ob"].degrade(1.0))
    w.at(300.0, lambda: w.ports["sensor.scan"].set_publish_delay(40.0))
    w.at(500.0, lambda: w.ports["sensor.scan"].set_publish_delay(0.0))
    w.at(600.0, lambda: w.ports["sensor.exf"].set_flap(120.0))
    obs = cols(w.run(1200.0).tables["signals_observed"])
    nominal = [obs["ob.age_s"][i] for i in _rows(obs, 10.0, 99.0)]
    degraded = [obs["ob.age_s"][i] for i in _rows(obs, 110.0, 299.0)]
    assert max(nominal) < 0.75 < max(degraded) and max(degraded) < 2.0
    assert min(obs["scan.age_s"][i] for i in _rows(obs, 345.0, 499.0)) >= 40.0
    assert max(obs["scan.age_s"][i] for i in _rows(obs, 560.0, 599.0)) <= 6.0
    flapping = [obs["exf.age_s"][i] for i in _rows(obs, 600.0, 1199.0)]
    assert max(flapping) > 120.0                                      # down for 120 s at a time
    assert min(flapping[300:]) < 61.0                                 # and back up in between


@pytest.mark.parametrize("via", ["config", "port"])
def test_hell_mode_fills_48_percent_of_maker_entries_and_35_percent_of_exits(make_world, via: str) -> None:
    """HELL, measured: maker orders at the touch left to rest until the market reaches them."""
    from twin.orders import BUY, SELL, Order

    quiet = {"max_positions": 0, "take_profit_bps": 1e5, "stop_bps": 1e5, "max_hold_s": 1e7}   # agent stays out
    w: World = (make_world(seed=16, exchange={"friction": "hell"}, agent=quiet) if via == "config"
                else make_world(seed=16, agent=quiet))
    ex = w.ports["exchange"]
    if via == "port":
        ex.set_friction_mode("hell")
    assert (ex.entry_fill_ratio, ex.exit_fill_ratio, ex.friction_mode) == (0.48, 0.35, "hell")
    n_assets = w.ctx.market.n_assets
    for asset in range(n_assets):          # short positions for the (reduce-only) buy exits to close
        ex.receive(Order(asset + 1, 0.0, asset, SELL, "taker", "entry", 100.0, 0.0, "APEX", 1.0, "test"))
    assert all(ex.positions[a] == -100.0 for a in range(n_assets))
    orders = []
    for i in range(4000):
        asset = i % w.ctx.market.n_assets
        bid, ask = ex.touch(asset, 0.0)
        side, intent = (SELL, "entry") if i % 2 else (BUY, "exit")
        price = ask if side == SELL else bid
        orders.append(Order(10_000 + i, 0.0, asset, side, "maker", intent, 1.0, price, "APEX", 1.0, "test"))
    for o in orders:
        ex.receive(o)
    w.run(1800.0)
    for intent, target in (("entry", 0.48), ("exit", 0.35)):
        mine = [o for o in orders if o.intent == intent]
        filled = sum(o.filled_qty > 0 for o in mine) / len(mine)
        assert filled == pytest.approx(target, abs=0.03), intent
    assert all(o.status in ("filled", "working") for o in orders)


def test_friction_modes_switch_and_bad_modes_are_refused(make_world) -> None:
    from twin import TwinConfigError, TwinError

    w: World = make_world(seed=16)
    ex = w.ports["exchange"]
    assert (ex.entry_fill_ratio, ex.exit_fill_ratio, ex.friction_mode) == (1.0, 1.0, "none")
    ex.set_friction_mode("hell")
    ex.set_friction_mode("none")
    assert (ex.entry_fill_ratio, ex.exit_fill_ratio, ex.friction_mode) == (1.0, 1.0, "none")
    ex.set_friction(0.5, 0.5)
    assert ex.friction_mode == "custom"
    with pytest.raises(TwinError, match="one of none, hell"):
        ex.set_friction_mode("HELL!")
    with pytest.raises(TwinConfigError, match="exchange.friction"):
        make_world(exchange={"friction": "hell", "entry_fill_ratio": 0.5})
    with pytest.raises(TwinConfigError, match="exchange.friction"):
        make_world(exchange={"friction": "purgatory"})


def test_sensor_state_machine_restart_then_stall(make_world, cols) -> None:
    w: World = make_world(seed=17)
    scan = w.ports["sensor.scan"]
    w.at(100.0, scan.crash)
    w.at(200.0, scan.restart)
    w.at(201.0, scan.stall)                  # still restarting: it comes up stalled
    w.at(400.0, scan.resume)
    obs = cols(w.run(500.0).tables["signals_observed"])
    restart_s = w.config.sensors.restart_s
    assert obs["scan.age_s"][_rows(obs, 399.0, 399.0)[0]] > 290.0
    assert max(obs["scan.age_s"][i] for i in _rows(obs, 410.0, 499.0)) <= 6.0
    assert w.sensors["scan"].short.count < 30           # fresh state after the restart
    assert restart_s > 0


@pytest.mark.parametrize("sensor", ["scan", "ob", "mc_forewarner"])
def test_a_corrupt_record_steps_the_controller_at_once(make_world, cols, sensor: str) -> None:
    """data.checksum_ok flips when the corrupt record reaches the agent, not at the next 1 s tick."""
    w: World = make_world(seed=18)
    w.at(300.2, lambda: w.ports[f"sensor.{sensor}"].corrupt(True))
    w.at(500.2, lambda: w.ports[f"sensor.{sensor}"].corrupt(False))
    trace = w.run(700.0)
    dec, obs = cols(trace.tables["decisions"]), cols(trace.tables["signals_observed"])
    broken = [i for i, v in enumerate(obs["data.checksum_ok"]) if v == 0.0]
    first, last = broken[0], broken[-1]
    assert dec["trigger"][first] == "invariant" and dec["t_s"][first] != int(dec["t_s"][first])
    assert dec["posture"][first] == "HIBERNATE" and dec["t_s"][first] > 300.2
    healed = last + 1
    assert obs["data.checksum_ok"][healed] == 1.0 and dec["trigger"][healed] == "invariant"
    assert 500.2 < dec["t_s"][healed] < 500.2 + 2 * w.config.sensors.mc_interval_s


def test_equity_is_cash_plus_realised_plus_unrealised_pnl_minus_fees(make_world, cols) -> None:
    w: World = make_world(seed=19, agent={"max_hold_s": 900.0})
    eq = cols(w.run(5400.0).tables["equity"])
    capital = w.config.agent.capital
    for e, r, u, fee in zip(eq["equity"], eq["realized_pnl"], eq["unrealized_pnl"], eq["fees"]):
        assert e == pytest.approx(capital + r + u - fee, abs=1e-6 * capital)
    open_rows = [i for i, n in enumerate(eq["positions"]) if n > 0]
    assert open_rows and any(abs(eq["unrealized_pnl"][i]) > 1.0 for i in open_rows)
    assert all(eq["unrealized_pnl"][i] == 0.0 for i, n in enumerate(eq["positions"]) if n == 0)
    assert any(r != 0.0 for r in eq["realized_pnl"])


_NO_ENTRY_POSTURES = ("TURTLE", "HIBERNATE")
_CANCEL_TRANSIT_S = 0.5      # a cancel crosses agent<->exchange in ~3 ms; a fill inside it is a race


def _posture_at(dec: dict[str, list], t: float) -> str:
    """The posture of the last decision at or before ``t``."""
    import bisect
    i = bisect.bisect_right(dec["t_s"], t) - 1
    return dec["posture"][i] if i >= 0 else "NONE"


@pytest.mark.parametrize("seed", [1, 3, 6, 9])
def test_safety_no_entry_fills_while_turtle_or_hibernate(make_world, cols, seed: int) -> None:
    """The reviewer's case: MC-Forewarner stalls, STALKER maker entries are working when TURTLE comes
    (maker entries kept 10 min so that more are; without the cancel, seeds 1, 3, 6 fill in TURTLE)."""
    w: World = make_world(seed=seed, agent={"max_hold_s": 240.0, "take_profit_bps": 1000.0, "stop_bps": 1000.0,
                                            "maker_timeout_s": 600.0, "max_positions": 10})
    w.at(300.0, w.ports["sensor.mc_forewarner"].stall)
    trace = w.run(4000.0)
    dec, fills = cols(trace.tables["decisions"]), cols(trace.tables["fills"])
    assert "TURTLE" in dec["posture"] and "STALKER" in dec["posture"]
    entry_fills = [t for t, k in zip(fills["t_s"], fills["intent"]) if k == "entry"]
    assert entry_fills
    for t in entry_fills:
        assert not (_posture_at(dec, t) in _NO_ENTRY_POSTURES
                    and _posture_at(dec, t - _CANCEL_TRANSIT_S) in _NO_ENTRY_POSTURES), f"entry filled at {t}"


def test_entering_turtle_cancels_working_entries(make_world, cols) -> None:
    # half the maker entries never fill and the agent would keep them an hour: some are working at TURTLE
    w: World = make_world(seed=20, exchange={"entry_fill_ratio": 0.5},
                          agent={"maker_timeout_s": 3600.0, "max_positions": 20})
    w.at(300.0, w.ports["sensor.mc_forewarner"].stall)
    trace = w.run(4000.0)
    dec, orders = cols(trace.tables["decisions"]), cols(trace.tables["orders"])
    t_turtle = dec["t_s"][dec["posture"].index("TURTLE")]
    working = [i for i in range(len(orders["id"])) if orders["intent"][i] == "entry"
               and orders["t_s"][i] < t_turtle and not orders["t_done_s"][i] <= t_turtle]
    assert len(working) >= 3, "entries must be working when TURTLE starts"
    for i in working:
        assert orders["status"][i] in ("cancelled", "partially_filled")
        assert orders["t_done_s"][i] <= t_turtle + 1.0


def test_working_exits_keep_working_in_turtle(make_world, cols) -> None:
    # maker exits never fill and time out after 15 min: only that timeout may end them
    w: World = make_world(seed=20, exchange={"exit_fill_ratio": 0.0},
                          agent={"exit_timeout_s": 900.0, "max_hold_s": 3600.0, "take_profit_bps": 3.0})
    w.at(300.0, w.ports["sensor.mc_forewarner"].stall)
    trace = w.run(3000.0)
    dec, orders = cols(trace.tables["decisions"]), cols(trace.tables["orders"])
    t_turtle = dec["t_s"][dec["posture"].index("TURTLE")]
    exits = [i for i in range(len(orders["id"])) if orders["intent"][i] == "exit" and orders["kind"][i] == "maker"
             and orders["t_s"][i] < t_turtle and not orders["t_done_s"][i] <= t_turtle]
    assert exits, "maker exits must be working when TURTLE starts"
    for i in exits:
        assert orders["status"][i] == "cancelled"
        assert orders["t_done_s"][i] - orders["t_s"][i] >= 900.0


def test_exits_are_reduce_only_at_the_exchange_even_when_the_agent_is_out_of_sync(make_world, cols) -> None:
    """Desynchronised, the agent still believes in positions the exchange has closed; its exits
    must not open new ones (reduce-only), they are rejected until it resyncs."""
    w: World = make_world(seed=1, agent={"take_profit_bps": 40.0, "stop_bps": 60.0})   # exits while desynced
    w.at(2400.0, w.ports["ledger"].desync)
    w.at(2700.0, w.ports["ledger"].resync)
    trace = w.run(4000.0)
    fills, orders = cols(trace.tables["fills"]), cols(trace.tables["orders"])
    pos: dict[int, float] = {}
    exits = 0
    for i in sorted(range(len(fills["id"])), key=lambda i: (fills["t_s"][i], fills["id"][i])):
        a, before = fills["asset"][i], pos.get(fills["asset"][i], 0.0)
        after = pos[a] = before + (1.0 if fills["side"][i] == "buy" else -1.0) * fills["qty"][i]
        if fills["intent"][i] == "exit":
            exits += 1
            assert abs(after) <= abs(before) * (1 + 1e-9) and before * after >= -1e-12, f"exit fill {fills['id'][i]}"
    assert exits > 5
    refused = [i for i, r in enumerate(orders["reason"]) if r == "reduce_only"]
    assert refused and all(orders["intent"][i] == "exit" for i in refused)
    assert all(2400.0 < orders["t_s"][i] < 2700.0 + 60.0 for i in refused)
    assert w.agent.portfolio.positions.keys() == w.ctx.exchange.positions.keys()       # in sync again
