"""Design ceilings (design §2.4): a config file beyond the posture limits, or without the four invariant layers,
is invalid input named by field; the built-in baselines are not files and keep loading."""

from __future__ import annotations

import re

import pytest

from controller import ConfigError, apply_overrides, check_design_limits, default_config, dump_config, load_config
from controller.baselines import seed_template_config, static_ladder_config, uncontrolled_config
from controller.registry import resolve_config


def _file(tmp_path, config):
    path = tmp_path / "c.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("posture, value, expected", [
    ("apex", 8.0, "<= 6 (the design's APEX ceiling)"), ("stalker", 2.5, "<= 2 (the design's STALKER ceiling)"),
    ("turtle", 1.5, "<= 1 (the design's TURTLE ceiling)"), ("hibernate", 0.5, "0 (HIBERNATE makes no entries)"),
])
def test_leverage_beyond_a_posture_ceiling_is_named(tmp_path, posture, value, expected):
    cfg = apply_overrides(default_config(), {"postures": {posture: {"max_leverage": value}}}, "test")
    message = f"c.toml: postures.{posture}.max_leverage: expected {expected}, got {value}"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_file(tmp_path, cfg))


def test_the_ceilings_themselves_are_allowed(tmp_path):
    assert load_config(_file(tmp_path, default_config())) == default_config()   # 6x, 2x, 1x, 0x


@pytest.mark.parametrize("layer, signal", [("hz_quorum", "hz.quorum"), ("ledger", "ledger.consistent"),
                                           ("data_integrity", "data.checksum_ok"), ("keepalive", "heartbeat.age_s")])
def test_each_invariant_layer_is_mandatory(tmp_path, layer, signal):
    data = default_config().to_dict()
    data["layers"] = [ly for ly in data["layers"] if ly["name"] != layer]
    path = tmp_path / "c.toml"
    path.write_text(dump_config(type(default_config()).from_mapping(data, "test")), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"c.toml: layers: expected the invariant layer '{layer}': a layer of "
                                          rf"category 'invariant' reading {signal}"):
        load_config(path)


def test_an_invariant_signal_read_by_a_non_invariant_layer_does_not_count(tmp_path):
    data = default_config().to_dict()
    for ly in data["layers"]:
        if ly["name"] == "ledger":
            ly["category"] = "ladder"
            ly["inputs"] = [{"signal": "ledger.consistent", "transform": "step", "max": 0.0, "value": 1.0}]
    path = tmp_path / "c.toml"
    path.write_text(dump_config(type(default_config()).from_mapping(data, "test")), encoding="utf-8")
    with pytest.raises(ConfigError, match="expected the invariant layer 'ledger'"):
        load_config(path)


def test_the_builtin_baselines_still_load_and_only_the_static_ladder_is_within_the_limits():
    for name in ("survival", "static_ladder", "seed_template", "uncontrolled"):
        assert resolve_config(name).layers
    check_design_limits(static_ladder_config(), "static_ladder")       # one invariant layer with all four inputs
    for baseline in (seed_template_config(), uncontrolled_config()):
        with pytest.raises(ConfigError, match="layers: expected the invariant layer"):
            check_design_limits(baseline, baseline.name)


def test_a_keepalive_laxer_than_the_design_is_named(tmp_path):
    """A keepalive of 1e6 s is the invariant removed in all but name: bounded by the spec's 10 s, the age the
    always-on safety check judges by."""
    from controller.config import DESIGN_MAX_KEEPALIVE_S
    from scenarios.checks import SafetyPolicy

    assert DESIGN_MAX_KEEPALIVE_S == SafetyPolicy().keepalive_max_age_s == 10.0
    data = default_config().to_dict()
    i = next(k for k, ly in enumerate(data["layers"]) if ly["name"] == "keepalive")
    for value in (1e6, 10.5):
        data["layers"][i]["inputs"][0]["max"] = value
        path = tmp_path / "c.toml"
        path.write_text(dump_config(type(default_config()).from_mapping(data, "test")), encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(f"c.toml: layers[{i}].inputs[0].max: expected <= 10 (seconds: "
                                                        f"the design's keepalive; an older heartbeat is a broken "
                                                        f"invariant), got {value}")):
            load_config(path)
    data["layers"][i]["inputs"][0]["max"] = 3.0                     # stricter than the design: allowed
    path.write_text(dump_config(type(default_config()).from_mapping(data, "test")), encoding="utf-8")
    assert load_config(path).layer("keepalive").inputs[0].param("max") == 3.0
