"""Hazelcast adapter configuration: a TOML ``[hazelcast]`` table plus environment overrides.

Secrets (passwords, TLS key passwords) are read from the environment only; a file that contains
one is rejected. Environment variables: ``NOR_HZ_MEMBERS`` (comma-separated ``host:port``),
``NOR_HZ_CLUSTER``, ``NOR_HZ_USERNAME``, ``NOR_HZ_PASSWORD``, ``NOR_HZ_TLS`` (1/0),
``NOR_HZ_TLS_CAFILE``, ``NOR_HZ_TLS_CERTFILE``, ``NOR_HZ_TLS_KEYFILE``, ``NOR_HZ_TLS_KEY_PASSWORD``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from controller import strict

from .errors import HzConfigError

__all__ = ["HzConfig", "TlsConfig", "load_hz_config", "parse_members", "DEFAULT_MAP_NAME"]

DEFAULT_MAP_NAME = "DOLPHIN_HEALTH_GRID"
_SECRET_KEYS = frozenset({"password", "key_password", "token", "secret", "passwd", "api_key", "private_key"})
_SECRET_TABLES = frozenset({"credentials", "credential", "secrets", "auth"})
_SECRET_WORDS = ("password", "secret", "token", "credential", "passwd")
_MAX_SECONDS = 86400.0


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the members. File paths may live in TOML; the key password comes from the env."""

    enabled: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: str | None = field(default=None, repr=False)
    check_hostname: bool = True


@dataclass(frozen=True)
class HzConfig:
    """Everything the adapter needs to reach the grid and judge its health (times in seconds)."""

    members: tuple[str, ...] = ("127.0.0.1:5701",)
    cluster_name: str = "dev"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsConfig = TlsConfig()
    map_name: str = DEFAULT_MAP_NAME
    client_name: str | None = None
    smart_routing: bool = True
    near_cache: bool = True
    near_cache_ttl_s: float = 2.0
    connect_timeout_s: float = 5.0
    heartbeat_interval_s: float = 1.0
    heartbeat_timeout_s: float = 10.0
    invocation_timeout_s: float = 5.0
    probe_interval_s: float = 0.5
    reconnect_bound_s: float = 10.0
    min_members: int = 1


_FLOAT_FIELDS = ("near_cache_ttl_s", "connect_timeout_s", "heartbeat_interval_s", "heartbeat_timeout_s",
                 "invocation_timeout_s", "probe_interval_s", "reconnect_bound_s")


def parse_members(text: str, source: str) -> tuple[str, ...]:
    """Parse ``host:port[,host:port...]``; every entry must carry an explicit port."""
    members = tuple(m.strip() for m in text.split(",") if m.strip())
    if not members:
        raise HzConfigError(f"{source}: expected at least one 'host:port' member, got {text!r}")
    for m in members:
        host, sep, port = m.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise HzConfigError(f"{source}: member {m!r} is not 'host:port' with a port in 1..65535")
    return members


