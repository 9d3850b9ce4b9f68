"""``nor replay``: re-run one recorded case exactly and confirm its trace is byte-identical."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from controller import ConfigError, ControllerConfig
from reports.files import OutputError, digest_regular
from traceio import TraceFileError, case_dir_name, table_files

from .case import CaseResult, run_case
from .checks import COMPANIONS
from .errors import RunDirError
from .loader import load_scenario_text
from .manifest import read_manifest
from .model import Scenario

__all__ = ["ReplayResult", "replay_case", "scenario_from_manifest"]


@dataclass
class ReplayResult:
    recorded: dict[str, Any]
    result: CaseResult
    identical: bool
    differing: list[str]
    on_disk_sha256: str = ""        # the recorded case directory's files as they are now ("" if missing)


def _bad(where: Path, field: str, expected: str, got: Any) -> RunDirError:
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    return RunDirError(f"{where}: {field}: expected {expected}, got {shown}")


def _record(where: Path, data: Any, field: str, key: str, kind: type, expected: str) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(where, f"{field}.{key}", expected, value)
    return value


def scenario_from_manifest(entry: dict[str, Any], where: Path = Path("manifest.json"),
                           field: str = "scenario") -> Scenario:
    """The scenario exactly as the run used it: its recorded TOML text and controller config."""
    text = _record(where, entry, field, "toml", str, "the scenario's TOML text (a string)")
    file = _record(where, entry, field, "file", str, "the scenario's file path (a string)")
    controller = _record(where, entry, field, "controller", dict, "the controller record (an object)")
    data = _record(where, controller, f"{field}.controller", "config", dict, "the controller config (an object)")
    try:
        config = ControllerConfig.from_mapping(data, source="manifest controller")
    except ConfigError as exc:
        raise RunDirError(f"{where}: {field}.controller.config: expected a valid controller config ({exc})") from None
    suite = entry.get("suite", "")
    return load_scenario_text(text, file, suite=suite if isinstance(suite, str) else "", base_dir=Path(file).parent,
                              exact_config=config)


def _file_digests(case_dir: Path) -> dict[str, str]:
    try:
        return {p.name: digest_regular([p]) for p in table_files(case_dir)}
    except (OutputError, TraceFileError) as exc:
        raise RunDirError(str(exc)) from None


def _find_case(manifest: dict[str, Any], where: Path, scenario: str, seed: int) -> tuple[dict, str, dict]:
    """(scenario record, its field path, the seed's run record), every field replay reads type-checked."""
    scenarios = manifest.get("scenarios")
    if not isinstance(scenarios, list):
        raise _bad(where, "scenarios", "an array of scenario records", scenarios)
    names = []
    found: tuple[int, dict] | None = None
    for i, entry in enumerate(scenarios):
        name = _record(where, entry, f"scenarios[{i}]", "name", str, "a string")
        names.append(name)
        if name == scenario:
            found = (i, entry)
    if found is None:
        raise RunDirError(f"{where.parent}: no scenario {scenario!r}; the run has {', '.join(sorted(names)) or 'none'}")
    i, entry = found
    field = f"scenarios[{i}]"
    runs = _record(where, entry, field, "runs", list, "an array of run records")
    seeds = [_record(where, r, f"{field}.runs[{j}]", "seed", int, "an integer seed") for j, r in enumerate(runs)]
    if seed not in seeds:
        raise RunDirError(f"{where.parent}: scenario {scenario!r} has no seed {seed}; seeds: "
                          f"{', '.join(map(str, sorted(seeds))) or 'none'}")
    j = seeds.index(seed)
    recorded = runs[j]
    run_field = f"{field}.runs[{j}]"
    _record(where, recorded, run_field, "dir", str, "the case directory (a string path relative to the run)")
    _record(where, recorded, run_field, "trace_sha256", str, "the trace SHA-256 (a string)")
    companions = recorded.get("companions", [])
    if not isinstance(companions, list) or any(c not in COMPANIONS for c in companions):
        raise _bad(where, f"{run_field}.companions", f"an array of companion names ({', '.join(COMPANIONS)})",
                   companions)
    if "config_id" in recorded and not isinstance(recorded["config_id"], str):
        raise _bad(where, f"{run_field}.config_id", "a config id (a string)", recorded["config_id"])
    return entry, field, recorded


def replay_case(run_dir: Path, scenario: str, seed: int, out: Path | None = None,
                echo: Callable[[str], None] = print) -> ReplayResult:
    """Re-run ``scenario`` at ``seed`` from ``run_dir``'s manifest into ``out`` (default: a temporary directory)."""
    manifest = read_manifest(run_dir)
    entry, field, recorded = _find_case(manifest, run_dir / "manifest.json", scenario, seed)
    sc = replace(scenario_from_manifest(entry, run_dir / "manifest.json", field), seeds=(seed,))
    if recorded.get("config_id") and sc.controller.config_id != recorded["config_id"]:
        raise RunDirError(f"{run_dir}: the recorded controller config does not hash to the run's config_id")
    echo(f"replay {scenario} seed={seed} controller={sc.controller.name} ({sc.controller.config_id[:12]}) "
         f"duration={sc.duration_s:g}s faults={len(sc.faults_for(seed))}")
    with tempfile.TemporaryDirectory(prefix="nor-replay-") as tmp:
        case_dir = (out or Path(tmp)) / case_dir_name(scenario, seed)
        result = run_case(sc, seed, case_dir, case_dir_name(scenario, seed), tuple(recorded.get("companions", ())))
        original = run_dir / recorded["dir"]
        differing, on_disk = [], ""
        if original.is_dir():
            mine, theirs = _file_digests(case_dir), _file_digests(original)
            differing = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
            on_disk = digest_regular(list(table_files(original)))
        identical = result.trace_sha256 == recorded.get("trace_sha256") and not differing
    return ReplayResult(recorded, result, identical, differing, on_disk)
