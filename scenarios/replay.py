"""``nor replay``: re-run one recorded case exactly and confirm its trace is byte-identical."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from controller import ConfigError, ControllerConfig

from .case import CaseResult, run_case
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


def scenario_from_manifest(entry: dict[str, Any]) -> Scenario:
    """The scenario exactly as the run used it: its recorded TOML text and controller config."""
    try:
        config = ControllerConfig.from_mapping(entry["controller"]["config"], source="manifest controller")
        text, file = entry["toml"], entry["file"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise RunDirError(f"scenario {entry.get('name')!r} in the manifest lacks a usable toml/controller record "
                          f"({exc})") from None
    return load_scenario_text(text, file, suite=entry.get("suite", ""), base_dir=Path(file).parent,
                              exact_config=config)


def _file_digests(case_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(case_dir.glob("*.arrow"))}


def replay_case(run_dir: Path, scenario: str, seed: int, out: Path | None = None,
                echo: Callable[[str], None] = print) -> ReplayResult:
    """Re-run ``scenario`` at ``seed`` from ``run_dir``'s manifest into ``out`` (default: a temporary directory)."""
    manifest = read_manifest(run_dir)
    entries = {s["name"]: s for s in manifest.get("scenarios", [])}
    if scenario not in entries:
        raise RunDirError(f"{run_dir}: no scenario {scenario!r}; the run has {', '.join(sorted(entries)) or 'none'}")
    entry = entries[scenario]
    runs = {r["seed"]: r for r in entry.get("runs", [])}
    if seed not in runs:
        raise RunDirError(f"{run_dir}: scenario {scenario!r} has no seed {seed}; seeds: {', '.join(map(str, sorted(runs)))}")
    recorded = runs[seed]
    sc = replace(scenario_from_manifest(entry), seeds=(seed,))
    if recorded.get("config_id") and sc.controller.config_id != recorded["config_id"]:
        raise RunDirError(f"{run_dir}: the recorded controller config does not hash to the run's config_id")
    echo(f"replay {scenario} seed={seed} controller={sc.controller.name} ({sc.controller.config_id[:12]}) "
         f"duration={sc.duration_s:g}s faults={len(sc.faults_for(seed))}")
    with tempfile.TemporaryDirectory(prefix="nor-replay-") as tmp:
        case_dir = (out or Path(tmp)) / scenario / str(seed)
        result = run_case(sc, seed, case_dir, f"{scenario}/{seed}", tuple(recorded.get("companions", ())))
        original = run_dir / recorded["dir"]
        differing = []
        if original.is_dir():
            mine, theirs = _file_digests(case_dir), _file_digests(original)
            differing = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
        identical = result.trace_sha256 == recorded.get("trace_sha256") and not differing
    return ReplayResult(recorded, result, identical, differing)
