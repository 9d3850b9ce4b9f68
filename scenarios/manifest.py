"""The run directory's ``manifest.json`` (format ``dolphin-nor.run/2``), code version and run ids."""

from __future__ import annotations

import json
import secrets
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from controller import ControllerConfig

from .case import VERDICTS, CaseResult
from .codestate import CodeState, code_state
from .mechanism import companion_configs, mechanism_entries
from .model import Scenario

__all__ = ["FORMAT", "code_version", "new_run_id", "scenario_entry", "run_entry", "build_manifest", "write_manifest",
           "read_manifest", "replay_command", "REPLAY_FROM"]

FORMAT = "dolphin-nor.run/2"
_ROOT = Path(__file__).resolve().parents[1]


def code_version(root: Path = _ROOT) -> str:
    """``git:<sha>[+dirty]`` of the source tree, else ``package:<version>``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=10)
            return f"git:{sha.stdout.strip()}" + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"package:{metadata.version('dolphin-nor')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def new_run_id(now: datetime) -> str:
    """``YYYYMMDD-HHMMSS-xxxxxx`` from ``now`` (UTC) and a random token."""
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


REPLAY_FROM = "the run directory"
"""Where the recorded replay commands run: they name the run directory as ``.``, so a run directory copied or
downloaded elsewhere (a CI artifact) still replays from inside it."""


def replay_command(scenario: str, seed: int, run_dir: str | Path = ".") -> str:
    """``nor replay RUN_DIR SCENARIO --seed N``; RUN_DIR ``.`` (the default) as recorded in the run's outputs."""
    return f"nor replay {run_dir} {scenario} --seed {seed}"


def controller_entry(config: ControllerConfig, spec: str) -> dict[str, Any]:
    return {"name": config.name, "spec": spec, "config_id": config.config_id, "config": config.to_dict()}


def run_entry(result: CaseResult, duration_s: float, scenario: Scenario | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seed": result.seed, "dir": result.dir, "verdict": result.verdict, "wall_s": result.wall_s,
        "config_id": result.config_id,
        "failures": [{"check": c.check, "kind": c.kind, "t_s": None if c.t_s != c.t_s else c.t_s,
                      "message": c.message} for c in result.failures],
        "replay": replay_command(result.scenario, result.seed),
        "trace_sha256": result.trace_sha256,
        "faults": [f.to_dict(duration_s) for f in result.faults],
        "companions": list(result.companions),
    }
    if scenario is not None:
        entry["mechanisms"] = mechanism_entries(scenario.expectations, result.faults, scenario.world,
                                                scenario.controller)
    if result.verdict == "ERROR":
        entry["error"] = result.error
    return entry


def scenario_entry(s: Scenario, results: Sequence[CaseResult]) -> dict[str, Any]:
    return {
        "name": s.name, "file": s.file, "suite": s.suite, "description": s.description, "duration_s": s.duration_s,
        "faults": [f.to_dict(s.duration_s) for f in s.faults],
        "mechanisms": mechanism_entries(s.expectations, s.faults, s.world, s.controller),
        "swarm": s.swarm.to_dict() if s.swarm is not None else None,
        "expectations": [e.to_dict() for e in s.expectations],
        "liveness": s.liveness.to_dict(), "safety": s.safety.to_dict(),
        "controller": controller_entry(s.controller, s.controller_spec),
        "toml": s.text,
        "runs": [run_entry(r, s.duration_s, s) for r in sorted(results, key=lambda r: r.seed)],
    }


def build_manifest(*, run_id: str, created: datetime, command: str, controller: ControllerConfig,
                   controller_spec: str, companions: Sequence[str], scenarios: Sequence[Scenario],
                   results: Sequence[CaseResult], wall_s: float, jobs: int,
                   code: CodeState | None = None) -> dict[str, Any]:
    """The manifest; ``code`` (default: this source tree's) is the bound code's hash and the tree's state."""
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        counts[r.verdict] += 1
    by_name: dict[str, list[CaseResult]] = {}
    for r in results:
        by_name.setdefault(r.scenario, []).append(r)
    return {
        "format": FORMAT, "run_id": run_id, "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code_version": code_version(), "code": (code or code_state()).to_dict(), "command": command,
        "controller": controller_entry(controller, controller_spec),
        "companions": list(companions),
        "companion_configs": companion_configs(companions),
        "scenarios": [scenario_entry(s, by_name.get(s.name, [])) for s in scenarios],
        "verdicts": counts, "timings": {"wall_s": round(wall_s, 3), "jobs": jobs},
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    path = run_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The decoded manifest, validated by the one strict reader (:func:`reports.read_manifest`)."""
    from reports import ManifestError
    from reports import read_manifest as strict_read

    from .errors import RunDirError

    try:
        return strict_read(run_dir)[1]
    except ManifestError as exc:
        raise RunDirError(str(exc)) from None
