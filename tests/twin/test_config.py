"""WorldConfig: defaults, strict validation of mappings, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from twin import LINK_NAMES, TwinConfigError, WorldConfig, parse_duration_s


def test_defaults_are_the_realistic_world() -> None:
    cfg = WorldConfig()
    assert cfg.market.assets == 50 and cfg.cluster.members == 3 and cfg.cluster.partitions == 271
    assert cfg.cluster.backup_count == 1 and cfg.cluster.effective_quorum == 2
    assert cfg.sensors.scan_short_window == 50 and cfg.sensors.scan_long_window == 750
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.market.assets = 3  # type: ignore[misc]


def test_from_mapping_reads_sections_durations_and_link_overrides() -> None:
    cfg = WorldConfig.from_mapping({
        "market": {"assets": 400, "regime": "mixed"},
        "cluster": {"members": 5, "detection_delay_s": "1m30s"},
        "network": {"latency_ms": 3, "links": {"cluster<->agent": {"latency_ms": 50, "loss_ratio": 0.1}}},
        "agent": {"flatten_on_hibernate": True},
    }, source="s.toml")
    assert cfg.market.assets == 400 and cfg.market.regime == "mixed"
    assert cfg.cluster.detection_delay_s == 90.0 and cfg.cluster.effective_quorum == 3
    assert cfg.network.link("cluster<->agent").latency_ms == 50.0
    assert cfg.network.link("cluster<->agent").loss_ratio == 0.1
    assert cfg.network.link("cluster<->agent").jitter_ms == 0.3          # not overridden: network default
    assert cfg.network.link("agent<->exchange").latency_ms == 3.0
    feed = WorldConfig.from_mapping({"network": {"links": {"exchange->sensor.ob": {"loss_ratio": 0.5}}}})
    assert feed.network.link("exchange->sensor.ob").latency_ms == 35.0   # the feed's own default kept
    assert cfg.agent.flatten_on_hibernate is True
    assert WorldConfig.from_mapping({}) == WorldConfig()


@pytest.mark.parametrize("data, field, expected", [
    ({"market": {"assets": "many"}}, "market.assets", "an integer"),
    ({"market": {"assets": True}}, "market.assets", "an integer"),
    ({"market": {"assets": 1}}, "market.assets", "in [2, 1000]"),
    ({"market": {"regime": "boom"}}, "market.regime", "one of calm, trending, crash, mixed"),
    ({"market": {"asets": 3}}, "market.asets", "a known key"),
    ({"markets": {}}, "markets", "one of the sections"),
    ({"cluster": {"detection_delay_s": "soon"}}, "cluster.detection_delay_s", "duration"),
    ({"cluster": {"migration_s": float("nan")}}, "cluster.migration_s", "a number"),
    ({"cluster": {"fetch_member_list_s": -1}}, "cluster.fetch_member_list_s", "[0, 3600]"),
    # a zero backoff would retry a disconnected client forever at one instant
    ({"cluster": {"client_retry_initial_backoff_s": 0}}, "cluster.client_retry_initial_backoff_s", "[0.001, 3600]"),
    # a zero service tick would replace a disconnected client at one instant forever
    ({"cluster": {"client_probe_interval_s": 0}}, "cluster.client_probe_interval_s", "[0.01, 3600]"),
    ({"cluster": {"client_connection_timeout_s": -1}}, "cluster.client_connection_timeout_s", "[0, 3600]"),
    ({"cluster": {"client_reconnect_bound_s": "soon"}}, "cluster.client_reconnect_bound_s", "duration"),
    ({"cluster": {"members": 3, "quorum_size": 4}}, "cluster.quorum_size", "at most cluster.members"),
    ({"sensors": {"scan_short_window": 100, "scan_long_window": 60}}, "sensors.scan_long_window", ">="),
    ({"network": {"links": {"nowhere": {}}}}, "network.links.nowhere", "a link name"),
    ({"network": {"links": {"cluster<->agent": {"loss_ratio": 2}}}}, "network.links.\"cluster<->agent\".loss_ratio",
     "in [0, 1]"),
    ({"agent": {"flatten_on_hibernate": 1}}, "agent.flatten_on_hibernate", "true or false"),
    ({"exchange": []}, "exchange", "a table"),
])
def test_bad_values_name_source_field_and_expectation(data: dict, field: str, expected: str) -> None:
    with pytest.raises(TwinConfigError) as info:
        WorldConfig.from_mapping(data, source="scenarios/x.toml")
    err = info.value
    assert err.source == "scenarios/x.toml" and err.field == field
    assert expected in str(err) and str(err).startswith("scenarios/x.toml: " + field)


def test_durations() -> None:
    assert parse_duration_s("90s") == 90.0 and parse_duration_s("2h") == 7200.0
    assert parse_duration_s("1h1m") == 3660.0 and parse_duration_s("250ms") == 0.25
    assert parse_duration_s("5 m") == 300.0
    assert parse_duration_s("") is None and parse_duration_s("5x") is None and parse_duration_s("s5") is None


def test_link_names_cover_every_sensor_and_the_agent_paths() -> None:
    assert "sensor.mc_forewarner->cluster" in LINK_NAMES and "cluster<->agent" in LINK_NAMES
    assert "agent<->exchange" in LINK_NAMES and "exchange->sensor.ob" in LINK_NAMES
