"""Scenario files (TOML) → validated :class:`Scenario`; every problem names the file, field and expectation.

Top-level keys: ``name``, ``description``, ``duration``, ``seeds``, ``companions``, ``controller``
(a name or path, or a table of inline overrides with an optional ``base``), the twin's sections
``[market]`` ``[cluster]`` ``[network]`` ``[sensors]`` ``[exchange]`` ``[agent]``, ``[[fault]]``,
``[swarm]``, ``[[expect]]``, ``[liveness]`` and ``[safety]``. Unknown keys are errors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Mapping

from controller import ConfigError, ControllerConfig, apply_overrides, strict
from controller.toml_io import MAX_TOML_BYTES
from controller.registry import CONTROLLER_NAMES, resolve_config
from faults import Fault, FaultSpecError, default_fault_model, parse_fault, parse_seconds
from twin import TwinConfigError, WorldConfig

from .checks import COMPANIONS, EXPECTATIONS, LivenessPolicy, ParseContext, SafetyPolicy
from .errors import ScenarioFileError
from .model import DEFAULT_COMPANIONS, Expectation, Scenario, SwarmSpec
from .problems import Problems, every_problem

__all__ = ["load_scenario", "load_scenario_text", "discover", "load_scenarios", "resolve_controller", "controller_option",
           "TOP_KEYS"]

MAX_DURATION_S = 7 * 86400.0
"""Longest scenario run (7 days of simulated time)."""
MAX_SEEDS = 10_000
"""Most seeds per scenario (a count, or the length of an array)."""
MAX_SEED = 2 ** 63 - 1
MAX_ITEMS = 10_000
"""Longest array or table in a scenario file."""
_WORLD_KEYS = ("market", "cluster", "network", "sensors", "exchange", "agent")
TOP_KEYS = ("name", "description", "duration", "seeds", "companions", "tags", "controller", *_WORLD_KEYS, "fault",
            "swarm", "expect", "liveness", "safety")


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Scenario files named by ``paths`` (files, or directories searched recursively for ``*.toml``), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.toml") if q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise ScenarioFileError(str(p), "(path)", "an existing scenario file or directory")
    return out


def controller_option(spec: str, option: str = "--controller") -> str:
    """A command-line controller (name, or TOML path relative to the working directory) checked on its own,
    before any scenario file: a name as is, a path made absolute. Errors name the option, not a scenario."""
    if spec not in CONTROLLER_NAMES and Path(spec).exists():
        spec = str(Path(spec).resolve())
    resolve_controller(spec, "command line", None, field=option)
    return spec


def load_scenarios(paths: Iterable[str | Path], controller: str | None = None) -> list[Scenario]:
    """Every scenario under ``paths``; names must be unique. ``controller`` replaces every file's base."""
    if controller is not None:
        controller = controller_option(controller)
    scenarios = [load_scenario(p, controller=controller) for p in discover(paths)]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.name in seen:
            raise ScenarioFileError(s.file, "name", f"a name unique in the run (also used by {seen[s.name]})", s.name)
        seen[s.name] = s.file
    return scenarios


def load_scenario(path: str | Path, controller: str | None = None) -> Scenario:
    """Load and validate one scenario file. ``controller`` replaces the file's base controller."""
    p = Path(path)
    try:
        strict.regular_file(str(p), str(p), "(file)", "a scenario TOML file", max_bytes=MAX_TOML_BYTES)
        text = p.read_text(encoding="utf-8")
    except strict.StrictError as exc:
        raise ScenarioFileError(exc.source, exc.path, exc.expected) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(str(p), "(file)", f"a readable UTF-8 TOML file ({exc.__class__.__name__})") from None
    return load_scenario_text(text, str(p), suite=p.parent.name, base_dir=p.parent, controller=controller)


