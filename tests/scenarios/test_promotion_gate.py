"""nor paper's gate and nor promote's command line: signed records, trusted keys, code binding, where records
live, hostile record and manifest files, and the --suite / --init-key / design-ceiling paths."""

from __future__ import annotations

import json
import shutil

import pytest

from scenarios.cli import main
from scenarios.codestate import code_state
from scenarios.promotion import PromotionError, require_promotion
from scenarios.record import RECORD_FORMAT, RecordInvalid, read_record
from tests.scenarios.promotion_kit import TINY, Keys, clean_copy, config_file, copy_run, edit_manifest, promote_with, \
    run, suite


@pytest.fixture(scope="module")
def promoted(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("gate")
    code = code_state(clean_copy(base / "src"))
    keys = Keys(base / "xdg")
    cfg = config_file(base / "cfg" / "my.toml")
    tiny = suite(base / "tiny", promo_tiny=TINY)
    evidence = run([tiny], cfg, base / "runs", code)
    result = promote_with(keys, code, cfg, evidence, [str(tiny)], base / "cfg" / "promotions")
    return {"base": base, "code": code, "keys": keys, "cfg": cfg, "tiny": tiny, "evidence": evidence,
            "record": result.record.path}


@pytest.fixture()
def env(promoted, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(promoted["base"] / "xdg"))
    monkeypatch.setenv("BINANCE_API_KEY", "read-only-key")
    monkeypatch.setenv("BINANCE_API_SECRET", "read-only-secret")
    monkeypatch.setenv("NOR_HZ_MEMBERS", "127.0.0.1:5701")
    return monkeypatch


def _gate(promoted, config=None, records=None, code=None):
    keys = promoted["keys"]
    return require_promotion(config or promoted["cfg"], trusted=keys.trusted, trusted_file=keys.trusted_file,
                             code=code or code_state(), records_dir=records)


def _records_with(promoted, tmp_path, data) -> tuple:
    """A copy of the config with a records directory beside it holding ``data`` as its record."""
    cfg = tmp_path / "my.toml"
    shutil.copy(promoted["cfg"], cfg)
    path = tmp_path / "promotions" / promoted["record"].name
    path.parent.mkdir()
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return cfg, path


def test_the_honest_path_records_beside_the_config_not_the_working_directory(promoted, env, tmp_path, capsys):
    env.chdir(tmp_path)
    assert main(["paper", "--config", str(promoted["cfg"]), "--build-only"]) == 0
    assert "built TradingNode NOR-PAPER-001 with sandbox execution on BTCUSDT.BINANCE" in capsys.readouterr().out
    elsewhere = tmp_path / "other" / "my.toml"
    elsewhere.parent.mkdir()
    shutil.copy(promoted["cfg"], elsewhere)
    shutil.copytree(promoted["cfg"].parent / "promotions", tmp_path / "promotions")  # in the CWD: not looked at
    assert main(["paper", "--config", str(elsewhere), "--build-only"]) == 1
    assert f"has no promotion record in {elsewhere.parent / 'promotions'}" in capsys.readouterr().err
    assert main(["paper", "--config", str(elsewhere), "--records", str(tmp_path / "promotions"), "--build-only"]) == 0


def test_a_hand_written_record_is_refused(promoted, env, tmp_path, capsys):
    cfg, _ = _records_with(promoted, tmp_path, {"format": RECORD_FORMAT, "config_id": promoted["record"].stem,
                                                "config_name": "x", "promoted_utc": "x", "config": {}, "suites": {},
                                                "evidence": {"run_id": "x"}, "code": {"sha256": "x", "files": {}}})
    assert main(["paper", "--config", str(cfg), "--build-only"]) == 1
    assert "the record is not signed (hand-written" in capsys.readouterr().err


def test_an_edited_record_is_refused(promoted, env, tmp_path, capsys):
    data = json.loads(promoted["record"].read_text())
    data["config"]["layers"] = [ly for ly in data["config"]["layers"] if ly["name"] != "mc_forewarner"]
    cfg, _ = _records_with(promoted, tmp_path, data)
    assert main(["paper", "--config", str(cfg), "--build-only"]) == 1
    assert "the signature does not verify: the record was edited after it was signed" in capsys.readouterr().err


def test_a_record_signed_by_an_unknown_key_is_refused(promoted, env, tmp_path, capsys):
    stranger = Keys(tmp_path / "stranger")
    records = tmp_path / "records"
    promote_with(stranger, promoted["code"], promoted["cfg"], promoted["evidence"], [str(promoted["tiny"])], records)
    assert main(["paper", "--config", str(promoted["cfg"]), "--records", str(records), "--build-only"]) == 1
    err = capsys.readouterr().err
    assert f"signed by key {stranger.key.public.key_id}" in err and "which is not trusted" in err


def test_code_changed_after_promotion_is_refused_naming_the_file(promoted, tmp_path):
    later = clean_copy(tmp_path / "src")
    survival = later / "controller" / "survival.py"
    survival.write_text(survival.read_text().replace("def step(", "def step(  # ignores hz.quorum\n        ", 1))
    with pytest.raises(PromotionError, match=r"the code changed since promotion .*: changed controller/survival.py: "
                                             r"re-run the suites"):
        _gate(promoted, code=code_state(later))
    assert _gate(promoted, code=code_state(clean_copy(tmp_path / "same")))[1].path == promoted["record"]


def test_a_changed_config_is_refused(promoted, env, tmp_path, capsys):
    cfg = promoted["cfg"].parent / "changed.toml"
    cfg.write_text(promoted["cfg"].read_text().replace("min_dwell_s = 30.0", "min_dwell_s = 45.0", 1))
    assert main(["paper", "--config", str(cfg), "--records", str(promoted["record"].parent), "--build-only"]) == 1
    assert "has no promotion record" in capsys.readouterr().err


@pytest.mark.parametrize("content, field", [
    (b"[]", "(top level): expected a JSON object"), (b'"x"', "(top level): expected a JSON object"),
    (b"null", "(top level): expected a JSON object"), (b"\xff\xfe{}", "not UTF-8"), (b"{", "not valid JSON"),
    (json.dumps({"format": RECORD_FORMAT, "config_id": 5}).encode(), "config_id: expected a config id"),
    (json.dumps({"format": RECORD_FORMAT, "config_id": "0" * 64, "config_name": "x", "promoted_utc": "x",
                 "config": {}, "suites": [], "evidence": {}, "code": {}}).encode(), "suites: expected the suites"),
])
def test_a_record_that_is_not_one_is_invalid_input_naming_the_file(promoted, env, tmp_path, capsys, content, field):
    cfg, path = _records_with(promoted, tmp_path, content)
    assert main(["paper", "--config", str(cfg), "--build-only"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}" in err or (str(path) in err and field in err), err


def test_junk_beside_the_records_does_not_get_in_the_way(promoted, tmp_path):
    records = tmp_path / "promotions"
    shutil.copytree(promoted["record"].parent, records)
    for name, junk in (("junk.json", b"[]"), ("bytes.json", b"\xff"), ("null.json", b"null")):
        (records / name).write_bytes(junk)
    assert _gate(promoted, records=records)[1].config_id == promoted["record"].stem
    other = config_file(tmp_path / "other.toml", overrides={"layers": {"esof": {"weight": 0.5}}})
    with pytest.raises(PromotionError, match="has no promotion record"):
        _gate(promoted, config=other, records=records)
    with pytest.raises(RecordInvalid, match="junk.json: .top level.: expected a JSON object"):
        read_record(records / "junk.json")


def test_no_trusted_keys_is_invalid_input(promoted, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["paper", "--config", str(promoted["cfg"]), "--build-only"]) == 2
    assert f"{tmp_path / 'dolphin-nor' / 'trusted_keys'}: no trusted promotion keys" in capsys.readouterr().err


def test_init_key_makes_a_key_once_and_trusts_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NOR_PROMOTION_KEY_FILE", str(tmp_path / "ci" / "key.pem"))
    monkeypatch.setenv("NOR_PROMOTION_TRUSTED_KEYS", str(tmp_path / "trusted"))
    assert main(["promote", "--init-key"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "ci" / "key.pem").stat().st_mode & 0o777 == 0o600
    public = (tmp_path / "trusted").read_text().split()[0]
    assert public.startswith("ed25519:") and public in out
    assert main(["promote", "--init-key"]) == 2
    assert "already exists (not overwritten)" in capsys.readouterr().err


def test_suite_adds_to_the_default_suite_never_replaces_it(promoted, env, capsys):
    assert main(["promote", str(promoted["cfg"]), "--evidence", str(promoted["evidence"]), "--suite",
                 str(promoted["tiny"]), "--records", str(promoted["base"] / "r2")]) == 1
    err = capsys.readouterr().err
    assert "promotion refused" in err and "suite 'default': scenario" in err and "did not run in the evidence" in err
    assert main(["promote", str(promoted["cfg"]), "--evidence", str(promoted["evidence"]), "--suite", "nosuch"]) == 2
    assert "--suite nosuch: expected a built-in suite (default, smoke) or a directory" in capsys.readouterr().err


@pytest.mark.parametrize("edit, field", [
    (lambda m: m.update(scenarios="x"), "scenarios: expected a JSON array"),
    (lambda m: m.update(scenarios=[5]), "scenarios[0]: expected a JSON object"),
    (lambda m: m.update(controller=5), "controller: expected a JSON object"),
    (lambda m: m["scenarios"][0].update(runs=["x"]), "scenarios[0].runs[0]: expected a JSON object"),
    (lambda m: m.update(code={"sha256": 5, "files": {}}), "code.sha256: expected a string"),
])
def test_a_malformed_manifest_is_invalid_input(promoted, env, tmp_path, capsys, edit, field):
    evidence = copy_run(promoted["evidence"], tmp_path / "run")
    edit_manifest(evidence, edit)
    assert main(["promote", str(promoted["cfg"]), "--evidence", str(evidence)]) == 2
    assert f"manifest.json: {field}" in capsys.readouterr().err


def test_a_config_beyond_the_design_ceilings_is_invalid_input(promoted, env, tmp_path, capsys):
    apex8 = config_file(tmp_path / "apex8.toml", overrides={"postures": {"apex": {"max_leverage": 8.0}}})
    assert main(["promote", str(apex8), "--evidence", str(promoted["evidence"])]) == 2
    assert "apex8.toml: postures.apex.max_leverage: expected <= 6 (the design's APEX ceiling), got 8.0" in \
        capsys.readouterr().err
    assert main(["paper", "--config", str(apex8), "--build-only"]) == 2
    assert "postures.apex.max_leverage" in capsys.readouterr().err
    assert main(["run", str(promoted["tiny"]), "--controller", str(apex8), "--out", str(tmp_path / "r")]) == 2
    assert "postures.apex.max_leverage" in capsys.readouterr().err
