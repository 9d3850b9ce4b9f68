"""``grid.toml`` for ``nor sweep``: controller-config parameters and their values; the grid is their product.

```toml
base = "my_controller.toml"     # optional (relative to this file); default: the run's controller config
[[param]]
path = "layers.mc_forewarner.inputs.mc_forewarner.age_s.half_life"   # the apply_overrides form, dotted
values = [300, 600, 1200]
[[param]]
path = "postures.apex.enter"
range = [0.88, 0.96, 5]          # from, to (inclusive), number of points
[metrics]                        # all optional
react_below = 0.99               # r_total below this is a reaction
grace_s = 120                    # a fault window lasts this long after the fault heals
instant_window_s = 300           # the window of an instantaneous fault (a shock)
max_switches_per_hour = 6        # bounded chatter: the Pareto front excludes configs switching more in any hour
```

A path names one field: ``postures.<posture>.<field>``, ``layers.<layer>.<field>`` or
``layers.<layer>.inputs.<signal>.<field>`` (a signal name may contain dots). Every grid point is
validated as a whole config within the design's ceilings before anything runs; a bad file or point is
a :class:`ScenarioFileError` naming the file and the field.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller import ConfigError, ControllerConfig, apply_overrides, check_design_limits, load_config, strict

from .errors import ScenarioFileError

__all__ = ["Grid", "SweepMetrics", "load_grid", "grid_configs", "MAX_CONFIGS"]

MAX_CONFIGS = 1_000_000
"""Largest grid accepted (the product of every parameter's values)."""
_TOP = {"base", "param", "metrics"}
_PARAM = {"path", "values", "range"}


@dataclass(frozen=True)
class SweepMetrics:
    react_below: float = 0.99
    grace_s: float = 120.0
    instant_window_s: float = 300.0
    max_switches_per_hour: int = 6


@dataclass(frozen=True)
class Grid:
    file: str
    base: Path | None
    paths: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    metrics: SweepMetrics

    @property
    def size(self) -> int:
        return int(np.prod([len(v) for v in self.values])) if self.values else 1


def _fail(source: str, field: str, expected: str, got: Any = None) -> ScenarioFileError:
    return ScenarioFileError(source, field, expected, got)


def _override(path: str, source: str, field: str) -> list[str]:
    """The key path of one dotted parameter path, checked against the apply_overrides form."""
    parts = path.split(".")
    if parts[0] == "postures" and len(parts) == 3:
        return parts
    if parts[0] == "layers" and len(parts) == 3 and parts[2] != "inputs":
        return parts
    if parts[0] == "layers" and len(parts) >= 5 and parts[2] == "inputs":
        return parts[:3] + [".".join(parts[3:-1]), parts[-1]]
    raise _fail(source, field, "postures.<posture>.<field>, layers.<layer>.<field> or "
                               "layers.<layer>.inputs.<signal>.<field>", path)


def _values(p: dict[str, Any], source: str, field: str) -> tuple[float, ...]:
    if ("values" in p) == ("range" in p):
        raise _fail(source, field, "exactly one of values = [...] or range = [from, to, points]")
    if "values" in p:
        vals = p["values"]
        if not isinstance(vals, list) or not vals:
            raise _fail(source, f"{field}.values", "a non-empty array of numbers", vals)
        out = [strict.number(v, source, f"{field}.values[{i}]", -1e12, 1e12) for i, v in enumerate(vals)]
    else:
        rng = p["range"]
        if not isinstance(rng, list) or len(rng) != 3:
            raise _fail(source, f"{field}.range", "[from, to, points]", rng)
        lo = strict.number(rng[0], source, f"{field}.range[0]", -1e12, 1e12)
        hi = strict.number(rng[1], source, f"{field}.range[1]", lo, 1e12)
        n = strict.integer(rng[2], source, f"{field}.range[2]", 1, MAX_CONFIGS)
        out = [float(x) for x in np.linspace(lo, hi, n)]
    if len(set(out)) != len(out):
        raise _fail(source, field, "distinct values", out)
    return tuple(out)


def _metrics(data: Any, source: str) -> SweepMetrics:
    if data is None:
        return SweepMetrics()
    if not isinstance(data, dict):
        raise _fail(source, "metrics", "a table", data)
    known = set(SweepMetrics.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise _fail(source, f"metrics.{key}", f"one of {', '.join(sorted(known))} (unknown key)")
    d = SweepMetrics()
    return SweepMetrics(
        react_below=strict.number(data.get("react_below", d.react_below), source, "metrics.react_below", 0.0, 1.0),
        grace_s=strict.number(data.get("grace_s", d.grace_s), source, "metrics.grace_s", 0.0, strict.MAX_SECONDS),
        instant_window_s=strict.number(data.get("instant_window_s", d.instant_window_s), source,
                                       "metrics.instant_window_s", 0.0, strict.MAX_SECONDS, lo_open=True),
        max_switches_per_hour=strict.integer(data.get("max_switches_per_hour", d.max_switches_per_hour), source,
                                             "metrics.max_switches_per_hour", 0, 64))


def load_grid(path: str | Path) -> Grid:
    """Read and validate ``grid.toml`` (its structure; :func:`grid_configs` validates every point)."""
    p = Path(path)
    source = str(p)
    try:
        strict.regular_file(source, source, "(file)", "a grid TOML file", max_bytes=1024 * 1024)
        data = strict.load_toml(p.read_text(encoding="utf-8"), source)
        for key in data:
            if key not in _TOP:
                raise _fail(source, key, f"one of {', '.join(sorted(_TOP))} (unknown key)")
        params = data.get("param")
        if not isinstance(params, list) or not params:
            raise _fail(source, "param", "at least one [[param]] table with path and values or range", params)
        paths, values = [], []
        for i, prm in enumerate(params):
            field = f"param[{i}]"
            if not isinstance(prm, dict):
                raise _fail(source, field, "a table", prm)
            for key in prm:
                if key not in _PARAM:
                    raise _fail(source, f"{field}.{key}", f"one of {', '.join(sorted(_PARAM))} (unknown key)")
            if not isinstance(prm.get("path"), str):
                raise _fail(source, f"{field}.path", "a dotted config path (a string)", prm.get("path"))
            _override(prm["path"], source, f"{field}.path")
            if prm["path"] in paths:
                raise _fail(source, f"{field}.path", "a path not already swept", prm["path"])
            paths.append(prm["path"])
            values.append(_values(prm, source, field))
        base = data.get("base")
        if base is not None and not isinstance(base, str):
            raise _fail(source, "base", "a controller TOML path (a string)", base)
        grid = Grid(source, (p.parent / base) if base else None, tuple(paths), tuple(values),
                    _metrics(data.get("metrics"), source))
    except strict.StrictError as exc:
        raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(source, "(file)", f"a readable UTF-8 TOML file ({type(exc).__name__})") from None
    if grid.size > MAX_CONFIGS:
        raise _fail(source, "param", f"a grid of at most {MAX_CONFIGS} configs", grid.size)
    return grid


def _nested(keys: list[str], value: float) -> dict[str, Any]:
    out: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        out = {key: out}
    return out


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _unit_variants(grid: Grid, base: ControllerConfig, unit: tuple[str, ...], members: list[int],
                   keys: list[list[str]]) -> list[Any]:
    """Each combination of the unit's parameter values, validated as the base with only those overrides:
    the PostureConfig (unit ``("postures",)``) or the LayerConfig (``("layers", name)``)."""
    out = []
    for values in itertools.product(*(grid.values[j] for j in members)):
        overrides: dict[str, Any] = {}
        for j, v in zip(members, values):
            _merge(overrides, _nested(keys[j], v))
        where = ", ".join(f"{grid.paths[j]}={v:g}" for j, v in zip(members, values))
        try:
            cfg = check_design_limits(apply_overrides(base, overrides, source=f"{grid.file} (grid point {where})"),
                                      f"{grid.file} (grid point {where})")
        except ConfigError as exc:
            raise _fail(grid.file, "param", f"grid points that are valid controller configs: {exc}") from None
        out.append(cfg.postures if unit == ("postures",) else cfg.layer(unit[1]))
    return out


def grid_configs(grid: Grid, run_base: ControllerConfig) -> tuple[list[ControllerConfig], np.ndarray]:
    """Every grid point as a validated config (product order: the last parameter varies fastest), and
    the (configs, parameters) value matrix.

    A config's validation is per part (the postures, each layer; the design limits likewise), so each
    distinct posture table and layer of the grid is validated once, as the base with only its own
    overrides, and the grid points are assembled from those parts.
    """
    base = load_config(grid.base) if grid.base is not None else run_base
    keys = [_override(p, grid.file, "param") for p in grid.paths]
    units: dict[tuple[str, ...], list[int]] = {}
    for j, key in enumerate(keys):
        units.setdefault(tuple(key[:1]) if key[0] == "postures" else tuple(key[:2]), []).append(j)
    variants = {unit: _unit_variants(grid, base, unit, members, keys) for unit, members in units.items()}
    layer_at = {ly.name: i for i, ly in enumerate(base.layers)}
    for unit in units:
        if unit[0] == "layers" and unit[1] not in layer_at:
            raise _fail(grid.file, "param", f"a layer of the base config ({', '.join(layer_at)})", unit[1])
    configs = []
    for combo in itertools.product(*(range(len(v)) for v in variants.values())):
        layers, postures = list(base.layers), base.postures
        for unit, pick in zip(variants, combo):
            if unit == ("postures",):
                postures = variants[unit][pick]
            else:
                layers[layer_at[unit[1]]] = variants[unit][pick]
        configs.append(ControllerConfig(base.name, tuple(layers), postures))
    # the product above runs over units; reorder the value matrix to match it
    order = [j for members in units.values() for j in members]
    points = np.array(list(itertools.product(*(grid.values[j] for j in order))), dtype=np.float64).reshape(-1, len(order))
    inverse = np.argsort(order)
    return configs, points[:, inverse]