def load_scenario_text(text: str, source: str, suite: str = "", base_dir: Path | None = None,
                       controller: str | None = None, exact_config: ControllerConfig | None = None) -> Scenario:
    """Validate scenario TOML ``text``; every problem is named (:class:`ScenarioFileErrors` when there are several).
    ``exact_config`` (replay) is the controller config to use as is."""
    try:
        data = strict.load_toml(text, source, max_items=MAX_ITEMS)
    except strict.StrictError as exc:
        raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None
    p = Problems()
    p.add(*(ScenarioFileError(source, key, f"one of the keys {', '.join(TOP_KEYS)} (unknown key)"
                                           f"{strict.did_you_mean(key, TOP_KEYS)}") for key in data if key not in TOP_KEYS))
    name = p.attempt(lambda: _name(data, source), "")
    duration_s = p.attempt(lambda: _duration(data, source), None)
    span_s = duration_s if duration_s is not None else MAX_DURATION_S     # what the other parts are checked against
    world = _world(data, source, p)
    if duration_s is not None:
        p.attempt(lambda: _check_replay_span(world, duration_s, source), None)
    spec, config = p.table(lambda raw: _controller(raw, source, base_dir, controller, exact_config),
                           data.get("controller"), "controller", ("", None))
    raw_faults = p.attempt(lambda: _array(data, "fault", source), [])
    faults = [p.table(lambda raw, i=i: _fault(raw, source, f"fault[{i}]", world, span_s), raw, f"fault[{i}]", None)
              for i, raw in enumerate(raw_faults)]
    swarm = p.table(lambda raw: _swarm(raw, source, span_s), data["swarm"], "swarm", None) if "swarm" in data else None
    known = tuple(faults) if "swarm" not in data and None not in faults else None
    ctx = ParseContext(source, None if "swarm" in data else len(raw_faults), span_s,
                       () if controller is not None or config is None else tuple(ly.name for ly in config.layers),
                       known)
    liveness = p.table(lambda raw: LivenessPolicy.from_mapping(raw, source), data.get("liveness", {}), "liveness",
                       LivenessPolicy())
    if duration_s is not None and None not in faults and ("swarm" not in data or swarm is not None):
        p.attempt(lambda: _check_liveness(liveness, tuple(faults), swarm, duration_s, source), None)
    expectations = [p.table(lambda raw, i=i: _expect(raw, ctx, f"expect[{i}]"), raw, f"expect[{i}]", None)
                    for i, raw in enumerate(p.attempt(lambda: _array(data, "expect", source), []))]
    fields = {"description": p.attempt(lambda: _text(data, "description", source), ""),
              "seeds": p.attempt(lambda: _seeds(data.get("seeds", 1), source), (1,)),
              "safety": p.table(lambda raw: SafetyPolicy.from_mapping(raw, source), data.get("safety", {}), "safety",
                                SafetyPolicy()),
              "companions": p.attempt(lambda: _companions(data.get("companions", list(DEFAULT_COMPANIONS)), source), ()),
              "tags": p.attempt(lambda: _tags(data.get("tags", []), source), ())}
    p.raise_any()
    assert config is not None and duration_s is not None
    return Scenario(name=name, file=source, suite=suite, duration_s=duration_s, world=world, controller_spec=spec,
                    controller=config, faults=tuple(faults), swarm=swarm, expectations=tuple(expectations),
                    liveness=liveness, text=text, **fields)


def _name(data: Mapping[str, Any], source: str) -> str:
    name = _text(data, "name", source, required=True)
    if not strict.is_identifier(name):
        raise ScenarioFileError(source, "name", f"a scenario name (it names the run's directory): "
                                f"{strict.IDENTIFIER_RULE}", name)
    return name


def _duration(data: Mapping[str, Any], source: str) -> float:
    duration_s = parse_seconds(data.get("duration"))
    if duration_s is None or not 0 < duration_s <= MAX_DURATION_S:
        raise ScenarioFileError(source, "duration", f'a duration in (0, {MAX_DURATION_S:g} s] (seconds or like '
                                f'"6h"; at most 7 days)', data.get("duration"))
    return duration_s


def _tags(raw: Any, source: str) -> tuple[str, ...]:
    """``tags = ["fast", "cluster"]``: names that ``nor run --tags`` selects by."""
    if not isinstance(raw, list) or len(raw) > 64:
        raise ScenarioFileError(source, "tags", "an array of at most 64 tag names", raw)
    for i, tag in enumerate(raw):
        if not strict.is_identifier(tag):
            raise ScenarioFileError(source, f"tags[{i}]", f"a tag name: {strict.IDENTIFIER_RULE}", tag)
    return tuple(dict.fromkeys(raw))


def _check_replay_span(world: WorldConfig, duration_s: float, source: str) -> None:
    """A replayed price file must cover the whole run (the market cannot invent prices past its end)."""
    if not world.market.replay_path:
        return
    from twin.replay import load_replay

    span_s = load_replay(world.market.replay_path, world.market.step_s).span_s
    if duration_s > span_s:
        raise ScenarioFileError(source, "duration", f"a duration <= the span of market.replay_path ({span_s:g} s)",
                                duration_s)


