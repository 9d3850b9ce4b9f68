"""Typed, frozen controller configuration, validated before anything runs.

``ControllerConfig.from_mapping(data, source)`` validates a plain mapping (a parsed TOML
file) and raises :class:`ConfigError` naming the source, the field path and what was
expected. ``config_id`` is the SHA-256 of the canonical JSON of ``to_dict()``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from . import strict
from .categories import categories, category
from .errors import ConfigError
from .posture import Posture
from .transforms import TRANSFORMS

__all__ = ["InputConfig", "LayerConfig", "PostureBand", "PostureConfig", "ControllerConfig", "DESIGN_MAX_LEVERAGE",
           "DESIGN_MAX_KEEPALIVE_S", "INVARIANT_INPUTS", "check_design_limits"]

_POSTURE_KEYS = ("apex", "stalker", "turtle", "hibernate")


def _number(source: str, path: str, value: Any, expected: str = "a finite number") -> float:
    try:                        # an integer of any size is an error here, never an OverflowError
        return strict.number(value, source, path)
    except strict.StrictError:
        raise ConfigError(source, path, expected, value) from None


def _table(source: str, path: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, path, "a table", value)
    return value


def _reject_unknown(source: str, path: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise ConfigError(source, where, f"one of the keys {', '.join(allowed)} (unknown key)")


@dataclass(frozen=True)
class InputConfig:
    """One signal read by a layer, through a transform with its parameters."""

    signal: str
    transform: str
    params: tuple[tuple[str, float], ...]

    def param(self, name: str) -> float:
        """The value of parameter ``name``."""
        return dict(self.params)[name]

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "transform": self.transform, **dict(self.params)}

    @classmethod
    def from_mapping(cls, data: Any, source: str, path: str, allowed: tuple[str, ...]) -> "InputConfig":
        table = _table(source, path, data)
        signal = table.get("signal")
        if not isinstance(signal, str) or not signal:
            raise ConfigError(source, f"{path}.signal", "a signal name (non-empty string)", signal)
        name = table.get("transform")
        if name not in allowed:
            raise ConfigError(source, f"{path}.transform", f"one of {', '.join(allowed)}", name)
        transform = TRANSFORMS[name]
        _reject_unknown(source, path, table, ("signal", "transform") + tuple(p.name for p in transform.params))
        values: list[tuple[str, float]] = []
        for p in transform.params:
            raw = table.get(p.name, p.default)
            if raw is None:
                raise ConfigError(source, f"{path}.{p.name}", f"{p.expected} (required by transform {name})")
            value = _number(source, f"{path}.{p.name}", raw, p.expected)
            if not p.check(value):
                raise ConfigError(source, f"{path}.{p.name}", p.expected, raw)
            values.append((p.name, value))
        return cls(signal, name, tuple(values))


@dataclass(frozen=True)
class LayerConfig:
    """A layer: a category, its inputs (multiplied), a weight and its damping."""

    name: str
    category: str
    inputs: tuple[InputConfig, ...]
    weight: float
    recovery_per_min: float
    cap_below: float | None
    posture_cap: Posture | None

    @property
    def invariant(self) -> bool:
        """True when a zero of this layer breaks an invariant."""
        cat = category(self.category)
        return bool(cat and cat.invariant)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "category": self.category, "weight": self.weight,
            "recovery_per_min": self.recovery_per_min,
        }
        if self.posture_cap is not None and self.cap_below is not None:
            out["cap_below"] = self.cap_below
            out["posture_cap"] = self.posture_cap.name
        out["inputs"] = [i.to_dict() for i in self.inputs]
        return out

    @classmethod
    def from_mapping(cls, data: Any, source: str, path: str) -> "LayerConfig":
        table = _table(source, path, data)
        _reject_unknown(source, path, table,
                        ("name", "category", "weight", "recovery_per_min", "cap_below", "posture_cap", "inputs"))
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(source, f"{path}.name", "a layer name (non-empty string)", name)
        cat = category(str(table.get("category")))
        if cat is None:
            raise ConfigError(source, f"{path}.category", f"one of {', '.join(categories())}", table.get("category"))
        weight = _number(source, f"{path}.weight", table.get("weight", 1.0))
        if weight <= 0.0:
            raise ConfigError(source, f"{path}.weight", "a number > 0", weight)
        rate = _number(source, f"{path}.recovery_per_min", table.get("recovery_per_min", cat.recovery_per_min))
        if rate <= 0.0:
            raise ConfigError(source, f"{path}.recovery_per_min", "a number > 0 (multiplier units per minute)", rate)
        cap_below, cap = cls._cap(table, source, path, cat.cap_below, cat.posture_cap)
        raw_inputs = table.get("inputs")
        if not isinstance(raw_inputs, list) or not raw_inputs:
            raise ConfigError(source, f"{path}.inputs", "a non-empty array of input tables", raw_inputs)
        inputs = tuple(InputConfig.from_mapping(v, source, f"{path}.inputs[{i}]", cat.transforms)
                       for i, v in enumerate(raw_inputs))
        return cls(name, cat.name, inputs, weight, rate, cap_below, cap)

    @staticmethod
    def _cap(table: Mapping[str, Any], source: str, path: str,
             default_below: float | None, default_cap: Posture | None) -> tuple[float | None, Posture | None]:
        below = table.get("cap_below", default_below)
        cap_name = table.get("posture_cap", default_cap.name if default_cap is not None else None)
        if below is None and cap_name is None:
            return None, None
        if below is None or cap_name is None:
            raise ConfigError(source, f"{path}.cap_below", "cap_below and posture_cap set together")
        below = _number(source, f"{path}.cap_below", below, "a number in [0, 1]")
        if not 0.0 <= below <= 1.0:
            raise ConfigError(source, f"{path}.cap_below", "a number in [0, 1]", below)
        try:
            cap = Posture.parse(str(cap_name))
        except KeyError:
            raise ConfigError(source, f"{path}.posture_cap", "one of APEX, STALKER, TURTLE, HIBERNATE", cap_name) from None
        return below, cap


@dataclass(frozen=True)
class PostureBand:
    """Schmitt band and limits of one posture."""

    enter: float
    leave: float
    max_leverage: float
    min_dwell_s: float


@dataclass(frozen=True)
class PostureConfig:
    """The four posture bands; HIBERNATE's enter/leave are 0 (it is the bottom)."""

    apex: PostureBand
    stalker: PostureBand
    turtle: PostureBand
    hibernate: PostureBand

    def band(self, posture: Posture) -> PostureBand:
        return getattr(self, posture.name.lower())

    def to_dict(self) -> dict[str, Any]:
        out = {key: vars(getattr(self, key)).copy() for key in _POSTURE_KEYS}
        del out["hibernate"]["enter"], out["hibernate"]["leave"]
        return out

    @classmethod
    def from_mapping(cls, data: Any, source: str, path: str = "postures") -> "PostureConfig":
        table = _table(source, path, data)
        _reject_unknown(source, path, table, _POSTURE_KEYS)
        bands = {}
        for key in _POSTURE_KEYS:
            sub = _table(source, f"{path}.{key}", table.get(key, {}))
            fields = ("max_leverage", "min_dwell_s") + (() if key == "hibernate" else ("enter", "leave"))
            _reject_unknown(source, f"{path}.{key}", sub, fields)
            values = {}
            for f in ("enter", "leave", "max_leverage", "min_dwell_s"):
                if f not in fields:
                    values[f] = 0.0
                    continue
                if f not in sub:
                    raise ConfigError(source, f"{path}.{key}.{f}", "a number (required)")
                values[f] = _number(source, f"{path}.{key}.{f}", sub[f])
                if values[f] < 0.0:
                    raise ConfigError(source, f"{path}.{key}.{f}", "a number >= 0", sub[f])
            bands[key] = PostureBand(**values)
        cfg = cls(**bands)
        cfg._check(source, path)
        return cfg

    def _check(self, source: str, path: str) -> None:
        previous_enter = 0.0
        for key in ("turtle", "stalker", "apex"):
            band = getattr(self, key)
            if not 0.0 < band.leave < band.enter <= 1.0:
                raise ConfigError(source, f"{path}.{key}", "0 < leave < enter <= 1 (a hysteresis band)",
                                  {"enter": band.enter, "leave": band.leave})
            if band.leave < previous_enter:
                raise ConfigError(source, f"{path}.{key}.leave",
                                  "bands ordered: each posture's leave >= the enter of the posture below", band.leave)
            previous_enter = band.enter


