"""Every fault kind, through the twin's ports: its effect shows up where the twin says it should."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faults import KINDS, FaultSpecError, parse_fault
from twin import WorldConfig


def test_the_vocabulary_is_complete() -> None:
    design = {"sensor_stale", "sensor_down", "sensor_flap", "sensor_degraded", "ob_latency", "ob_depth_decay",
              "node_loss", "node_restart", "network_partition", "link_latency", "link_loss", "link_down",
              "clock_skew", "data_corruption", "ledger_desync", "heartbeat_loss", "exf_shock", "exchange_outage",
              "order_rejects", "fill_friction"}
    assert design | {"exchange_gateway_down"} == set(KINDS)


def test_sensor_stale_ages_the_signal_then_resumes(run_faults) -> None:
    r = run_faults([{"kind": "sensor_stale", "target": "mc_forewarner", "at": 300, "for": 600}], 1200)
    assert r.obs("mc_forewarner.age_s", 880, 899).min() > 580
    assert r.obs("mc_forewarner.age_s", 1000, 1199).max() <= 62
    assert [e["kind"] for e in r.trace.tables["events"].to_pylist()][:3] == ["fault_start", "sensor_stall", "fault_end"]


def test_sensor_down_crashes_and_restarts(run_faults) -> None:
    r = run_faults([{"kind": "sensor_down", "target": "scan", "at": 300, "for": 120}], 600)
    assert r.obs("scan.age_s", 400, 419).min() > 95
    assert r.events("sensor_crash") and r.events("sensor_up")
    assert r.obs("scan.age_s", 500, 599).max() <= 6


def test_sensor_flap_alternates(run_faults) -> None:
    r = run_faults([{"kind": "sensor_flap", "target": "ob", "at": 60, "for": 120, "period_s": "20s"}], 300)
    assert len(r.events("sensor_flap_down")) >= 3 and len(r.events("sensor_flap_up")) >= 2
    assert r.obs("ob.age_s", 60, 180).max() > 15


def test_sensor_degraded_slows_publishing(run_faults) -> None:
    r = run_faults([{"kind": "sensor_degraded", "target": "mc_forewarner", "at": 120, "for": 1200, "factor": 0.2}], 1500)
    assert r.obs("mc_forewarner.age_s", 700, 1320).max() > 240      # every 300 s instead of 60 s
    assert r.obs("mc_forewarner.age_s", 1450, 1499).max() <= 62


def test_ob_latency_raises_the_book_latency(run_faults) -> None:
    r = run_faults([{"kind": "ob_latency", "at": 60, "for": 60, "latency_ms": 2500}], 300)
    assert r.obs("ob.latency_ms", 80, 119).min() > 2000
    assert r.obs("ob.latency_ms", 200, 299).max() < 200


def test_ob_depth_decay_ramps_down_and_restores(run_faults) -> None:
    r = run_faults([{"kind": "ob_depth_decay", "at": 60, "for": 600, "factor": 0.2, "ramp_s": "5m"}], 900)
    depth = r.obs("ob.depth_ratio", 60, 659)
    assert depth[:30].min() > 0.85 and depth[-30:].max() < 0.25      # gradual, then thin
    assert r.obs("ob.depth_ratio", 700, 899).min() == 1.0


def test_node_loss_keeps_quorum_and_node_restart_returns(run_faults) -> None:
    r = run_faults([{"kind": "node_loss", "target": "hz1", "at": 120, "for": 300},
                    {"kind": "node_restart", "target": "hz0", "at": 600, "for": 30}], 900)
    assert [e["target"] for e in r.events("node_loss")] == ["hz1", "hz0"]
    assert [e["target"] for e in r.events("node_restart")] == ["hz1", "hz0"]
    assert r.obs("hz.quorum", 0, 899).min() == 1.0


def test_two_node_losses_break_quorum(run_faults) -> None:
    r = run_faults([{"kind": "node_loss", "target": "hz1", "at": 120, "for": 120},
                    {"kind": "node_loss", "target": "hz2", "at": 120, "for": 120}], 400)
    assert r.obs("hz.quorum", 150, 230).max() == 0.0
    assert r.obs("hz.quorum", 300, 399).min() == 1.0


def test_network_partition_isolating_the_agent_ages_the_heartbeat(run_faults) -> None:
    r = run_faults([{"kind": "network_partition", "target": "agent", "at": 60, "for": 60}], 200)
    assert r.obs("heartbeat.age_s", 100, 119).min() > 30
    assert r.events("network_heal")


def test_link_latency_delays_everything_the_agent_reads(run_faults) -> None:
    r = run_faults([{"kind": "link_latency", "target": "cluster<->agent", "at": 60, "for": 60, "latency_ms": 3000}], 200)
    assert r.obs("heartbeat.age_s", 80, 119).min() >= 2.5
    assert r.obs("heartbeat.age_s", 150, 199).max() <= 1.5


def test_link_loss_total_starves_a_sensor(run_faults) -> None:
    r = run_faults([{"kind": "link_loss", "target": "sensor.scan->cluster", "at": 60, "for": 120, "loss_ratio": 1.0}], 300)
    assert r.obs("scan.age_s", 170, 179).min() > 100


def test_link_down_starves_a_sensor_until_up(run_faults) -> None:
    r = run_faults([{"kind": "link_down", "target": "sensor.exf->cluster", "at": 60, "for": 600}], 900)
    assert r.obs("exf.age_s", 600, 659).min() > 500
    assert r.obs("exf.age_s", 800, 899).max() <= 62


def test_clock_skew_makes_records_look_old(run_faults) -> None:
    r = run_faults([{"kind": "clock_skew", "target": "mc_forewarner", "at": 60, "for": 600, "offset_s": -300}], 900)
    assert r.obs("mc_forewarner.age_s", 200, 659).min() >= 299
    assert r.obs("mc_forewarner.age_s", 800, 899).max() <= 62


def test_data_corruption_breaks_the_checksum_signal(run_faults) -> None:
    r = run_faults([{"kind": "data_corruption", "target": "scan", "at": 60, "for": 60}], 300)
    assert r.obs("data.checksum_ok", 70, 119).max() == 0.0
    assert r.obs("data.checksum_ok", 0, 59).min() == 1.0


def test_ledger_desync_breaks_ledger_consistency(run_faults) -> None:
    r = run_faults([{"kind": "ledger_desync", "at": 60, "for": 120}], 300)
    assert r.obs("ledger.consistent", 75, 179).max() == 0.0
    assert r.events("ledger_resync")


def test_heartbeat_loss_breaks_keepalive_and_hibernates(run_faults) -> None:
    r = run_faults([{"kind": "heartbeat_loss", "at": 60, "for": 60}], 200)
    assert r.obs("heartbeat.age_s", 100, 119).min() > 30
    t, p = r.col("decisions", "t_s"), r.col("decisions", "posture")
    assert set(p[(t >= 75) & (t <= 119)]) == {"HIBERNATE"}


def test_exf_shock_reaches_the_exf_signal(run_faults) -> None:
    r = run_faults([{"kind": "exf_shock", "at": 300, "magnitude": 1.0}], 600)
    assert r.obs("exf.shock", 0, 299).max() < 0.1
    assert r.obs("exf.shock", 370, 420).max() > 0.5
    detail = json.loads(r.events("market_shock")[0]["detail"])
    assert detail["crash_s"] == 900.0                    # default: [market] shock_crash_s × magnitude


def test_exchange_outage_stops_the_book_feed(run_faults) -> None:
    r = run_faults([{"kind": "exchange_outage", "at": 60, "for": 120}], 300)
    assert r.obs("ob.age_s", 170, 179).min() > 100
    assert r.obs("ob.age_s", 250, 299).max() < 1.0


def test_order_rejects_reject_every_order_in_the_window(run_faults) -> None:
    r = run_faults([{"kind": "order_rejects", "at": 0, "for": 3600, "ratio": 1.0}], 3600, seed=1)
    status, reason = r.col("orders", "status"), r.col("orders", "reason")
    assert len(status) > 0 and set(status) == {"rejected"} and set(reason) == {"rejected_by_exchange"}


def test_fill_friction_stops_maker_fills(run_faults) -> None:
    r = run_faults([{"kind": "fill_friction", "at": 0, "for": 3600, "entry_fill": 0.0, "exit_fill": 0.0}], 3600)
    kinds, filled = r.col("orders", "kind"), r.col("orders", "filled_qty")
    assert (kinds == "maker").any()
    assert np.all(filled[kinds == "maker"] == 0.0)


def test_overlapping_faults_on_one_channel_restore_in_order(run_faults) -> None:
    r = run_faults([{"kind": "link_latency", "target": "cluster<->agent", "at": 60, "for": 240, "latency_ms": 1000},
                    {"kind": "link_latency", "target": "cluster<->agent", "at": 120, "for": 60, "latency_ms": 4000}], 400)
    set_to = [(e["t_s"], json.loads(e["detail"])["latency_ms"]) for e in r.events("link_latency")]
    assert set_to == [(60.0, 1000.0), (120.0, 4000.0), (180.0, 1000.0), (300.0, 0.8)]   # 0.8: the configured base


def test_stall_inside_a_crash_window_leaves_the_sensor_running_after_both(run_faults) -> None:
    r = run_faults([{"kind": "sensor_down", "target": "scan", "at": 60, "for": 300},
                    {"kind": "sensor_stale", "target": "scan", "at": 120, "for": 60}], 600)
    assert r.obs("scan.age_s", 500, 599).max() <= 6


def test_fill_friction_heals_back_to_the_configured_friction_mode(run_faults) -> None:
    from twin import WorldConfig

    world = WorldConfig.from_mapping({"exchange": {"friction": "hell"}}, source="test")
    r = run_faults([{"kind": "fill_friction", "at": 60, "for": 60, "entry_fill": 0.0, "exit_fill": 0.0}], 300,
                   world=world)
    restored = [json.loads(e["detail"]) for e in r.events("fill_friction") if e["t_s"] == 120.0]
    assert restored, r.events("fill_friction")
    assert (restored[-1]["entry_fill"], restored[-1]["exit_fill"]) == (0.48, 0.35)


def test_exchange_gateway_down_refuses_orders_keeps_the_book_and_is_validated(run_faults) -> None:
    r = run_faults([{"kind": "exchange_gateway_down", "at": 0, "for": 3000}], 3600, seed=1)
    during = r.col("orders", "t_s") < 3000.0
    status, reason = r.col("orders", "status")[during], r.col("orders", "reason")[during]
    assert len(status) > 0 and set(status) == {"rejected"} and set(reason) == {"gateway_down"}
    assert r.obs("ob.age_s", 60, 3599).max() < 1.0              # the venue runs on: its book feed too
    assert [json.loads(e["detail"])["on"] for e in r.events("exchange_gateway_down")] == [True, False]
    with pytest.raises(FaultSpecError, match=r"fault\[0\]\.target: expected one of exchange"):
        parse_fault({"kind": "exchange_gateway_down", "target": "hz0", "at": 1, "for": 5}, "s.toml", "fault[0]",
                    WorldConfig(), 3600)
    with pytest.raises(FaultSpecError, match=r"fault\[0\]\.ratio: expected one of the keys"):
        parse_fault({"kind": "exchange_gateway_down", "at": 1, "for": 5, "ratio": 1}, "s.toml", "fault[0]",
                    WorldConfig(), 3600)