def _check_liveness(liveness: LivenessPolicy, faults: tuple[Fault, ...], swarm: SwarmSpec | None,
                    duration_s: float, source: str) -> None:
    """The run must last ``[liveness] within`` past the last possible heal, so liveness can be judged.

    A scenario without faults has nothing to heal: any length will do (a run that never reaches the
    posture fails liveness at its end).
    """
    if not liveness.enabled or (not faults and swarm is None):
        return
    for i, f in enumerate(faults):
        if not f.heals:
            raise ScenarioFileError(source, f"fault[{i}].for", "a duration: liveness (APEX regained after every fault "
                                    "heals) cannot be judged for a fault that never heals — give it a `for`, or set "
                                    "[liveness] enabled = false")
    heal_s = max((f.end_s for f in faults), default=0.0)
    what = f"the last fault heals at {heal_s:g} s"
    if swarm is not None and swarm.model.latest_heal_s > heal_s:
        heal_s = swarm.model.latest_heal_s
        what = (f"a drawn fault may heal as late as {heal_s:g} s (swarm horizon {swarm.model.horizon_s:g} s + the "
                f"longest drawn duration)")
    need_s = heal_s + liveness.need_s
    if duration_s < need_s:
        hold = f" + hold = {liveness.hold_s:g} s" if liveness.hold_s else ""
        raise ScenarioFileError(source, "duration", f"a duration >= {need_s:g} s: {what} and liveness needs "
                                f"[liveness] within = {liveness.within_s:g} s{hold} after it (lengthen the run, or "
                                f"set a shorter [liveness] within)", duration_s)


def _text(data: Mapping[str, Any], key: str, source: str, required: bool = False) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ScenarioFileError(source, key, "a non-empty string" if required else "a string", value)
    return value


def _array(data: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScenarioFileError(source, key, f"an array of tables ([[{key}]])", value)
    return value


def _seeds(raw: Any, source: str) -> tuple[int, ...]:
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= MAX_SEEDS:
        return tuple(range(1, raw + 1))
    if isinstance(raw, list) and 0 < len(raw) <= MAX_SEEDS \
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in raw) \
            and len(set(raw)) == len(raw):
        return tuple(raw)
    raise ScenarioFileError(source, "seeds", f"a count in [1, {MAX_SEEDS}] or an array of at most {MAX_SEEDS} "
                            f"distinct integers in [0, 2^63-1]", raw)


