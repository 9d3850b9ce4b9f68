"""Reactions attributed by mechanism, on hand-written traces shaped like the default suite's cases,
and the true-break latency on a real smoke_quorum_lost run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from reports import load_report, render_run
from reports.manifest import Fault
from reports.metrics import aggregate, compute_metrics, outcomes
from reports.page import fmt_metric
from reports.traces import ControllerTrace
from twin import WorldConfig

from .conftest import ROOT, nor_run

A, S, T, H = 3, 2, 1, 0
READS = {"ledger": (("ledger.consistent", 0.0),), "data_integrity": (("data.checksum_ok", 0.0),),
         "scan_loop": (("scan.age_s", 30.0),), "exf": (("exf.age_s", 600.0), ("exf.shock", 0.0)),
         "hz_quorum": (("hz.quorum", 0.0),)}


def trace(n: int, posture: dict[int, int], layers: dict[str, dict[int, float]]) -> ControllerTrace:
    """``n`` one-second steps; ``posture`` / ``layers`` map a start step to the value from there on."""
    def steps(changes: dict[int, float], first: float) -> np.ndarray:
        out = np.full(n, first, dtype=np.float64)
        for at in sorted(changes):
            out[at:] = changes[at]
        return out
    t = np.arange(n, dtype=np.float64)
    eq = np.full(n, 100.0)
    empty = pa.table({"t_s": pa.array([], pa.float64()), "t_done_s": pa.array([], pa.float64())})
    fills = pa.table({"t_s": pa.array([], pa.float64()), "fee": pa.array([], pa.float64()),
                      "liquidity": pa.array([], pa.string())})
    return ControllerTrace("x", t, np.ones(n), steps(posture, A).astype(np.int8),
                           {k: steps(v, 1.0) for k, v in layers.items()}, t, eq, np.zeros(n), empty, fills)


def test_compound_partition_ledger_credits_the_hibernate_to_the_ledger_desync_not_the_earlier_link_loss() -> None:
    faults = [Fault("link_loss", "agent<->exchange", 1800.0, 1200.0, {}, True, ("ledger.consistent",), False),
              Fault("ledger_desync", "ledger", 2100.0, 240.0, {}, True, ("ledger.consistent", "data.checksum_ok"), True),
              Fault("network_partition", "sensor.scan", 2160.0, 360.0, {}, True, ("scan.age_s",), False)]
    tr = trace(5000, {2105: H, 2400: T, 2700: A},
               {"ledger": {2105: 0.0, 2345: 1.0}, "scan_loop": {2200: 0.9, 2230: 0.8, 2520: 0.9, 2700: 1.0}})
    link, desync, partition = outcomes(tr, faults, READS)
    assert desync.outcome == "reacted" and desync.detect_s == 5.0 and desync.posture_s == 5.0
    assert desync.posture_after == "HIBERNATE"
    assert link.outcome == "correct: no reaction" and math.isnan(link.detect_s)
    # the partition's scan layer dropped (a reaction it did not need); the posture climbing back while it
    # lasted is a recovery, never a reaction
    assert partition.outcome == "reacted (not required)" and math.isnan(partition.posture_s)
    m = compute_metrics(tr, faults, 5000.0, {}, reads=READS)
    assert m["misses"] == 0 and m["reaction_s"] == 5.0 and m["posture_reaction_s"] == 5.0


def test_a_partition_that_only_recovers_is_no_reaction() -> None:
    fault = Fault("network_partition", "sensor.scan", 100.0, 300.0, {}, True, ("scan.age_s",), False)
    tr = trace(2000, {0: T, 150: S, 300: A}, {"scan_loop": {0: 0.5, 150: 0.7, 300: 1.0}})
    (o,) = outcomes(tr, [fault], READS)
    assert o.outcome == "correct: no reaction" and math.isnan(o.posture_s) and math.isnan(o.detect_s)


def _exf_stale() -> list[Fault]:
    return [Fault("sensor_stale", "exf", 1800.0, 7200.0, {}, True, ("exf.age_s", "exf.shock"), True)]


def test_a_by_design_slow_reaction_counts_only_beyond_its_deadband() -> None:
    """ExF stale: the layer starts to fall after its 10-min deadband and the posture follows an hour
    later, as designed; the headline latency is what exceeds the deadband (20 s), not 67.9 min."""
    tr = trace(12000, {1800 + 4074: S}, {"exf": {2420: 0.99, 2421: 0.98, 5874: 0.84}})
    m = compute_metrics(tr, _exf_stale(), 12000.0, {}, reads=READS)
    assert m["reaction_s"] == 20.0 and m["posture_reaction_s"] == 4074.0 and m["misses"] == 0


def test_a_controller_that_ignores_a_fault_does_not_look_faster() -> None:
    reacting = compute_metrics(trace(12000, {5874: S}, {"exf": {2420: 0.9}}), _exf_stale(), 12000.0, {},
                               reads=READS)
    ignoring = compute_metrics(trace(12000, {}, {}), _exf_stale(), 12000.0, {}, reads={})
    assert ignoring["misses"] == 1 and ignoring["reaction_s"] == math.inf
    assert fmt_metric("reaction_s", ignoring["reaction_s"]) == "missed"
    suite = aggregate([reacting, ignoring])
    assert suite["reaction_s"] == math.inf and suite["misses"] == 1
    assert aggregate([reacting])["reaction_s"] == 20.0


def test_smoke_quorum_lost_shows_the_true_break_to_hibernate_latency(tmp_path: Path) -> None:
    """Observed quorum loss → HIBERNATE is the same step (0 s); from the true member loss it is the
    twin's crash detection (0.35 s: the killed members' connections are reset), and both are in the
    report and metrics.json."""
    run_dir = nor_run(tmp_path, ROOT / "scenarios" / "smoke" / "smoke_quorum_lost.toml", seeds=1, companions=False)
    report = load_report(run_dir)
    m = report.metrics["smoke_quorum_lost/1"]["run"]
    assert m["invariant_hibernate_s"] == 0.0
    crash = WorldConfig().cluster.crash_detection_s
    assert crash <= m["invariant_hibernate_true_s"] <= crash + 0.1, m["invariant_hibernate_true_s"]
    assert m["misses"] == 0 and m["reaction_s"] <= 8.0
    html = render_run(run_dir).read_text(encoding="utf-8")
    assert "true break → HIBERNATE" in html and fmt_metric("invariant_hibernate_true_s", m["invariant_hibernate_true_s"]) in html
    doc = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert doc["format"] == "dolphin-nor.metrics/1"
    assert doc["cases"]["smoke_quorum_lost/1"]["controllers"]["run"]["invariant_hibernate_true_s"] == \
        round(m["invariant_hibernate_true_s"], 9)
    assert doc["metrics"]["invariant_hibernate_true_s"]["unit"] == "s"


def _deuteranopia(hex_colour: str) -> np.ndarray:
    """sRGB colour as a deuteranope sees it (Machado et al. 2009, severity 1.0), linear RGB."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]])
    return np.clip(m @ lin, 0.0, 1.0)


