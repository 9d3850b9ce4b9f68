"""nor promote: evidence is re-derived from the traces, never read from the manifest, and every bypass is refused
with the one thing that blocks it named. Short suites only (a 10-minute scenario at two seeds, a 5-minute one)."""

from __future__ import annotations

import hashlib
import json

import numba
import pyarrow as pa
import pytest

from scenarios.case import trace_sha256
from traceio import TraceMeta, read_meta, read_table, write_table
from scenarios.codestate import code_state
from scenarios.promotion import PromotionError, require_promotion
from scenarios.record import RECORD_FORMAT
from tests.scenarios.promotion_kit import (FAILING, ROOT, TINY, Keys, clean_copy, config_file, copy_run,
                                           edit_manifest, promote_with, run, suite)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("promotion")
    code = code_state(clean_copy(base / "src"))
    assert code.dirty == () and code.sha256 == code_state().sha256
    cfg = config_file(base / "cfg" / "my.toml")
    tiny = suite(base / "tiny", promo_tiny=TINY)
    wrong = suite(base / "wrongsuite", promo_wrong_expectation=FAILING)
    return {"base": base, "code": code, "keys": Keys(base / "xdg"), "cfg": cfg, "tiny": tiny, "wrong": wrong,
            "passing": run([tiny], cfg, base / "runs", code), "failing": run([wrong], cfg, base / "runs_f", code)}


def _promote(world, evidence, tmp_path, suites=None, config=None, **kw):
    return promote_with(world["keys"], world["code"], config or world["cfg"], evidence,
                        suites if suites is not None else [str(world["tiny"])], tmp_path / "records", **kw)


def test_honest_evidence_is_promoted_and_the_record_binds_it(world, tmp_path):
    said: list[str] = []
    threads = numba.get_num_threads()
    result = _promote(world, world["passing"], tmp_path, say=said.append)
    assert numba.get_num_threads() == threads      # the re-judging ran on one thread, then gave the pool back
    data = json.loads(result.record.path.read_text())
    manifest_sha = hashlib.sha256((world["passing"] / "manifest.json").read_bytes()).hexdigest()
    assert data["format"] == RECORD_FORMAT and data["evidence"]["manifest_sha256"] == manifest_sha
    assert data["suites"]["tiny"]["scenarios"]["promo_tiny"]["seeds"] == [1, 2]
    case = world["passing"] / "scenario=promo_tiny" / "seed=1" / "decisions.parquet"
    digest = hashlib.sha256(case.read_bytes()).hexdigest()
    assert data["evidence"]["traces"]["scenario=promo_tiny/seed=1/decisions.parquet"] == digest
    assert data["evidence"]["traces"]["scenario=promo_tiny/seed=2/checks.parquet"]
    assert data["replay"]["seed"] == 7 and len(data["replay"]["cases"]) == 1 and result.replayed == 1
    assert data["code"]["sha256"] == world["code"].sha256 and "controller/survival.py" in data["code"]["files"]
    assert data["code"]["files"][".ci/constraints.txt"]
    assert data["signature"]["public_key"] == world["keys"].key.public.text
    assert any(line.startswith("replay      seed 7: 1 cases byte-identical") for line in said), said
    assert any(line.startswith("evidence") and manifest_sha in line for line in said)
    config, record = require_promotion(world["cfg"], trusted=world["keys"].trusted,
                                       trusted_file=world["keys"].trusted_file, code=code_state(),
                                       records_dir=tmp_path / "records")
    assert record.config_id == config.config_id


def test_a_failing_scenario_blocks_by_name(world, tmp_path):
    with pytest.raises(PromotionError, match=r"promo_wrong_expectation seed 1: check posture_never \(expectation\) "
                                             r"fails on its traces .*nor replay"):
        _promote(world, world["failing"], tmp_path, suites=[str(world["wrong"])])
    assert not (tmp_path / "records").exists()


def test_a_flipped_manifest_verdict_is_not_read(world, tmp_path):
    evidence = copy_run(world["failing"], tmp_path / "run")

    def flip(m: dict) -> None:
        m["scenarios"][0]["runs"][0].update(verdict="PASS", failures=[])
        m["verdicts"] = {"PASS": 1, "SAFETY": 0, "LIVENESS": 0, "EXPECTATION": 0, "ERROR": 0}

    edit_manifest(evidence, flip)
    with pytest.raises(PromotionError, match=r"check posture_never \(expectation\) fails on its traces"):
        _promote(world, evidence, tmp_path, suites=[str(world["wrong"])])


def _rewrite_checks(case_dir, change) -> None:
    path = case_dir / "checks.parquet"
    original, meta = read_table(path), read_meta(path)      # rewritten with the same schema and metadata
    table = original.to_pydict()
    change(table)
    write_table(path, pa.table(table, schema=original.schema), TraceMeta(meta["scenario"], meta["seed"]))


def test_rewritten_checks_with_recomputed_hashes_are_re_derived(world, tmp_path):
    evidence = copy_run(world["failing"], tmp_path / "run")
    case = evidence / "scenario=promo_wrong_expectation" / "seed=1"
    _rewrite_checks(case, lambda t: t.update(ok=[True] * len(t["ok"])))

    def recompute(m: dict) -> None:
        m["scenarios"][0]["runs"][0].update(verdict="PASS", failures=[], trace_sha256=trace_sha256(case))

    edit_manifest(evidence, recompute)
    with pytest.raises(PromotionError, match=r"check posture_never \(expectation\) fails on its traces"):
        _promote(world, evidence, tmp_path, suites=[str(world["wrong"])])