def _companions(raw: Any, source: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or any(c not in COMPANIONS for c in raw):
        raise ScenarioFileError(source, "companions", f"an array of companion names ({', '.join(COMPANIONS)})", raw)
    return tuple(c for c in COMPANIONS if c in raw)


def _world_of(sections: Mapping[str, Any], source: str) -> WorldConfig:
    try:
        return WorldConfig.from_mapping(sections, source=source)
    except TwinConfigError as exc:
        expected = exc.expected
        section, _, key = exc.field.partition(".")
        table = getattr(WorldConfig(), section, None)
        if key and expected.startswith("a known key") and dataclasses.is_dataclass(table):
            expected += strict.did_you_mean(key, [f.name for f in dataclasses.fields(table)])
        raise ScenarioFileError(exc.source, exc.field, expected, exc.got) from None


def _world(data: Mapping[str, Any], source: str, problems: Problems) -> WorldConfig:
    """The twin's sections; with problems, the world without the keys they name (the faults are checked in it)."""
    world, found = every_problem(lambda sections: _world_of(sections, source),
                                 {k: data[k] for k in _WORLD_KEYS if k in data})
    problems.add(*found)
    return world if world is not None else WorldConfig()


def resolve_controller(spec: str, source: str, base_dir: Path | None,
                       field: str = "controller") -> tuple[str, ControllerConfig]:
    """(spec as recorded, config) for a controller name or TOML path (relative to ``base_dir`` first)."""
    if spec not in CONTROLLER_NAMES and base_dir is not None and not Path(spec).is_absolute() \
            and (base_dir / spec).exists():
        spec = str(base_dir / spec)
    if spec not in CONTROLLER_NAMES and not Path(spec).is_file():
        raise ScenarioFileError(source, field, f"{', '.join(CONTROLLER_NAMES)} or the path of an existing controller "
                                f"TOML file", spec)
    try:
        return spec, resolve_config(spec)
    except ConfigError as exc:
        raise ScenarioFileError(source, field, f"{', '.join(CONTROLLER_NAMES)} or a valid controller TOML "
                                f"path ({exc})", spec) from None


def _controller(raw: Any, source: str, base_dir: Path | None, override: str | None,
                exact: ControllerConfig | None) -> tuple[str, ControllerConfig]:
    if raw is None:
        raw = {}
    if not isinstance(raw, (str, Mapping)):
        raise ScenarioFileError(source, "controller", "a controller name or path, or a table of overrides", raw)
    table = {"base": raw} if isinstance(raw, str) else dict(raw)
    base = override if override is not None else table.pop("base", "survival")
    table.pop("base", None)
    if not isinstance(base, str):
        raise ScenarioFileError(source, "controller.base", "a controller name or TOML path", base)
    if exact is not None:           # replay: the recorded config as is (its TOML file may be gone: a copied run)
        return (f"{base}+overrides" if table else base), exact
    if override is not None:        # a command-line option: relative to the working directory, its own errors
        spec, config = resolve_controller(controller_option(override), "command line", None, field="--controller")
    else:
        spec, config = resolve_controller(base, source, base_dir)
    if table:
        try:
            config = apply_overrides(config, table, f"{source}: [controller]")
        except ConfigError as exc:
            raise ScenarioFileError(source, f"controller.{exc.path}", exc.expected, exc.got) from None
        spec = f"{spec}+overrides"
    return spec, config


def _fault(raw: Any, source: str, path: str, world: WorldConfig, duration_s: float) -> Any:
    try:
        return parse_fault(raw, source, path, world, duration_s)
    except FaultSpecError as exc:
        raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None


def _swarm(raw: Any, source: str, duration_s: float) -> SwarmSpec:
    if not isinstance(raw, Mapping):
        raise ScenarioFileError(source, "swarm", "a table", raw)
    allowed = ("kinds", "horizon", "max_rate_per_h", "enable_ratio", "max_faults")
    for key in raw:
        if key not in allowed:
            raise ScenarioFileError(source, f"swarm.{key}", f"one of {', '.join(allowed)} (unknown key)"
                                                                 f"{strict.did_you_mean(key, allowed)}")
    horizon = parse_seconds(raw.get("horizon", duration_s / 2))
    if horizon is None or not 0 < horizon <= duration_s:
        raise ScenarioFileError(source, "swarm.horizon", f"a duration in (0, {duration_s:g} s]", raw.get("horizon"))
    model = default_fault_model(horizon)
    model = type(model)(model.kinds, horizon, _num(raw, "max_rate_per_h", 1.0, 0.0, 1000.0, source),
                        _num(raw, "enable_ratio", 0.5, 0.0, 1.0, source),
                        int(_num(raw, "max_faults", 6, 1, 1000, source, integer=True)), source)
    if "kinds" in raw:
        kinds = raw["kinds"]
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            raise ScenarioFileError(source, "swarm.kinds", "a non-empty array of fault kind names", kinds)
        try:
            model = model.restricted(kinds)
        except FaultSpecError as exc:
            raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None
    return SwarmSpec(model)


def _num(raw: Mapping[str, Any], key: str, default: float, lo: float, hi: float, source: str,
         integer: bool = False) -> float:
    value = raw.get(key, default)
    what = "an integer" if integer else "a number"
    if integer and not isinstance(value, int):
        raise ScenarioFileError(source, f"swarm.{key}", f"{what} in [{lo:g}, {hi:g}]", value)
    try:
        return strict.number(value, source, f"swarm.{key}", lo, hi, what=what)
    except strict.StrictError as exc:
        raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None


def _expect(raw: Any, ctx: ParseContext, path: str) -> Expectation:
    if not isinstance(raw, Mapping):
        raise ScenarioFileError(ctx.source, path, "a table with a check and its parameters", raw)
    name = raw.get("check")
    check = EXPECTATIONS.get(name) if isinstance(name, str) else None
    if check is None:
        raise ScenarioFileError(ctx.source, f"{path}.check", f"one of {', '.join(sorted(EXPECTATIONS))}"
                                f"{strict.did_you_mean(name, EXPECTATIONS)}", name)
    params = check.parse(raw, ctx, path)
    return Expectation(name, params, {k: v for k, v in raw.items() if k != "check"})
