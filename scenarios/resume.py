"""``nor run --resume RUN_DIR``: run only the cases an interrupted (or ``--fail-fast``) run did not finish.

An incomplete manifest (``"complete": false``) lists ``not_run`` and records under ``resume`` what the
run was asked (its ``--controller`` and companions). The missing cases run into the same directory with
the scenario files the manifest names; their entries are merged into the manifest, which is complete
again when nothing is left.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from reports.manifest import read_manifest

from .errors import RunDirError, ScenarioFileError
from .loader import load_scenarios
from .runner import RunOptions, RunResult, run_suite

__all__ = ["resume_run", "merge_manifests"]


def merge_manifests(prior: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The prior manifest with the new run's cases added (scenario order and finished cases kept)."""
    merged = dict(prior)
    fresh = {s["name"]: s for s in new["scenarios"]}
    scenarios = []
    for s in prior["scenarios"]:
        entry = dict(s)
        if s["name"] in fresh:
            entry["runs"] = sorted(s["runs"] + fresh[s["name"]]["runs"], key=lambda r: r["seed"])
        scenarios.append(entry)
    merged["scenarios"] = scenarios
    counts = {v: 0 for v in new["verdicts"]}
    for s in scenarios:
        for r in s["runs"]:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    merged["verdicts"] = counts
    merged["timings"] = {"wall_s": round(prior["timings"]["wall_s"] + new["timings"]["wall_s"], 3),
                         "jobs": new["timings"]["jobs"]}
    for key in ("complete", "not_run", "stopped_by", "resume"):
        merged.pop(key, None)
    if new.get("complete") is False:
        for key in ("complete", "not_run", "stopped_by", "resume"):
            merged[key] = new[key]
    merged["resumed_by"] = prior.get("resumed_by", []) + [new["command"]]
    return merged


def resume_run(run_dir: Path, options: RunOptions) -> RunResult:
    """Run the missing cases of ``run_dir`` into it and merge the manifest."""
    manifest, raw = read_manifest(run_dir)
    where = str(manifest.path)
    if raw.get("complete", True) is not False:
        raise RunDirError(f"{where}: complete: expected an incomplete run (nothing to resume)")
    missing = raw.get("not_run")
    recorded = raw.get("resume")
    if not isinstance(missing, list) or not isinstance(recorded, dict):
        raise ScenarioFileError(where, "not_run", "the list of cases not run and the run's resume options")
    wanted: dict[str, list[int]] = {}
    for i, case in enumerate(missing):
        name, _, seed = str(case).rpartition("/")
        if not name or not seed.isdigit():
            raise ScenarioFileError(where, f"not_run[{i}]", "SCENARIO/SEED", case)
        wanted.setdefault(name, []).append(int(seed))
    files = [s.file for s in manifest.scenarios if s.name in wanted]
    for f in files:
        if not Path(f).is_file():
            raise ScenarioFileError(where, "scenarios[].file", "a scenario file that still exists (paths are "
                                    "relative to where nor run ran)", f)
    controller = recorded.get("controller")
    scenarios = [replace(s, seeds=tuple(sorted(wanted[s.name])))
                 for s in load_scenarios(files, controller=controller) if s.name in wanted]
    opts = replace(options, run_dir=run_dir, controller=controller, companions=bool(recorded.get("companions", True)),
                   seeds=None, seed_list=None, prior=raw)
    return run_suite(scenarios, opts)