def test_a_passing_checks_file_that_is_not_the_checks_output_is_refused(world, tmp_path):
    evidence = copy_run(world["passing"], tmp_path / "run")
    case = evidence / "scenario=promo_tiny" / "seed=2"
    _rewrite_checks(case, lambda t: t.update(message=["fine"] * len(t["message"])))
    edit_manifest(evidence, lambda m: m["scenarios"][0]["runs"][1].update(trace_sha256=trace_sha256(case)))
    with pytest.raises(PromotionError, match=r"promo_tiny seed 2: checks.parquet is not what the checks give"):
        _promote(world, evidence, tmp_path)


def test_edited_traces_are_refused(world, tmp_path):
    evidence = copy_run(world["passing"], tmp_path / "run")
    decisions = evidence / "scenario=promo_tiny" / "seed=1" / "decisions.parquet"
    decisions.write_bytes(decisions.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(PromotionError, match="the traces of promo_tiny seed 1 differ from those the manifest recorded"):
        _promote(world, evidence, tmp_path)


def test_a_swapped_config_id_is_caught_in_every_case(world, tmp_path):
    other = config_file(tmp_path / "other.toml", overrides={"postures": {"apex": {"max_leverage": 4.0}}})
    evidence = run([world["tiny"]], other, tmp_path / "runs", world["code"])
    target = json.loads((world["passing"] / "manifest.json").read_text())["controller"]

    def swap(m: dict) -> None:
        m["controller"] = target
        for s in m["scenarios"]:
            s["controller"] = target
            for r in s["runs"]:
                r["config_id"] = target["config_id"]

    edit_manifest(evidence, swap)
    with pytest.raises(PromotionError, match=r"promo_tiny seed 1: the decisions are not what config "
                                             r"184af7573e2f decides on the observed signals \(step 0: .*"
                                             r"max_leverage 4 vs 6\)"):
        _promote(world, evidence, tmp_path)


def test_traces_of_another_world_are_caught_by_the_replay(world, tmp_path):
    """Same scenario name and seeds, same config, a smaller market: the decisions follow the observed signals and
    the checks pass, but the sampled replay of the suite's own file is not byte-identical."""
    other = suite(tmp_path / "tiny", promo_tiny=TINY + "\n[market]\nassets = 20\n")
    evidence = run([other], world["cfg"], tmp_path / "runs", world["code"])
    with pytest.raises(PromotionError, match=r"promo_tiny seed \d: the replay is not byte-identical "
                                             r"\(.*decisions.parquet.*\).*not what this code and config produce"):
        _promote(world, evidence, tmp_path)


def test_evidence_of_another_config_is_refused(world, tmp_path):
    other = config_file(tmp_path / "other.toml", overrides={"layers": {"esof": {"weight": 0.5}}})
    with pytest.raises(PromotionError, match="the evidence ran config .* not this config"):
        _promote(world, world["passing"], tmp_path, config=other)


def test_evidence_from_a_dirty_tree_is_refused_and_so_is_a_manifest_that_hides_it(world, tmp_path):
    dirty = clean_copy(tmp_path / "src")
    safety = dirty / "scenarios" / "checks" / "safety.py"
    safety.write_text(safety.read_text() + "\nSAFETY_CHECKS = ()  # every safety check disabled\n")
    evidence = run([world["tiny"]], world["cfg"], tmp_path / "runs", code_state(dirty))
    with pytest.raises(PromotionError, match=r"evidence from a dirty tree: 1 uncommitted change\(s\) "
                                             r"\(scenarios/checks/safety.py\)"):
        _promote(world, evidence, tmp_path)
    edit_manifest(evidence, lambda m: m["code"].update(dirty=[]))
    with pytest.raises(PromotionError, match=r"the evidence ran other code than this .*changed scenarios/checks/safety.py"):
        _promote(world, evidence, tmp_path)


def test_every_declared_seed_is_required(world, tmp_path):
    evidence = run([world["tiny"]], world["cfg"], tmp_path / "runs", world["code"], seed_list=(3,))
    with pytest.raises(PromotionError, match=r"scenario promo_tiny did not run at seed 1 \(its file declares seeds "
                                             r"1, 2; the evidence has 3\)"):
        _promote(world, evidence, tmp_path)


def test_a_look_alike_of_a_builtin_suite_is_judged_by_the_builtin_files(world, tmp_path):
    fake = tmp_path / "smoke"  # same suite name, same scenario names, no faults and no expectations
    for name in ("smoke_mc_stale", "smoke_ob_drop", "smoke_quorum_lost"):
        suite(fake, **{name: f'name = "{name}"\ndescription = "look-alike"\nduration = "2m"\nseeds = 1\n'
                             f'companions = []\n'})
    evidence = run([fake], world["cfg"], tmp_path / "runs", world["code"])
    with pytest.raises(PromotionError, match=r"smoke_\w+ seed 1: (check \w+ .* fails on its traces|its traces cannot "
                                             r"be judged)"):
        _promote(world, evidence, tmp_path, suites=["smoke"])


def test_a_partial_suite_is_not_evidence(world, tmp_path):
    evidence = run([ROOT / "scenarios" / "smoke" / "smoke_quorum_lost.toml"], world["cfg"], tmp_path / "runs",
                   world["code"])
    with pytest.raises(PromotionError, match=r"suite 'smoke': scenario smoke_mc_stale did not run in the evidence "
                                             r"\(2 of the suite's scenarios did not: smoke_mc_stale, smoke_ob_drop\)"):
        _promote(world, evidence, tmp_path, suites=["smoke"])
