"""Typed view of a run directory's ``manifest.json`` (format ``dolphin-nor.run/2``).

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

FORMAT = "dolphin-nor.run/2"
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
    signals: tuple[str, ...] | None = None        # controller signals its port can move (None: not recorded)
    expects_reaction: bool | None = None          # does the scenario expect a reaction (None: not recorded)

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
    layer_reads: Mapping[str, tuple[tuple[str, float, float, float], ...]] | None = None   # the scenario controller's layers
    liveness_judged: bool = True                  # liveness enabled or a recovers_to expectation


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
    companion_reads: Mapping[str, Mapping[str, tuple[tuple[str, float, float, float], ...]]] | None = None

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
        """A case directory relative to the run: ``scenario=<name>/seed=<n>`` with identifier values (never ``..``
        or absolute)."""
        value = self.text(data, key, field)
        parts = [part.partition("=") for part in value.split("/")]
        if len(parts) != 2 or [k for k, _, _ in parts] != ["scenario", "seed"] or \
                not all(strict.is_identifier(v) for _, _, v in parts):
            raise self.fail(f"{field}.{key}", "a path inside the run directory (scenario=<name>/seed=<n>)", value)
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


def _with_mechanisms(r: _Reader, d: Mapping[str, Any], faults: tuple[Fault, ...], field: str) -> tuple[Fault, ...]:
    """Faults annotated with the runner's ``mechanisms`` (parallel list), when recorded."""
    if "mechanisms" not in d:
        return faults
    mech = r.lst(d, "mechanisms", field)
    if len(mech) != len(faults):
        raise r.fail(f"{field}.mechanisms", f"a list parallel to faults ({len(faults)} entries)", len(mech))
    out = []
    for i, (f, m) in enumerate(zip(faults, mech)):
        where = f"{field}.mechanisms[{i}]"
        m = r.obj(m, where)
        sigs = r.lst(m, "signals", where)
        if not all(isinstance(x, str) for x in sigs):
            raise r.fail(f"{where}.signals", "a list of signal names", sigs)
        expects = m.get("expects_reaction")
        if not isinstance(expects, bool):
            raise r.fail(f"{where}.expects_reaction", "true or false", expects)
        out.append(Fault(f.kind, f.target, f.at_s, f.for_s, f.params, f.heals, tuple(sigs), expects))
    return tuple(out)


def layer_reads(r: _Reader, cfg: Mapping[str, Any], field: str) -> dict[str, tuple[tuple[str, float, float, float], ...]]:
    """Layer -> ((signal, deadband, direction, has_deadband), ...) of a recorded controller config
    (deadband 0 when the input has none; direction -1: the signal is bad below its deadband; a keepalive's
    limit and a flag's threshold — 0.5, bad below — count as deadbands)."""
    out = {}
    for i, layer in enumerate(r.lst(cfg, "layers", field, [])):
        where = f"{field}.layers[{i}]"
        layer = r.obj(layer, where)
        inputs = []
        for j, spec in enumerate(r.lst(layer, "inputs", where, [])):
            spec = r.obj(spec, f"{where}.inputs[{j}]")
            if spec.get("transform") == "flag":
                inputs.append((r.text(spec, "signal", f"{where}.inputs[{j}]"), 0.5, -1.0, 1.0))
                continue
            band_key = "max" if spec.get("transform") == "max_age" else "deadband"   # a keepalive's limit
            deadband, direction = spec.get(band_key, 0.0), spec.get("direction", 1.0)
            ok = isinstance(deadband, (int, float)) and not isinstance(deadband, bool)
            inputs.append((r.text(spec, "signal", f"{where}.inputs[{j}]"), float(deadband) if ok else 0.0,
                           -1.0 if isinstance(direction, (int, float)) and direction < 0 else 1.0,
                           1.0 if band_key in spec and ok else 0.0))
        out[r.text(layer, "name", where)] = tuple(inputs)
    return out


def _run(r: _Reader, data: Any, field: str) -> RunInfo:
    d = r.obj(data, field)
    verdict = r.text(d, "verdict", field)
    if verdict not in VERDICTS:
        raise r.fail(f"{field}.verdict", f"one of {', '.join(VERDICTS)}", verdict)
    failures = tuple(_failure(r, f, f"{field}.failures[{i}]") for i, f in enumerate(r.lst(d, "failures", field, [])))
    faults = (_with_mechanisms(r, d, tuple(_fault(r, f, f"{field}.faults[{i}]")
                                           for i, f in enumerate(r.lst(d, "faults", field))), field)
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


def _scenario(r: _Reader, data: Any, field: str, keepalive_max_s: float,
              reads: Mapping[str, tuple[tuple[str, float, float, float], ...]] | None) -> ScenarioInfo:
    d = r.obj(data, field)
    if d.get("controller") is not None:
        ctl = r.obj(d["controller"], f"{field}.controller")
        keepalive_max_s = _keepalive_max_s(r, ctl, f"{field}.controller")
        if ctl.get("config") is not None:
            reads = layer_reads(r, r.obj(ctl["config"], f"{field}.controller.config"), f"{field}.controller.config")
    faults = _with_mechanisms(r, d, tuple(_fault(r, f, f"{field}.faults[{i}]")
                                          for i, f in enumerate(r.lst(d, "faults", field, []))), field)
    expects = []
    for i, e in enumerate(r.lst(d, "expectations", field, [])):
        e = r.obj(e, f"{field}.expectations[{i}]")
        expects.append(Expectation(r.text(e, "check", f"{field}.expectations[{i}]"),
                                   dict(r.obj(e.get("params", {}), f"{field}.expectations[{i}].params"))))
    runs = tuple(_run(r, x, f"{field}.runs[{i}]") for i, x in enumerate(r.lst(d, "runs", field)))
    live = d.get("liveness")
    judged = (not isinstance(live, Mapping) or live.get("enabled", True) is not False) or any(
        e.check == "recovers_to" for e in expects)
    return ScenarioInfo(name=r.name(d, "name", field), file=r.text(d, "file", field, ""),
                        suite=r.text(d, "suite", field, ""), description=r.text(d, "description", field, ""),
                        duration_s=r.num(d, "duration_s", field), faults=faults, expectations=tuple(expects),
                        runs=runs, keepalive_max_s=keepalive_max_s, layer_reads=reads, liveness_judged=judged)


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
        old = " (run/1 directories hold Arrow IPC traces; this version reads Parquet ones: re-run the suite)" \
            if fmt == "dolphin-nor.run/1" else ""
        raise r.fail("format", repr(FORMAT) + old, fmt)
    ctl = r.obj(d.get("controller", {}), "controller")
    keepalive_max_s = _keepalive_max_s(r, ctl, "controller")
    reads = (layer_reads(r, r.obj(ctl["config"], "controller.config"), "controller.config")
             if ctl.get("config") is not None else None)
    scenarios = tuple(_scenario(r, s, f"scenarios[{i}]", keepalive_max_s, reads)
                      for i, s in enumerate(r.lst(d, "scenarios", "")))
    companion_reads = None
    if d.get("companion_configs") is not None:
        cc = r.obj(d["companion_configs"], "companion_configs")
        companion_reads = {str(k): layer_reads(r, r.obj(v, f"companion_configs.{k}"), f"companion_configs.{k}")
                           for k, v in cc.items()}
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
        jobs=r.integer(timings, "jobs", "timings", 1), keepalive_max_s=keepalive_max_s, code=_code(r, d),
        companion_reads=companion_reads)


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