def test_posture_colours_stay_apart_under_deuteranopia() -> None:
    from reports.svg import POSTURE_COLOURS

    seen = [_deuteranopia(c) for c in POSTURE_COLOURS]
    apex, hibernate = seen[A], seen[H]
    assert np.linalg.norm(apex - hibernate) > 0.3
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.linalg.norm(seen[i] - seen[j]) > 0.08, (POSTURE_COLOURS[i], POSTURE_COLOURS[j])
    # the old palette (green APEX, red HIBERNATE) failed exactly this
    assert np.linalg.norm(_deuteranopia("#2e7d32") - _deuteranopia("#c62828")) < 0.1


def test_the_designed_delay_comes_from_the_true_signals_leaving_the_deadband() -> None:
    """A book depth decaying over a 10-min ramp leaves the ob_streamer's deadband (0.5, bad below) only
    when the true depth ratio crosses 0.5; a layer drop 5 s later is 5 s beyond design, not 6 min."""
    reads = {"ob_streamer": (("ob.age_s", 2.0, 1.0, 1.0), ("ob.depth_ratio", 0.5, -1.0, 1.0))}
    fault = Fault("ob_depth_decay", "exchange", 1800.0, 3000.0, {}, True, ("ob.depth_ratio",), True)
    t = np.arange(6000, dtype=np.float64)
    depth = np.clip(1.0 - 0.8 * (t - 1800.0) / 600.0, 0.2, 1.0)
    depth[t < 1800] = 1.0
    truth = {"t_s": t, "ob.depth_ratio": depth, "ob.age_s": np.full(t.size, 0.1)}
    crossing = float(t[np.flatnonzero(depth < 0.5)[0]] - 1800.0)
    tr = trace(6000, {}, {"ob_streamer": {int(1800 + crossing + 5): 0.95}})
    (o,) = outcomes(tr, [fault], reads, truth)
    assert o.designed_s == crossing and o.excess_s == 5.0
    assert outcomes(tr, [fault], reads)[0].excess_s == crossing + 5.0      # without the truth: no ramp known


