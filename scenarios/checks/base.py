"""Check results, and the registry of named, parameterised expectation checks."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from controller import Posture, strict
from faults import parse_seconds

from ..errors import ScenarioFileError
from ..timeref import EXPECTED as TIME_EXPECTED
from ..timeref import TimeRef, parse_timeref

__all__ = ["CheckResult", "ParamSpec", "ExpectationCheck", "EXPECTATIONS", "expectation", "ParseContext",
           "KINDS", "COMPANIONS", "NotJudged", "check_span"]

KINDS = ("safety", "liveness", "expectation")
COMPANIONS = ("nofault", "static_ladder", "seed_template", "uncontrolled")
REQUIRED = object()


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``t_s`` is when it failed (NaN when it passed or has no time)."""

    check: str
    kind: str
    ok: bool
    t_s: float
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True, default=str)

    @classmethod
    def passed(cls, check: str, kind: str, message: str, params: Mapping[str, Any] | None = None) -> "CheckResult":
        return cls(check, kind, True, math.nan, message, dict(params or {}))

    @classmethod
    def failed(cls, check: str, kind: str, t_s: float, message: str,
               params: Mapping[str, Any] | None = None) -> "CheckResult":
        return cls(check, kind, False, float(t_s), message, dict(params or {}))


class NotJudged(Exception):
    """Raised by an expectation that cannot judge this run (a missing layer, an empty or impossible window):
    the expectation then FAILS with the reason — something that was not checked is never a pass."""


@dataclass(frozen=True)
class ParseContext:
    """What parameter validation needs to know about the scenario."""

    source: str
    n_faults: int | None          # None: faults are drawn per seed (no fault[i] references)
    duration_s: float
    layers: tuple[str, ...]       # empty: any name (the controller is chosen on the command line)
    faults: tuple[Any, ...] | None = None   # the scenario's faults when fixed (None: drawn per seed, or unknown)


@dataclass(frozen=True)
class ParamSpec:
    """A parameter of an expectation check: ``type`` is one of posture, postures, time, window, seconds,
    number, fraction, int, layer, companion, compare."""

    name: str
    type: str
    default: Any = REQUIRED

    def parse(self, raw: Any, ctx: ParseContext, path: str) -> Any:
        t = self.type
        if t == "posture":
            return _posture(raw, ctx, path)
        if t == "postures":
            if not isinstance(raw, list) or not raw:
                raise ScenarioFileError(ctx.source, path, "a non-empty array of posture names", raw)
            return tuple(_posture(v, ctx, f"{path}[{i}]") for i, v in enumerate(raw))
        if t == "time":
            ref = parse_timeref(raw, ctx.n_faults)
            if ref is None:
                raise ScenarioFileError(ctx.source, path, _time_expected(ctx), raw)
            return ref
        if t == "window":
            if not isinstance(raw, list) or len(raw) != 2:
                raise ScenarioFileError(ctx.source, path, "a [from, to] pair of times", raw)
            return tuple(ParamSpec(self.name, "time").parse(v, ctx, f"{path}[{i}]") for i, v in enumerate(raw))
        if t == "seconds":
            value = parse_seconds(raw)
            if value is None or value < 0:
                raise ScenarioFileError(ctx.source, path, 'a duration >= 0 (seconds or like "5m")', raw)
            return value
        if t in ("number", "fraction"):
            lo, hi = (0.0, 1.0) if t == "fraction" else (-1e12, 1e12)
            try:
                return strict.number(raw, ctx.source, path, lo, hi)
            except strict.StrictError as exc:
                raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None
        if t == "int":
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 1_000_000_000:
                raise ScenarioFileError(ctx.source, path, "an integer in [0, 1e9]", raw)
            return raw
        if t == "layer":
            if not isinstance(raw, str) or (ctx.layers and raw not in ctx.layers):
                raise ScenarioFileError(ctx.source, path, f"a layer of the controller ({', '.join(ctx.layers)})", raw)
            return raw
        if t == "companion":
            if raw not in COMPANIONS:
                raise ScenarioFileError(ctx.source, path, f"one of {', '.join(COMPANIONS)}", raw)
            return raw
        if t == "compare":
            if raw not in ("eq", "le", "ge"):
                raise ScenarioFileError(ctx.source, path, "eq, le (at most) or ge (at least)", raw)
            return raw
        raise AssertionError(f"unknown parameter type {t}")


def _time_expected(ctx: ParseContext) -> str:
    if ctx.n_faults is None:
        return TIME_EXPECTED + " (no fault[i]: this scenario's faults are drawn per seed)"
    return TIME_EXPECTED + f" (fault indices 0..{ctx.n_faults - 1})" if ctx.n_faults else TIME_EXPECTED