def _expect(src: str, key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise HzConfigError(f"{src}: field 'hazelcast.{key}' expected {what}, got {value!r}")
    if not isinstance(value, kind):
        raise HzConfigError(f"{src}: field 'hazelcast.{key}' expected {what}, got {value!r}")
    return value


def _seconds(src: str, key: str, value: Any) -> float:
    _expect(src, key, value, (int, float), f"a finite number of seconds in (0, {_MAX_SECONDS:g}]")
    try:                  # an integer of any size is an error here, never an OverflowError
        return strict.number(value, src, key, 0.0, _MAX_SECONDS, lo_open=True)
    except strict.StrictError:
        raise HzConfigError(f"{src}: field 'hazelcast.{key}' expected a finite number of seconds in "
                            f"(0, {_MAX_SECONDS:g}], got {strict.shown(value)}") from None


def _tls_from_table(src: str, table: Any) -> TlsConfig:
    if not isinstance(table, dict):
        raise HzConfigError(f"{src}: field 'hazelcast.tls' expected a table, got {table!r}")
    known = {f.name for f in fields(TlsConfig)} - {"key_password"}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in _SECRET_KEYS:
            raise HzConfigError(f"{src}: field 'hazelcast.tls.{key}' is a secret; secrets are never read "
                                "from files, set NOR_HZ_TLS_KEY_PASSWORD instead")
        if key not in known:
            raise HzConfigError(f"{src}: unknown field 'hazelcast.tls.{key}' (expected one of {sorted(known)})")
        kind = bool if key in ("enabled", "check_hostname") else str
        out[key] = _expect(src, f"tls.{key}", value, kind, "a boolean" if kind is bool else "a path string")
    return TlsConfig(**out)


def _from_table(src: str, table: Mapping[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(HzConfig)} - {"password"}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in _SECRET_KEYS:
            raise HzConfigError(f"{src}: field 'hazelcast.{key}' is a secret; secrets are never read "
                                "from files, set NOR_HZ_PASSWORD instead")
        if key not in known:
            raise HzConfigError(f"{src}: unknown field 'hazelcast.{key}' (expected one of {sorted(known)})")
        if key == "members":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise HzConfigError(f"{src}: field 'hazelcast.members' expected a list of 'host:port' strings")
            out[key] = parse_members(",".join(value), f"{src}: field 'hazelcast.members'")
        elif key == "tls":
            out[key] = _tls_from_table(src, value)
        elif key in _FLOAT_FIELDS:
            out[key] = _seconds(src, key, value)
        elif key == "min_members":
            if not 1 <= _expect(src, key, value, int, "an integer in [1, 1000]") <= 1000:
                raise HzConfigError(f"{src}: field 'hazelcast.min_members' expected an integer in [1, 1000], "
                                    f"got {strict.shown(value)}")
            out[key] = value
        elif key in ("smart_routing", "near_cache"):
            out[key] = _expect(src, key, value, bool, "a boolean")
        else:
            if not _expect(src, key, value, str, "a non-empty string"):
                raise HzConfigError(f"{src}: field 'hazelcast.{key}' expected a non-empty string")
            out[key] = value
    return out


def _is_secret(key: str) -> bool:
    low = key.lower()
    return low in _SECRET_KEYS or low in _SECRET_TABLES or any(word in low for word in _SECRET_WORDS)


def _reject_secrets(src: str, doc: Mapping[str, Any]) -> None:
    """A secret anywhere in the file — a top-level ``password``, a ``[credentials]`` table, a nested
    ``api_secret`` — rejects the whole file (secrets come from the environment only)."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        prefix, table = stack.pop()
        items = table.items() if isinstance(table, Mapping) else enumerate(table)
        for key, value in items:
            where = f"{prefix}.{key}" if prefix and isinstance(key, str) else f"{prefix}[{key}]" if prefix else key
            if isinstance(key, str) and _is_secret(key):
                raise HzConfigError(f"{src}: field '{where}' is a secret; secrets are never read from files, "
                                    "set NOR_HZ_PASSWORD / NOR_HZ_TLS_KEY_PASSWORD in the environment instead")
            if isinstance(value, (Mapping, list)):
                stack.append((str(where), value))


def _read_file(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise HzConfigError(f"{path}: is a directory; expected a TOML file with a [hazelcast] table")
    if not path.exists():
        raise HzConfigError(f"{path}: file not found")
    try:
        strict.regular_file(str(path), str(path), "(file)", "a TOML file with a [hazelcast] table")
        doc = strict.load_toml(path.read_bytes().decode("utf-8"), str(path), max_items=1000)
    except strict.StrictError as exc:
        raise HzConfigError(f"{path}: not valid TOML ({exc.expected.removeprefix('valid TOML ')})"
                            if exc.path == "(syntax)" else str(exc)) from None
    except OSError as exc:
        raise HzConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise HzConfigError(f"{path}: not valid TOML (not UTF-8 text: {exc.reason})") from None
    _reject_secrets(str(path), doc)
    table = doc.get("hazelcast", {})
    if not isinstance(table, dict):
        raise HzConfigError(f"{path}: field 'hazelcast' expected a table")
    return _from_table(str(path), table)


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    raw = env[name].strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise HzConfigError(f"environment variable {name}: expected 1/0/true/false, got {env[name]!r}")


def _apply_env(cfg: HzConfig, env: Mapping[str, str]) -> HzConfig:
    if env.get("NOR_HZ_MEMBERS"):
        cfg = replace(cfg, members=parse_members(env["NOR_HZ_MEMBERS"], "environment variable NOR_HZ_MEMBERS"))
    if env.get("NOR_HZ_CLUSTER"):
        cfg = replace(cfg, cluster_name=env["NOR_HZ_CLUSTER"])
    if env.get("NOR_HZ_USERNAME"):
        cfg = replace(cfg, username=env["NOR_HZ_USERNAME"])
    if env.get("NOR_HZ_PASSWORD"):
        cfg = replace(cfg, password=env["NOR_HZ_PASSWORD"])
    tls = cfg.tls
    if "NOR_HZ_TLS" in env:
        tls = replace(tls, enabled=_env_flag(env, "NOR_HZ_TLS"))
    for attr, name in (("cafile", "NOR_HZ_TLS_CAFILE"), ("certfile", "NOR_HZ_TLS_CERTFILE"),
                       ("keyfile", "NOR_HZ_TLS_KEYFILE"), ("key_password", "NOR_HZ_TLS_KEY_PASSWORD")):
        if env.get(name):
            tls = replace(tls, **{attr: env[name]})
    if cfg.password and not cfg.username:
        raise HzConfigError("NOR_HZ_PASSWORD is set but no username: set NOR_HZ_USERNAME too")
    return replace(cfg, tls=tls)


def _check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides get the same checks as the file's fields (secrets are allowed here:
    they come from code, not from a file)."""
    src = "load_hz_config keyword override"
    known = {f.name for f in fields(HzConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise HzConfigError(f"{src}: unknown field(s) {sorted(unknown)} (expected some of {sorted(known)})")
    out: dict[str, Any] = {}
    table: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "members" and isinstance(value, (tuple, list)):
            table[key] = list(value)
        elif key == "tls":
            if not isinstance(value, TlsConfig):
                raise HzConfigError(f"{src}: field 'hazelcast.tls' expected a TlsConfig, got {value!r}")
            out[key] = value
        elif key == "password" or (key in ("client_name", "username") and value is None):
            if value is not None and not isinstance(value, str):
                raise HzConfigError(f"{src}: field 'hazelcast.{key}' expected a string or None")
            out[key] = value
        else:
            table[key] = value
    out.update(_from_table(src, table))
    return out


def load_hz_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                   **overrides: Any) -> HzConfig:
    """Build the adapter config: defaults, then the TOML file's ``[hazelcast]`` table, then env.

    Keyword ``overrides`` (same names as :class:`HzConfig` fields) win over both and get the
    same checks as the file's fields (tests and benchmarks use them).

    Raises:
        HzConfigError: naming the file or variable, the field and what was expected.
    """
    values = _read_file(Path(path)) if path is not None else {}
    checked = _check_overrides(overrides)
    cfg = _apply_env(HzConfig(**values), os.environ if env is None else env)
    cfg = replace(cfg, **checked)
    if cfg.heartbeat_timeout_s <= cfg.heartbeat_interval_s:
        raise HzConfigError(f"field 'hazelcast.heartbeat_timeout_s' ({cfg.heartbeat_timeout_s}) must exceed "
                            f"'hazelcast.heartbeat_interval_s' ({cfg.heartbeat_interval_s})")
    return cfg
