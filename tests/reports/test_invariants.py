"""Invariant → HIBERNATE / orders cancelled, timed from the breaks in signals_observed of real runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reports import ManifestError, load_report, render_run
from reports.manifest import parse_manifest
from reports.invariants import DEFAULT_KEEPALIVE_MAX_S


def test_survival_hibernates_in_the_step_it_observes_the_break(run_dir: Path) -> None:
    report = load_report(run_dir)
    case = next(c for c in report.cases if c.key == "ledger_desync_2m/1")
    assert case.breaks and case.breaks[0].cause == "ledger.consistent=0"
    assert 15 * 60 <= case.breaks[0].start_s < 15 * 60 + 5      # the fault starts at 15 min
    m = report.metrics[case.key]
    assert m["run"]["invariant_hibernate_s"] == 0.0
    assert 0.0 <= m["run"]["invariant_cancel_s"] < 1.0
    assert m["nofault"]["invariant_hibernate_s"] != m["nofault"]["invariant_hibernate_s"]  # NaN: no faults there
    quiet = next(c for c in report.cases if c.key == "mc_forewarner_stale_20m/1")
    assert quiet.breaks == () and report.metrics[quiet.key]["run"]["invariant_hibernate_s"] != 0.0  # NaN


def test_a_controller_that_never_reacts_shows_missed(uncontrolled_run_dir: Path) -> None:
    report = load_report(uncontrolled_run_dir)
    (case,) = report.cases
    assert case.breaks, "the ledger desync must be observed"
    assert report.metrics[case.key]["run"]["invariant_hibernate_s"] == float("inf")
    assert report.metrics[case.key]["run"]["invariant_cancel_s"] == float("inf")
    assert report.suite["run"]["invariant_hibernate_s"] == float("inf")
    html = render_run(uncontrolled_run_dir).read_text()
    suite = html[html.index("id='suite'"):html.index("id='definitions'")]
    assert "missed in 1 of 1 cases with an invariant break" in suite
    assert "ledger.consistent=0" in html and "missed / missed" in html  # the case's break table
    summary = (uncontrolled_run_dir / "summary.md").read_text()
    assert "| invariant → HIBERNATE | missed (ledger.consistent=0 at t=9" in summary


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def _set_keepalive(config: dict, max_s: float | None) -> None:
    layers = [layer for layer in config["layers"] if layer["name"] != "keepalive"]
    if max_s is not None:
        layers.append({"name": "keepalive", "category": "invariant",
                       "inputs": [{"signal": "heartbeat.age_s", "transform": "max_age", "max": max_s}]})
    config["layers"] = layers


def test_keepalive_limit_comes_from_the_controller_config(run_dir: Path) -> None:
    data = _manifest(run_dir)
    assert parse_manifest(data, "m.json").keepalive_max_s == 10.0   # the default config's keepalive layer
    _set_keepalive(data["controller"]["config"], 30.0)
    for s in data["scenarios"]:
        s.pop("controller", None)
    m = parse_manifest(data, "m.json")
    assert m.keepalive_max_s == 30.0 and {s.keepalive_max_s for s in m.scenarios} == {30.0}
    # a scenario's own controller config wins; one without a keepalive layer falls back to 10 s
    data["scenarios"][0]["controller"] = copy.deepcopy(data["controller"])
    _set_keepalive(data["scenarios"][0]["controller"]["config"], None)
    m = parse_manifest(data, "m.json")
    assert [s.keepalive_max_s for s in m.scenarios] == [DEFAULT_KEEPALIVE_MAX_S, 30.0, 30.0]


def test_bad_keepalive_limit_names_the_field(run_dir: Path) -> None:
    data = _manifest(run_dir)
    layer = next(x for x in data["controller"]["config"]["layers"] if x["name"] == "keepalive")
    layer["inputs"][0]["max"] = "ten"
    i = data["controller"]["config"]["layers"].index(layer)
    with pytest.raises(ManifestError, match=rf"controller\.config\.layers\[{i}\]\.inputs\[0\]\.max: expected a "
                                            "finite number"):
        parse_manifest(data, "m.json")


def test_unreadable_observed_signals_are_named(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy_dir = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy_dir)
    path = copy_dir / "scenario=ledger_desync_2m" / "seed=1" / "signals_observed.parquet"
    path.write_bytes(path.read_bytes()[:500])
    report = load_report(copy_dir)
    case = next(c for c in report.cases if c.key == "ledger_desync_2m/1")
    assert case.breaks is None and any(p.startswith(f"{path}: not a readable Parquet trace file") for p in case.problems)
    assert report.metrics[case.key]["run"]["invariant_hibernate_s"] != 0.0  # NaN, not a made-up 0
