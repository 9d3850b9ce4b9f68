"""Controller configs as TOML files: load (validated), dump, and inline overrides."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, Mapping

from . import strict
from .config import ControllerConfig, check_design_limits
from .errors import ConfigError

__all__ = ["load_config", "dump_config", "apply_overrides", "toml_string", "MAX_TOML_BYTES"]

MAX_TOML_BYTES = 16 * 1024 * 1024
"""Largest controller config or scenario file read."""


def load_config(path: str | Path) -> ControllerConfig:
    """Load and validate a controller config TOML file, within the design's ceilings (``check_design_limits``).

    Raises:
        ConfigError: naming the file, the field path and what was expected.
    """
    p = Path(path)
    try:
        strict.regular_file(str(p), str(p), "(file)", "a controller config TOML file", max_bytes=MAX_TOML_BYTES)
        data = strict.load_toml(p.read_text(encoding="utf-8"), str(p))
    except strict.StrictError as exc:
        raise ConfigError(exc.source, exc.path, exc.expected, exc.got) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "(file)", f"a readable UTF-8 TOML file ({type(exc).__name__})") from None
    return check_design_limits(ControllerConfig.from_mapping(data, source=str(p)), str(p))


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes are TOML's (DEL must be escaped too), so a
    newline, a quote or a control character can never end the string or the line."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write non-finite {v!r} to TOML")
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return toml_string(v)
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_config(config: ControllerConfig) -> str:
    """The config as TOML text; ``load_config`` of it gives the same ``config_id``."""
    data = config.to_dict()
    lines = [f"# survival controller config; config_id = {config.config_id}", f"name = {_value(data['name'])}", ""]
    for key, band in data["postures"].items():
        lines.append(f"[postures.{key}]")
        lines += [f"{k} = {_value(v)}" for k, v in band.items()]
        lines.append("")
    for layer in data["layers"]:
        lines.append("[[layers]]")
        lines += [f"{k} = {_value(v)}" for k, v in layer.items() if k != "inputs"]
        for inp in layer["inputs"]:
            lines.append("[[layers.inputs]]")
            lines += [f"{k} = {_value(v)}" for k, v in inp.items()]
        lines.append("")
    return "\n".join(lines)


def apply_overrides(config: ControllerConfig, overrides: Mapping[str, Any], source: str) -> ControllerConfig:
    """A new config with inline overrides merged in, validated as a whole.

    ``overrides`` mirrors the config: ``{"postures": {"apex": {"enter": 0.9}},
    "layers": {"mc_forewarner": {"recovery_per_min": 0.05,
    "inputs": {"mc_forewarner.age_s": {"half_life": 600}}}}}``. A layer name that does not
    exist adds a layer (it then needs ``category`` and an ``inputs`` array).
    """
    data = copy.deepcopy(config.to_dict())
    for key, value in overrides.items():
        if key == "name":
            data["name"] = value
        elif key == "postures":
            if not isinstance(value, Mapping):
                raise ConfigError(source, "postures", "a table of posture overrides", value)
            for posture, fields in value.items():
                if posture not in data["postures"] or not isinstance(fields, Mapping):
                    raise ConfigError(source, f"postures.{posture}", "apex, stalker, turtle or hibernate with a table")
                data["postures"][posture].update(fields)
        elif key == "layers":
            _merge_layers(data["layers"], value, source)
        else:
            raise ConfigError(source, key, "one of the keys name, postures, layers (unknown key)")
    return ControllerConfig.from_mapping(data, source=source)


def _merge_layers(layers: list[dict[str, Any]], overrides: Any, source: str) -> None:
    if not isinstance(overrides, Mapping):
        raise ConfigError(source, "layers", "a table keyed by layer name", overrides)
    by_name = {ly["name"]: ly for ly in layers}
    for name, fields in overrides.items():
        if not isinstance(fields, Mapping):
            raise ConfigError(source, f"layers.{name}", "a table of layer fields", fields)
        if name not in by_name:
            layers.append({"name": name, **fields})
            continue
        layer = by_name[name]
        for key, value in fields.items():
            if key != "inputs" or isinstance(value, list):
                layer[key] = value
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(source, f"layers.{name}.inputs", "a table keyed by signal name, or an array", value)
            by_signal = {i["signal"]: i for i in layer["inputs"]}
            for signal, params in value.items():
                if signal not in by_signal or not isinstance(params, Mapping):
                    raise ConfigError(source, f"layers.{name}.inputs.{signal}",
                                      f"one of the layer's signals {', '.join(by_signal)} with a table")
                by_signal[signal].update(params)