def _posture(raw: Any, ctx: ParseContext, path: str) -> Posture:
    try:
        return Posture.parse(str(raw)) if isinstance(raw, str) else Posture[""]
    except KeyError:
        raise ScenarioFileError(ctx.source, path, "one of APEX, STALKER, TURTLE, HIBERNATE", raw) from None


@dataclass(frozen=True)
class ExpectationCheck:
    """A named expectation: its parameters and the function judging a run."""

    name: str
    doc: str
    params: tuple[ParamSpec, ...]
    fn: Callable[..., CheckResult]
    companion_param: str | None = None

    def parse(self, table: Mapping[str, Any], ctx: ParseContext, path: str) -> dict[str, Any]:
        names = tuple(p.name for p in self.params)
        for key in table:
            if key != "check" and key not in names:
                raise ScenarioFileError(ctx.source, f"{path}.{key}",
                                        f"a parameter of {self.name} ({', '.join(names) or 'none'}) (unknown key)")
        out = {}
        for p in self.params:
            if p.name in table:
                out[p.name] = p.parse(table[p.name], ctx, f"{path}.{p.name}")
            elif p.default is REQUIRED:
                raise ScenarioFileError(ctx.source, f"{path}.{p.name}", f"a value for {self.name}'s {p.name} (required)")
            else:
                out[p.name] = p.default
        _check_order(out, ctx, path)
        for p in self.params:
            if p.type == "window" and out[p.name] is not None:
                check_span(ctx, f"{path}.{p.name}", *out[p.name])
        if out.get("hold") is not None and out["hold"] <= 0:
            raise ScenarioFileError(ctx.source, f"{path}.hold", 'a hold > 0 (seconds or like "30m"; leave it out to '
                                    'hold to the end of the run)', out["hold"])
        if isinstance(out.get("after"), TimeRef) and "within" in out:
            after = out["after"]
            span = out["within"] + (out.get("hold") or 0.0)         # a stated hold must fit in the run too
            end = replace(after, offset_s=after.offset_s + span, text=f"{after}+{span:g}s")
            check_span(ctx, f"{path}.{'hold' if out.get('hold') else 'within'}", after, end)
        return out


_ORDERED = (("min", "max"), ("min_delta", "max_delta"))


def _check_order(out: Mapping[str, Any], ctx: ParseContext, path: str) -> None:
    """A lower bound above its upper bound can never hold: reject ``min > max`` in one expectation."""
    for lo, hi in _ORDERED:
        a, b = out.get(lo), out.get(hi)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b:
            raise ScenarioFileError(ctx.source, f"{path}.{lo}", f"{lo} <= {hi} ({hi} = {b:g})", a)


def _resolve(ref: TimeRef, ctx: ParseContext) -> float | None:
    """Seconds, or None when the reference depends on faults drawn per seed (judged at run time)."""
    if ref.anchor in ("abs", "start", "end"):
        return ref.resolve((), ctx.duration_s)
    return None if ctx.faults is None else ref.resolve(ctx.faults, ctx.duration_s)


def check_span(ctx: ParseContext, path: str, start: TimeRef, end: TimeRef) -> None:
    """A window ``[start, end]`` must lie inside the run ``[0, duration]`` with ``start <= end``."""
    t0, t1 = _resolve(start, ctx), _resolve(end, ctx)
    got = f"[{start}, {end}] = [{'?' if t0 is None else f'{t0:g} s'}, {'?' if t1 is None else f'{t1:g} s'}]"
    if any(t is not None and not math.isfinite(t) for t in (t0, t1)):
        raise ScenarioFileError(ctx.source, path, "a window whose times happen in the run (it refers to the heal of "
                                "a fault that never heals)", got)
    inside = all(t is None or 0.0 <= t <= ctx.duration_s for t in (t0, t1))
    if not inside or (t0 is not None and t1 is not None and t0 > t1):
        raise ScenarioFileError(ctx.source, path, f"a window inside the run [0, {ctx.duration_s:g} s] with "
                                f"from <= to", got)


EXPECTATIONS: dict[str, ExpectationCheck] = {}


def expectation(name: str, *params: ParamSpec, companion_param: str | None = None) -> Callable:
    """Register an expectation check (a decorator)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def judged(run: Any, **kwargs: Any) -> Any:
            try:
                return fn(run, **kwargs)
            except NotJudged as exc:
                return False, math.nan, f"cannot be judged: {exc}"

        EXPECTATIONS[name] = ExpectationCheck(name, (fn.__doc__ or "").strip().splitlines()[0], params, judged,
                                              companion_param)
        return fn

    return register