_SENSOR_LINK_FAULTS = '''
name = "mc_link_down_esof_slow"
description = "The MC-Forewarner's link to the grid goes down; 10 s later the EsoF link gets slow"
duration = "30m"
seeds = 1

[liveness]
enabled = false

[[fault]]
kind = "link_down"
target = "sensor.mc_forewarner->cluster"
at = "10m"
for = "12m"

[[fault]]
kind = "link_latency"
target = "sensor.esof->cluster"
at = "610s"
for = "12m"
latency_ms = 1500.0

[[expect]]
check = "layer_reaches"
layer = "mc_forewarner"
window = ["fault[0].start", "fault[0].end"]
max = 0.95
'''


def test_a_sensor_link_fault_is_attributed_through_the_derived_map_and_a_removed_layer_changes_it(
        tmp_path: Path) -> None:
    """A link no built-in scenario faults: the runner derives from the twin's wiring that the MC-Forewarner's
    link carries ``mc_forewarner.age_s`` only (the EsoF link ``esof.age_s``), so the mc_forewarner layer's
    drop belongs to the link_down although the EsoF fault started later and was live; without that layer
    in the controller's config the same fault has no layer and its expected reaction is missed."""
    scenario = tmp_path / "mc_link_down_esof_slow.toml"
    scenario.write_text(_SENSOR_LINK_FAULTS, encoding="utf-8")
    run_dir = nor_run(tmp_path / "out", scenario, seeds=1, companions=False)
    report = load_report(run_dir)
    (case,) = report.cases
    link, esof = case.faults
    assert link.signals == ("mc_forewarner.age_s",) and link.expects_reaction is True
    assert esof.signals == ("esof.age_s",) and esof.expects_reaction is False
    reads = case.scenario.layer_reads
    down, slow = outcomes(case.traces["run"], case.faults, reads, case.truth)
    assert down.layers == ("mc_forewarner",) and down.outcome == "reacted", down
    assert 30.0 <= down.detect_s <= 150.0 and down.detect_s > esof.at_s - link.at_s
    assert slow.layers == ("esof",) and slow.outcome == "correct: no reaction"
    without = {name: inputs for name, inputs in reads.items() if name != "mc_forewarner"}
    down, _ = outcomes(case.traces["run"], case.faults, without, case.truth)
    assert down.layers == () and down.outcome == "missed"


def test_a_member_loss_that_truly_breaks_the_quorum_is_due_at_once_though_another_fault_ages_its_entry() -> None:
    """compound_quorum_shock: a member holding the ExF entry dies while ExF is stale; the true ExF age leaves
    its deadband 241 s later, but the true quorum broke at once (a flag's threshold is its deadband), so the
    hz_quorum drop 5 s in is 5 s beyond design, not 0."""
    from controller import default_config
    from reports.manifest import _Reader, layer_reads

    config = default_config().to_dict()
    reads = layer_reads(_Reader(Path("manifest.json")), config, "controller.config")
    assert reads["hz_quorum"] == (("hz.quorum", 0.5, -1.0, 1.0),)
    exf_band = reads["exf"][0][1]
    fault = Fault("node_loss", "hz0", 100.0, 300.0, {}, True, ("hz.quorum", "exf.age_s"), True)
    t = np.arange(1000, dtype=np.float64)
    truth = {"t_s": t, "hz.quorum": np.where((t >= 100.0) & (t < 400.0), 0.0, 1.0),
             "exf.age_s": np.clip(t - 100.0 - 241.0 + exf_band, 0.0, None)}
    tr = trace(1000, {105: H, 500: A}, {"hz_quorum": {105: 0.0, 400: 1.0}})
    (o,) = outcomes(tr, [fault], reads, truth)
    assert o.designed_s == 0.0 and o.excess_s == 5.0
