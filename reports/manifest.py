"""Typed view of a run directory's ``manifest.json`` (format ``dolphin-nor.run/1``).

``load_manifest(run_dir)`` validates every field the reports read and raises :class:`ManifestError`
naming the file, the field path and what was expected. Unknown keys are ignored, so a newer runner
that adds fields can still be reported on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from controller import strict

from .errors import ManifestError
from .invariants import DEFAULT_KEEPALIVE_MAX_S, HEARTBEAT

__all__ = ["FORMAT", "VERDICTS", "CodeInfo", "Failure", "Fault", "Expectation", "RunInfo", "ScenarioInfo", "Manifest",
           "load_manifest", "parse_manifest", "read_manifest", "verdict_rank"]

FORMAT = "dolphin-nor.run/1"
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_MAGNITUDE = 1e15
"""Largest magnitude of a number in a manifest (seconds, counts)."""
VERDICTS = ("ERROR", "SAFETY", "LIVENESS", "EXPECTATION", "PASS")
"""Verdicts, worst first (the runner's precedence)."""


def verdict_rank(verdict: str) -> int:
    """0 for the worst verdict (ERROR) … 4 for PASS."""
    return VERDICTS.index(verdict)


@dataclass(frozen=True)
class Failure:
    """One failed check: its name, kind (safety|liveness|expectation), when it failed and why."""

    check: str
    kind: str
    t_s: float
    message: str


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: ``kind`` on ``target`` from ``at_s`` for ``for_s`` seconds (0 = instantaneous);
    a fault that ``heals`` false is never undone (its window lasts to the end of the run)."""

    kind: str
    target: str
    at_s: float
    for_s: float
    params: Mapping[str, Any]
    heals: bool = True

    @property
    def end_s(self) -> float:
        return self.at_s + self.for_s if self.heals else math.inf

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}".strip()


@dataclass(frozen=True)
class Expectation:
    check: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class RunInfo:
    """One seed of one scenario, as the runner recorded it."""

    seed: int
    dir: str
    verdict: str
    wall_s: float
    replay: str
    failures: tuple[Failure, ...]
    config_id: str
    error: str
    trace_sha256: str
    faults: tuple[Fault, ...] | None = None      # this seed's faults when they differ per seed (swarm)
    companions: tuple[str, ...] | None = None    # the companions actually run for this case


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    file: str
    suite: str
    description: str
    duration_s: float
    faults: tuple[Fault, ...]
    expectations: tuple[Expectation, ...]
    runs: tuple[RunInfo, ...]
    keepalive_max_s: float = DEFAULT_KEEPALIVE_MAX_S   # heartbeat age beyond which an invariant is broken


@dataclass(frozen=True)
class CodeInfo:
    """The code that produced the run: SHA-256 of the bound files (each, and one over all), the git commit,
    and the uncommitted changes (``dirty``: empty when clean, None when the tree was not a git checkout)."""

    sha256: str
    files: Mapping[str, str]
    git: str
    dirty: tuple[str, ...] | None


@dataclass(frozen=True)
class Manifest:
    """The run directory's manifest; ``path`` is the manifest file."""

    path: Path
    run_id: str
    created_utc: str
    code_version: str
    command: str
    controller_name: str
    controller_spec: str
    config_id: str
    companions: tuple[str, ...]
    scenarios: tuple[ScenarioInfo, ...]
    verdicts: Mapping[str, int]
    wall_s: float
    jobs: int
    keepalive_max_s: float = DEFAULT_KEEPALIVE_MAX_S
    code: CodeInfo | None = None       # None: a manifest written before the code was recorded

    @property
    def run_dir(self) -> Path:
        return self.path.parent


class _Reader:
    """Field access with errors that name the file and the field path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, expected: str, got: object = None) -> ManifestError:
        return ManifestError(self.path, field, expected, got)

    def obj(self, data: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(field, "a JSON object", type(data).__name__)
        return data

    def lst(self, data: Mapping[str, Any], key: str, field: str, default: list | None = None) -> list:
        value = data.get(key, default)
        if not isinstance(value, list):
            raise self.fail(f"{field}.{key}".lstrip("."), "a JSON array", value)
        return value

    def text(self, data: Mapping[str, Any], key: str, field: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{field}.{key}".lstrip("."), "a string", value)
        return value

    def num(self, data: Mapping[str, Any], key: str, field: str, default: float | None = None,
            allow_nan: bool = False) -> float:
        value = data.get(key, default)
        if value is None and allow_nan:
            return math.nan
        if isinstance(value, float) and math.isnan(value) and allow_nan:
            return math.nan
        try:
            return strict.number(value, str(self.path), key, -MAX_MAGNITUDE, MAX_MAGNITUDE)
        except strict.StrictError:
            raise self.fail(f"{field}.{key}".lstrip("."), "a finite number", value) from None

    def integer(self, data: Mapping[str, Any], key: str, field: str, default: int | None = None) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 63:
            raise self.fail(f"{field}.{key}".lstrip("."), "an integer in [0, 2^63)", value)
        return value

    def name(self, data: Mapping[str, Any], key: str, field: str) -> str:
        value = data.get(key)
        if not strict.is_identifier(value):
            raise self.fail(f"{field}.{key}", f"a name: {strict.IDENTIFIER_RULE}", value)
        return value

    def case_dir(self, data: Mapping[str, Any], key: str, field: str) -> str:
        """A case directory relative to the run: identifier components only (never ``..`` or absolute)."""
        value = self.text(data, key, field)
        if not all(strict.is_identifier(part) for part in value.split("/")):
            raise self.fail(f"{field}.{key}", "a path inside the run directory (<scenario>/<seed>)", value)
        return value


def _failure(r: _Reader, data: Any, field: str) -> Failure:
    d = r.obj(data, field)
    return Failure(r.text(d, "check", field), r.text(d, "kind", field, ""),
                   r.num(d, "t_s", field, math.nan, allow_nan=True), r.text(d, "message", field, ""))


def _fault(r: _Reader, data: Any, field: str) -> Fault:
    d = r.obj(data, field)
    params = r.obj(d.get("params", {}), f"{field}.params")
    for_s = r.num(d, "for_s", field, 0.0)
    if for_s < 0:
        raise r.fail(f"{field}.for_s", "a duration >= 0", for_s)
    heals = d.get("heals", True)
    if not isinstance(heals, bool):
        raise r.fail(f"{field}.heals", "true or false", heals)
    return Fault(r.text(d, "kind", field), r.text(d, "target", field, ""), r.num(d, "at_s", field), for_s,
                 dict(params), heals)


def _run(r: _Reader, data: Any, field: str) -> RunInfo:
    d = r.obj(data, field)
    verdict = r.text(d, "verdict", field)
    if verdict not in VERDICTS:
        raise r.fail(f"{field}.verdict", f"one of {', '.join(VERDICTS)}", verdict)
    failures = tuple(_failure(r, f, f"{field}.failures[{i}]") for i, f in enumerate(r.lst(d, "failures", field, [])))
    faults = (tuple(_fault(r, f, f"{field}.faults[{i}]") for i, f in enumerate(r.lst(d, "faults", field)))
              if "faults" in d else None)
    companions = _companions(r, d, f"{field}.") if "companions" in d else None
    return RunInfo(seed=r.integer(d, "seed", field), dir=r.case_dir(d, "dir", field), verdict=verdict,
                   wall_s=r.num(d, "wall_s", field, math.nan, allow_nan=True), replay=r.text(d, "replay", field, ""),
                   failures=failures, config_id=r.text(d, "config_id", field, ""),
                   error=r.text(d, "error", field, ""), trace_sha256=r.text(d, "trace_sha256", field, ""),
                   faults=faults, companions=companions)


def _keepalive_max_s(r: _Reader, ctl: Mapping[str, Any], field: str) -> float:
    """The keepalive limit of a recorded controller config: the smallest ``max`` of a ``max_age``
    input on ``heartbeat.age_s``; the default limit when the config has no such input or is not recorded."""
    if ctl.get("config") is None:
        return DEFAULT_KEEPALIVE_MAX_S
    cfg = r.obj(ctl["config"], f"{field}.config")
    limits = []
    for i, layer in enumerate(r.lst(cfg, "layers", f"{field}.config", [])):
        where = f"{field}.config.layers[{i}]"
        for j, spec in enumerate(r.lst(r.obj(layer, where), "inputs", where, [])):
            spec = r.obj(spec, f"{where}.inputs[{j}]")
            if spec.get("signal") == HEARTBEAT and spec.get("transform") == "max_age":
                limits.append(r.num(spec, "max", f"{where}.inputs[{j}]"))
    return min(limits) if limits else DEFAULT_KEEPALIVE_MAX_S


def _scenario(r: _Reader, data: Any, field: str, keepalive_max_s: float) -> ScenarioInfo:
    d = r.obj(data, field)
    if d.get("controller") is not None:
        keepalive_max_s = _keepalive_max_s(r, r.obj(d["controller"], f"{field}.controller"), f"{field}.controller")
    faults = tuple(_fault(r, f, f"{field}.faults[{i}]") for i, f in enumerate(r.lst(d, "faults", field, [])))
    expects = []
    for i, e in enumerate(r.lst(d, "expectations", field, [])):
        e = r.obj(e, f"{field}.expectations[{i}]")
        expects.append(Expectation(r.text(e, "check", f"{field}.expectations[{i}]"),
                                   dict(r.obj(e.get("params", {}), f"{field}.expectations[{i}].params"))))
    runs = tuple(_run(r, x, f"{field}.runs[{i}]") for i, x in enumerate(r.lst(d, "runs", field)))
    return ScenarioInfo(name=r.name(d, "name", field), file=r.text(d, "file", field, ""),
                        suite=r.text(d, "suite", field, ""), description=r.text(d, "description", field, ""),
                        duration_s=r.num(d, "duration_s", field), faults=faults, expectations=tuple(expects),
                        runs=runs, keepalive_max_s=keepalive_max_s)


def _companions(r: _Reader, d: Mapping[str, Any], prefix: str = "") -> tuple[str, ...]:
    names = r.lst(d, "companions", prefix.rstrip("."), [])
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise r.fail(f"{prefix}companions[{i}]", "a companion name (nofault, static_ladder, seed_template)", name)
    return tuple(names)


def _code(r: _Reader, d: Mapping[str, Any]) -> CodeInfo | None:
    if d.get("code") is None:
        return None
    c = r.obj(d["code"], "code")
    files = r.obj(c.get("files"), "code.files")
    for name, digest in files.items():
        if not isinstance(digest, str):
            raise r.fail(f"code.files.{name}", "a SHA-256 (a string)", digest)
    dirty = c.get("dirty")
    if dirty is not None:
        dirty = r.lst(c, "dirty", "code")
        for i, name in enumerate(dirty):
            if not isinstance(name, str):
                raise r.fail(f"code.dirty[{i}]", "a path (a string)", name)
    return CodeInfo(r.text(c, "sha256", "code"), dict(files), r.text(c, "git", "code", ""),
                    None if dirty is None else tuple(dirty))


def parse_manifest(data: Any, path: str | Path) -> Manifest:
    """Validate a decoded manifest; ``path`` names it in errors."""
    r = _Reader(Path(path))
    d = r.obj(data, "")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise r.fail("format", repr(FORMAT), fmt)
    ctl = r.obj(d.get("controller", {}), "controller")
    keepalive_max_s = _keepalive_max_s(r, ctl, "controller")
    scenarios = tuple(_scenario(r, s, f"scenarios[{i}]", keepalive_max_s)
                      for i, s in enumerate(r.lst(d, "scenarios", "")))
    verdicts = r.obj(d.get("verdicts", {}), "verdicts")
    timings = r.obj(d.get("timings", {}), "timings")
    return Manifest(
        path=Path(path), run_id=r.text(d, "run_id", ""), created_utc=r.text(d, "created_utc", "", ""),
        code_version=r.text(d, "code_version", "", ""), command=r.text(d, "command", "", ""),
        controller_name=r.text(ctl, "name", "controller", ""), controller_spec=r.text(ctl, "spec", "controller", ""),
        config_id=r.text(ctl, "config_id", "controller", ""),
        companions=_companions(r, d),
        scenarios=scenarios, verdicts={str(k): r.integer(verdicts, k, "verdicts") for k in verdicts},
        wall_s=r.num(timings, "wall_s", "timings", math.nan, allow_nan=True),
        jobs=r.integer(timings, "jobs", "timings", 1), keepalive_max_s=keepalive_max_s, code=_code(r, d))


def load_manifest(run_dir: str | Path) -> Manifest:
    """Read and validate ``<run_dir>/manifest.json``."""
    return read_manifest(run_dir)[0]


def read_manifest(run_dir: str | Path) -> tuple[Manifest, dict[str, Any]]:
    """The one strict manifest reader of every command (report, compare, replay, promote): the typed
    view and the decoded JSON object it was validated from. Raises :class:`ManifestError` naming the
    file and field for anything else — a missing or non-regular file, bytes that are not UTF-8 JSON,
    nesting beyond :data:`controller.strict.MAX_DEPTH`, integers beyond 64 bits, wrong types."""
    run_dir = Path(run_dir)
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise ManifestError(run_dir, "", "a run directory (runs/<run-id>/ with manifest.json)", "no such directory")
    if not path.exists():
        raise ManifestError(path, "", "a manifest.json written by `nor run`", "no such file")
    try:
        strict.regular_file(str(path), str(path), "", "a manifest.json written by `nor run`")
        raw = path.read_bytes()
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ManifestError(path, "", f"a manifest of at most {MAX_MANIFEST_BYTES} bytes", f"{len(raw)} bytes")
        data = strict.load_json(raw.decode("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise ManifestError(path, "", "a readable UTF-8 file", str(exc)) from None
    except OSError as exc:
        raise ManifestError(path, "", "a readable file", exc.strerror or str(exc)) from None
    except strict.StrictError as exc:
        raise ManifestError(path, "" if exc.path.startswith("(") else exc.path, exc.expected, exc.got) from None
    return parse_manifest(data, path), data