@dataclass(frozen=True)
class ControllerConfig:
    """A complete survival-controller configuration."""

    name: str
    layers: tuple[LayerConfig, ...]
    postures: PostureConfig

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form: the canonical content hashed into ``config_id``."""
        return {"name": self.name, "postures": self.postures.to_dict(), "layers": [ly.to_dict() for ly in self.layers]}

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @cached_property
    def config_id(self) -> str:
        """SHA-256 (hex) of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Every signal read, in first-use order."""
        seen: dict[str, None] = {}
        for layer in self.layers:
            for inp in layer.inputs:
                seen.setdefault(inp.signal, None)
        return tuple(seen)

    def layer(self, name: str) -> LayerConfig:
        for ly in self.layers:
            if ly.name == name:
                return ly
        raise KeyError(name)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<config>") -> "ControllerConfig":
        table = _table(source, "", data)
        _reject_unknown(source, "", table, ("name", "postures", "layers"))
        name = table.get("name", "survival")
        if not isinstance(name, str) or not name:
            raise ConfigError(source, "name", "a non-empty string", name)
        if "postures" not in table:
            raise ConfigError(source, "postures", "a [postures] table (required)")
        postures = PostureConfig.from_mapping(table["postures"], source)
        raw_layers = table.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            raise ConfigError(source, "layers", "a non-empty array of [[layers]] tables", raw_layers)
        layers = tuple(LayerConfig.from_mapping(v, source, f"layers[{i}]") for i, v in enumerate(raw_layers))
        names = [ly.name for ly in layers]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ConfigError(source, f"layers[{i}].name", "a unique layer name (duplicate)", n)
        return cls(name, layers, postures)


# -- design ceilings (design §2.4): what a config loaded from a file may ask for -------------------------

DESIGN_MAX_LEVERAGE: dict[str, float] = {"apex": 6.0, "stalker": 2.0, "turtle": 1.0, "hibernate": 0.0}
"""The design's leverage ceiling per posture. STALKER's maker-only entries, TURTLE's and HIBERNATE's
'no entries' are the controller's own rules (``Decision.entries_allowed``/``taker_allowed``), not config."""

