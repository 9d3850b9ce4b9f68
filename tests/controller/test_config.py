"""Config files: validation with precise messages, round-trip, overrides, plug-in categories."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller import (Category, ConfigError, NOMINAL_SIGNALS, SurvivalController, apply_overrides, default_config,
                        dump_config, load_config, register_category)
from controller.defaults import DEFAULT_CONFIG_DATA


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ctl.toml"
    path.write_text(text)
    return path


def test_default_config_round_trips_through_toml(tmp_path):
    cfg = default_config()
    path = write(tmp_path, dump_config(cfg))
    again = load_config(path)
    assert again == cfg
    assert again.config_id == cfg.config_id
    assert load_config(write(tmp_path, dump_config(again))).config_id == cfg.config_id


@given(half_life=st.floats(1.0, 1e5), floor=st.floats(0.0, 1.0), enter=st.floats(0.86, 1.0),
       rate=st.floats(1e-4, 10.0))
def test_round_trip_keeps_the_config_id(tmp_path_factory, half_life, floor, enter, rate):
    cfg = apply_overrides(default_config(), {
        "postures": {"apex": {"enter": enter}},
        "layers": {"mc_forewarner": {"recovery_per_min": rate,
                                     "inputs": {"mc_forewarner.age_s": {"half_life": half_life, "floor": floor}}}},
    }, source="test")
    path = tmp_path_factory.mktemp("rt") / "c.toml"
    path.write_text(dump_config(cfg))
    assert load_config(path).config_id == cfg.config_id


def test_config_id_changes_with_content():
    cfg = default_config()
    other = apply_overrides(cfg, {"layers": {"esof": {"weight": 0.5}}}, source="test")
    assert other.config_id != cfg.config_id
    assert len(cfg.config_id) == 64


@pytest.mark.parametrize("mutate, path, expected", [
    (lambda t: t.replace("half_life = 1000.0", "half_life = -5.0"), "layers[4].inputs[0].half_life", "a number > 0"),
    (lambda t: t.replace('category = "structural"', 'category = "astrology"', 1), "layers[4].category", "one of"),
    (lambda t: t.replace("enter = 0.92", "enter = 0.80"), "postures.apex", "leave < enter"),
    (lambda t: t.replace("floor = 0.1\n", "floor = 0.1\nflour = 2\n", 1), "layers[4].inputs[0].flour", "unknown key"),
    (lambda t: t.replace('transform = "decay"', 'transform = "flag"', 1), "layers[4].inputs[0].transform", "one of decay"),
    (lambda t: t.replace("weight = 1.0", 'weight = "heavy"', 1), "layers[0].weight", "a finite number"),
    (lambda t: t + "\n[extra]\nx = 1\n", "extra", "unknown key"),
    (lambda t: t.replace("[postures.apex]", "[postures.apex\n"), "(syntax)", "valid TOML"),
])
def test_invalid_files_name_file_field_and_expectation(tmp_path, mutate, path, expected):
    bad = write(tmp_path, mutate(dump_config(default_config())))
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    message = str(err.value)
    assert str(bad) in message and path in message and expected in message, message
    assert err.value.path == path


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"TOML file \(it does not exist\)"):
        load_config(tmp_path / "nope.toml")


def test_a_new_layer_of_an_existing_category_is_config_only():
    cfg = apply_overrides(default_config(), {"layers": {"funding": {
        "category": "environmental",
        "inputs": [{"signal": "exf.funding_age_s", "transform": "decay", "deadband": 900.0, "half_life": 3600.0,
                    "floor": 0.8}]}}}, source="test")
    ctl = SurvivalController(cfg)
    assert "exf.funding_age_s" in ctl.signal_names
    d = ctl.step(0.0, dict(NOMINAL_SIGNALS, **{"exf.funding_age_s": 900.0 + 3600.0}))
    assert d.layers["funding"] == pytest.approx(0.9)


def test_a_new_category_is_one_registered_class():
    @register_category
    class Liquidity(Category):
        name = "test_liquidity"
        transforms = ("decay",)
        recovery_per_min = 0.5

    data = dict(DEFAULT_CONFIG_DATA, layers=DEFAULT_CONFIG_DATA["layers"] + [{
        "name": "venue_liquidity", "category": "test_liquidity",
        "inputs": [{"signal": "venue.spread_bps", "transform": "decay", "deadband": 5.0, "half_life": 5.0}]}])
    from controller import ControllerConfig
    cfg = ControllerConfig.from_mapping(data, source="test")
    assert cfg.layer("venue_liquidity").recovery_per_min == 0.5
    d = SurvivalController(cfg).step(0.0, dict(NOMINAL_SIGNALS, **{"venue.spread_bps": 10.0}))
    assert d.layers["venue_liquidity"] == pytest.approx(0.5)


def test_override_errors_name_the_field():
    with pytest.raises(ConfigError, match="layers.mc_forewarner.inputs.nope"):
        apply_overrides(default_config(), {"layers": {"mc_forewarner": {"inputs": {"nope": {"x": 1}}}}}, source="s.toml")
    with pytest.raises(ConfigError, match="s.toml: layers\\[4\\].recovery_per_min"):
        apply_overrides(default_config(), {"layers": {"mc_forewarner": {"recovery_per_min": 0}}}, source="s.toml")
