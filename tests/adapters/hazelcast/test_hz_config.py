"""Configuration from TOML and environment: strong defaults, clear errors, no secrets in files."""

from __future__ import annotations

import pytest

from adapters.hazelcast import HzConfigError, client_options, load_hz_config


def _toml(tmp_path, text: str):
    path = tmp_path / "hz.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file_and_no_env():
    cfg = load_hz_config(env={})
    assert cfg.members == ("127.0.0.1:5701",) and cfg.cluster_name == "dev"
    assert cfg.map_name == "DOLPHIN_HEALTH_GRID" and cfg.password is None


def test_file_then_env_override(tmp_path):
    path = _toml(tmp_path, '[hazelcast]\nmembers = ["10.0.0.1:5701"]\ncluster_name = "prod"\n'
                           'reconnect_bound_s = 30\nmin_members = 2\n[hazelcast.tls]\nenabled = true\ncafile = "/ca.pem"\n')
    cfg = load_hz_config(path, env={"NOR_HZ_MEMBERS": "127.0.0.1:5702, 127.0.0.1:5703",
                                    "NOR_HZ_USERNAME": "agent", "NOR_HZ_PASSWORD": "s3cret",
                                    "NOR_HZ_TLS_KEY_PASSWORD": "k"})
    assert cfg.members == ("127.0.0.1:5702", "127.0.0.1:5703")
    assert cfg.cluster_name == "prod" and cfg.reconnect_bound_s == 30.0 and cfg.min_members == 2
    assert cfg.username == "agent" and cfg.password == "s3cret"
    assert cfg.tls.enabled and cfg.tls.cafile == "/ca.pem" and cfg.tls.key_password == "k"
    assert "s3cret" not in repr(cfg), "secrets never appear in reprs or logs"
    opts = client_options(cfg)
    assert opts["creds_username"] == "agent" and opts["ssl_enabled"] and opts["ssl_cafile"] == "/ca.pem"
    assert opts["async_start"] is True and opts["near_caches"]["DOLPHIN_HEALTH_GRID"]["invalidate_on_change"]


@pytest.mark.parametrize("body, needle", [
    ('password = "x"', "NOR_HZ_PASSWORD"),
    ('[hazelcast.tls]\nkey_password = "x"', "NOR_HZ_TLS_KEY_PASSWORD"),
    ('members = ["nohost"]', "hazelcast.members"),
    ('members = "127.0.0.1:5701"', "list"),
    ('reconnect_bound_s = -1', "hazelcast.reconnect_bound_s"),
    ('reconnect_bound_s = "10s"', "hazelcast.reconnect_bound_s"),
    ('min_members = 0', "hazelcast.min_members"),
    ('near_cache = "yes"', "hazelcast.near_cache"),
    ('colour = "blue"', "unknown field 'hazelcast.colour'"),
    ('heartbeat_interval_s = 5\nheartbeat_timeout_s = 2', "heartbeat_timeout_s"),
])
def test_bad_file_is_rejected_naming_file_field_and_expectation(tmp_path, body, needle):
    path = _toml(tmp_path, "[hazelcast]\n" + body + "\n")
    with pytest.raises(HzConfigError) as info:
        load_hz_config(path, env={})
    if "NOR_HZ" not in needle and "heartbeat" not in needle:
        assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_bad_environment_is_rejected_naming_the_variable(tmp_path):
    with pytest.raises(HzConfigError, match="NOR_HZ_MEMBERS"):
        load_hz_config(env={"NOR_HZ_MEMBERS": "127.0.0.1:notaport"})
    with pytest.raises(HzConfigError, match="NOR_HZ_TLS"):
        load_hz_config(env={"NOR_HZ_TLS": "maybe"})
    with pytest.raises(HzConfigError, match="NOR_HZ_USERNAME"):
        load_hz_config(env={"NOR_HZ_PASSWORD": "x"})


def test_missing_and_invalid_toml_files(tmp_path):
    with pytest.raises(HzConfigError, match="file not found"):
        load_hz_config(tmp_path / "nope.toml", env={})
    with pytest.raises(HzConfigError, match="not valid TOML"):
        load_hz_config(_toml(tmp_path, "[hazelcast\n"), env={})


def test_unreadable_paths_are_named_not_tracebacks(tmp_path):
    with pytest.raises(HzConfigError, match="is a directory"):
        load_hz_config(tmp_path, env={})
    binary = tmp_path / "hz.toml"
    binary.write_bytes(b"\xff\xfe[hazelcast]\n")
    with pytest.raises(HzConfigError, match=f"{binary}: not valid TOML"):
        load_hz_config(binary, env={})


@pytest.mark.parametrize("override, needle", [
    ({"probe_interval_s": -1}, "hazelcast.probe_interval_s"),
    ({"reconnect_bound_s": float("inf")}, "hazelcast.reconnect_bound_s"),
    ({"heartbeat_interval_s": float("nan")}, "hazelcast.heartbeat_interval_s"),
    ({"connect_timeout_s": "5"}, "hazelcast.connect_timeout_s"),
    ({"min_members": 0}, "hazelcast.min_members"),
    ({"min_members": True}, "hazelcast.min_members"),
    ({"members": ("localhost",)}, "hazelcast.members"),
    ({"members": "127.0.0.1:5701"}, "hazelcast.members"),
    ({"near_cache": 1}, "hazelcast.near_cache"),
    ({"cluster_name": ""}, "hazelcast.cluster_name"),
    ({"tls": {"enabled": True}}, "hazelcast.tls"),
    ({"colour": "blue"}, "colour"),
])
def test_keyword_overrides_get_the_same_checks_as_the_file(override, needle):
    with pytest.raises(HzConfigError, match="keyword override") as info:
        load_hz_config(env={}, **override)
    assert needle in str(info.value)


def test_valid_keyword_overrides_are_applied():
    cfg = load_hz_config(env={}, members=("10.0.0.1:5701", "10.0.0.2:5701"), probe_interval_s=0.05,
                         min_members=2, near_cache=False, password="pw", username="u")
    assert cfg.members == ("10.0.0.1:5701", "10.0.0.2:5701") and cfg.probe_interval_s == 0.05
    assert cfg.min_members == 2 and cfg.near_cache is False and cfg.password == "pw"


@pytest.mark.parametrize("text, field", [
    ('password = "hunter2"\n[hazelcast]\ncluster_name = "dev"\n', "password"),
    ('[credentials]\nuser = "u"\npass = "p"\n[hazelcast]\ncluster_name = "dev"\n', "credentials"),
    ('[hazelcast]\ncluster_name = "dev"\n[other]\napi_secret = "s"\n', "other.api_secret"),
])
def test_a_secret_anywhere_in_the_file_rejects_it(tmp_path, text, field) -> None:
    path = tmp_path / "hz.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HzConfigError, match=f"field '{field}' is a secret"):
        load_hz_config(path, env={})


@pytest.mark.parametrize("text, fragment", [
    ("[hazelcast]\nconnect_timeout_s = 1" + "0" * 400 + "\n", "connect_timeout_s"),
    ("[hazelcast]\nmin_members = 1" + "0" * 400 + "\n", "signed 64 bits"),
    ("[hazelcast]\nmembers = " + "[" * 600 + "]" * 600 + "\n", "nested at most"),
])
def test_huge_numbers_and_deep_nesting_are_clean_errors(tmp_path, text, fragment) -> None:
    path = tmp_path / "hz.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HzConfigError, match=fragment):
        load_hz_config(path, env={})