INVARIANT_INPUTS: dict[str, tuple[str, str]] = {
    "hz_quorum": ("hz.quorum", "flag"), "ledger": ("ledger.consistent", "flag"),
    "data_integrity": ("data.checksum_ok", "flag"), "keepalive": ("heartbeat.age_s", "max_age"),
}
"""The four mandatory invariant layers (design §2.2) and the (signal, transform) each must read from a
layer of category ``invariant`` (one layer may hold several, as the static ladder's ``cluster`` does)."""


DESIGN_MAX_KEEPALIVE_S = 10.0
"""The oldest heartbeat (``heartbeat.age_s``, seconds) a keepalive may accept: the spec's keepalive, by which the
always-on safety check ``invariant_hibernate`` judges every run (``[safety] keepalive_max_age``, default 10 s). An
invariant is binary with no deadband (design §2.2); a keepalive that waits longer trades on a heartbeat the check
already calls broken, and ``max = 1e6`` is the layer removed in all but name."""


def check_design_limits(config: ControllerConfig, source: str) -> ControllerConfig:
    """``config`` if it stays within the design's posture ceilings and keeps the four invariant layers, the
    keepalive no laxer than :data:`DESIGN_MAX_KEEPALIVE_S`.

    Applied to every config loaded from a file (``load_config``: ``nor run --controller``, ``nor promote``,
    ``nor paper``). The built-in baselines are not files: ``uncontrolled`` (no invariants) and
    ``seed_template`` (two of the four) are outside these limits by design, for comparison only.

    Raises:
        ConfigError: naming the field, e.g. ``postures.apex.max_leverage: expected <= 6.0 ..., got 8.0``.
    """
    for key, ceiling in DESIGN_MAX_LEVERAGE.items():
        value = config.postures.band(Posture[key.upper()]).max_leverage
        if value > ceiling:
            what = "0 (HIBERNATE makes no entries)" if ceiling == 0.0 else f"<= {ceiling:g} (the design's {key.upper()} ceiling)"
            raise ConfigError(source, f"postures.{key}.max_leverage", what, value)
    guarded = {(i.signal, i.transform) for ly in config.layers if ly.invariant for i in ly.inputs}
    for name, (signal, transform) in INVARIANT_INPUTS.items():
        if (signal, transform) not in guarded:
            raise ConfigError(source, "layers", f"the invariant layer {name!r}: a layer of category 'invariant' reading "
                              f"{signal} with transform {transform!r} (the four invariant layers hz_quorum, ledger, "
                              f"data_integrity and keepalive are mandatory)")
    for i, ly in enumerate(config.layers):
        for j, inp in enumerate(ly.inputs):
            if ly.invariant and (inp.signal, inp.transform) == INVARIANT_INPUTS["keepalive"] \
                    and inp.param("max") > DESIGN_MAX_KEEPALIVE_S:
                raise ConfigError(source, f"layers[{i}].inputs[{j}].max", f"<= {DESIGN_MAX_KEEPALIVE_S:g} (seconds: the "
                                  f"design's keepalive; an older heartbeat is a broken invariant)", inp.param("max"))
    return config
