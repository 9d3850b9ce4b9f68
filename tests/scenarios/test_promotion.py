"""Promotion: a config earns a record only with matching, passing, untampered evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from controller import ConfigError, apply_overrides, default_config, dump_config
from scenarios.loader import load_scenarios
from scenarios.promotion import PromotionError, promote, require_promotion
from scenarios.runner import RunOptions, run_suite

ROOT = Path(__file__).resolve().parents[2]
FAILING = """
name = "promo_wrong_expectation"
description = "A deliberately wrong expectation: APEX is never reached (it is, at once)"
duration = "5m"
seeds = 1
companions = []

[[expect]]
check = "posture_never"
posture = "APEX"
"""


def _run(scenario_paths: list[str], config: Path, out: Path) -> Path:
    scenarios = load_scenarios(scenario_paths, controller=str(config))
    result = run_suite(scenarios, RunOptions(out=out, jobs=1, progress=False, report=False))
    return result.run_dir


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("promotion")
    config = base / "candidate.toml"
    config.write_text(dump_config(default_config()))
    passing = _run([str(ROOT / "scenarios" / "smoke")], config, base / "runs")
    wrong = base / "wrongsuite"
    wrong.mkdir()
    (wrong / "promo_wrong_expectation.toml").write_text(FAILING)
    failing = _run([str(wrong)], config, base / "runs_failing")
    return {"base": base, "config": config, "passing": passing, "failing": failing}


def test_matching_passing_evidence_writes_a_record(evidence, tmp_path):
    record = promote(evidence["config"], evidence["passing"], suites=["smoke"], records_dir=tmp_path,
                     now_utc="2026-11-25T00:00:00Z", code_version="test")
    data = json.loads(record.path.read_text())
    assert record.path == tmp_path / f"{default_config().config_id}.json"
    assert data["config_id"] == default_config().config_id
    assert data["suites"]["smoke"]["verdicts"] == {"PASS": data["suites"]["smoke"]["runs"]} and data["suites"]["smoke"]["scenarios"] == 3
    assert data["evidence"]["code_version"]
    config, found = require_promotion(evidence["config"], records_dir=tmp_path)
    assert found.config_id == config.config_id


def test_a_different_config_is_refused_and_the_difference_named(evidence, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(dump_config(apply_overrides(default_config(), {"layers": {"esof": {"weight": 0.5}}}, "t")))
    with pytest.raises(PromotionError, match="the evidence ran config .* not this config"):
        promote(other, evidence["passing"], suites=["smoke"], records_dir=tmp_path, now_utc="x", code_version="t")
    assert not list(tmp_path.glob("*.json"))


def test_a_failing_scenario_blocks_promotion_by_name(evidence, tmp_path):
    with pytest.raises(PromotionError, match="promo_wrong_expectation seed 1 is EXPECTATION.*nor replay"):
        promote(evidence["config"], evidence["failing"], suites=["wrongsuite"], records_dir=tmp_path,
                now_utc="x", code_version="t")


def test_a_required_suite_missing_from_the_evidence_blocks(evidence, tmp_path):
    with pytest.raises(PromotionError, match="required suite 'default' is not in the evidence"):
        promote(evidence["config"], evidence["passing"], suites=["default"], records_dir=tmp_path,
                now_utc="x", code_version="t")


def test_tampered_traces_block(evidence, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(evidence["passing"], copy)
    decisions = next(copy.glob("*/*/decisions.arrow"))
    decisions.write_bytes(decisions.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(PromotionError, match="differ from those the manifest recorded"):
        promote(evidence["config"], copy, suites=["smoke"], records_dir=tmp_path / "rec", now_utc="x",
                code_version="t")


def test_paper_gate_refuses_unpromoted_and_changed_configs(evidence, tmp_path):
    config = tmp_path / "cfg.toml"
    shutil.copy(evidence["config"], config)
    with pytest.raises(PromotionError, match="has no promotion record"):
        require_promotion(config, records_dir=tmp_path / "rec")
    promote(config, evidence["passing"], suites=["smoke"], records_dir=tmp_path / "rec", now_utc="x",
            code_version="t")
    require_promotion(config, records_dir=tmp_path / "rec")
    config.write_text(config.read_text().replace("weight = 1.0", "weight = 0.9", 1))
    with pytest.raises(PromotionError, match="changed since it was promoted"):
        require_promotion(config, records_dir=tmp_path / "rec")


def test_not_a_run_directory_or_not_a_config(evidence, tmp_path):
    with pytest.raises(PromotionError, match="no manifest: expected a run directory"):
        promote(evidence["config"], tmp_path, records_dir=tmp_path, now_utc="x", code_version="t")
    scenario_file = ROOT / "scenarios" / "smoke" / "smoke_mc_stale.toml"
    with pytest.raises(ConfigError, match="smoke_mc_stale.toml: description: expected one of the keys"):
        promote(scenario_file, evidence["passing"], records_dir=tmp_path, now_utc="x", code_version="t")


def test_a_partial_builtin_suite_is_not_evidence(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(dump_config(default_config()))
    run = _run([str(ROOT / "scenarios" / "smoke" / "smoke_mc_stale.toml"),
                str(ROOT / "scenarios" / "smoke" / "smoke_ob_drop.toml")], config, tmp_path / "runs")
    with pytest.raises(PromotionError, match=r"suite .smoke. is incomplete in the evidence: 1 of its scenarios did not run \(smoke_quorum_lost\)"):
        promote(config, run, suites=["smoke"], records_dir=tmp_path, now_utc="x", code_version="t")


def test_nor_promote_and_nor_paper_through_the_cli(evidence, tmp_path, monkeypatch, capsys):
    from scenarios.cli import main

    config = tmp_path / "cfg.toml"
    shutil.copy(evidence["config"], config)
    records = tmp_path / "rec"
    monkeypatch.setenv("BINANCE_API_KEY", "read-only-key")
    monkeypatch.setenv("BINANCE_API_SECRET", "read-only-secret")
    monkeypatch.setenv("NOR_HZ_MEMBERS", "127.0.0.1:5701")
    paper = ["paper", "--config", str(config), "--records", str(records), "--build-only"]

    assert main(paper) == 1
    assert "paper trading refused" in capsys.readouterr().err

    assert main(["promote", str(config), "--evidence", str(evidence["failing"]), "--suite", "wrongsuite",
                 "--records", str(records)]) == 1
    assert "promo_wrong_expectation seed 1 is EXPECTATION" in capsys.readouterr().err
    assert main(["promote", str(config), "--evidence", str(evidence["passing"]), "--suite", "smoke",
                 "--records", str(records)]) == 0
    assert "promoted survival-default" in capsys.readouterr().out

    assert main(paper) == 0
    out = capsys.readouterr().out
    assert "built TradingNode NOR-PAPER-001 with sandbox execution on BTCUSDT.BINANCE" in out

    monkeypatch.delenv("BINANCE_API_SECRET")
    assert main(paper) == 0, "--build-only needs no credentials (it builds, it does not connect)"
    capsys.readouterr()
    assert main(paper[:-1]) == 2   # connecting does: refused before anything connects
    assert "BINANCE_API_SECRET must be set" in capsys.readouterr().err

    config.write_text(config.read_text().replace("min_dwell_s = 30.0", "min_dwell_s = 45.0", 1))
    assert main(paper) == 1
    assert "changed since it was promoted" in capsys.readouterr().err


def test_a_look_alike_of_a_builtin_suite_is_not_evidence(evidence, tmp_path):
    fake = tmp_path / "smoke"  # same suite name, same scenario names, no faults and no expectations
    fake.mkdir()
    for name in ("smoke_mc_stale", "smoke_ob_drop", "smoke_quorum_lost"):
        (fake / f"{name}.toml").write_text(f'name = "{name}"\ndescription = "look-alike"\nduration = "2m"\n'
                                           f'seeds = 1\ncompanions = []\n')
    run = _run([str(fake)], evidence["config"], tmp_path / "runs")
    with pytest.raises(PromotionError, match="is not the built-in scenarios/smoke/ file"):
        promote(evidence["config"], run, suites=["smoke"], records_dir=tmp_path / "rec", now_utc="x",
                code_version="t")


def test_a_scenario_without_runs_is_not_evidence(evidence, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(evidence["passing"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["scenarios"][0]["runs"] = None
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PromotionError, match="has no runs in the evidence"):
        promote(evidence["config"], copy, suites=["smoke"], records_dir=tmp_path / "rec", now_utc="x",
                code_version="t")


def test_an_invalid_config_is_invalid_input_for_promote_and_paper(tmp_path, capsys):
    from scenarios.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n")
    assert main(["promote", str(bad), "--evidence", str(tmp_path)]) == 2
    assert "bad.toml: name: expected a non-empty string" in capsys.readouterr().err
    assert main(["paper", "--config", str(bad), "--build-only"]) == 2
    assert "bad.toml: name: expected a non-empty string" in capsys.readouterr().err
