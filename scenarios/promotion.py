"""Promotion: a controller config earns paper trading with evidence re-derived from a suite run.

``promote`` writes a signed record (:mod:`.record`) only if the evidence run directory proves the config
(see :mod:`.evidence` for what is re-derived and in which order): the default suite is always required and
``suites`` add to it. ``require_promotion`` is the gate ``nor paper`` uses: a record signed by a trusted key,
for exactly this config, bound to the code running now.

Records live in ``<records>/<config_id>.json``; ``records_dir`` defaults to ``promotions/`` beside the config
file (:func:`default_records_dir`), never the working directory.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from controller import ControllerConfig, load_config
from reports.manifest import Manifest, load_manifest

from .codestate import CodeState, code_changes
from .errors import ScenarioError
from .evidence import (Case, EvidenceRefused, check_code, draw_sample, match_cases, required_scenarios,
                       resolve_suites, verify_cases)
from .record import (RECORD_FORMAT, PromotionError, RecordInvalid, RecordRefused, read_record, sign_record,
                     verify_record, write_record)
from .signing import PublicKey, SigningKey

__all__ = ["PromotionError", "PromotionRecord", "Promotion", "promote", "require_promotion", "default_records_dir",
           "DEFAULT_SUITES", "RECORD_FORMAT"]

DEFAULT_SUITES = ("default",)


def default_records_dir(config_path: str | Path) -> Path:
    """``promotions/`` in the config file's directory."""
    return Path(config_path).resolve().parent / "promotions"


@dataclass(frozen=True)
class PromotionRecord:
    """A written (or accepted) promotion record."""

    path: Path
    data: Mapping[str, Any]

    @property
    def config_id(self) -> str:
        return str(self.data["config_id"])


@dataclass
class Promotion:
    """The outcome of ``promote``: the record and how long each stage took (wall seconds: hash_s; replay_s, the
    replay sample on the workers, during which this process re-judges the other cases for rejudge_s; total_s;
    cpu_s: CPU seconds of this process and of the replayed cases on the workers; own_cpu_s: this process's)."""

    record: PromotionRecord
    cases: int
    replayed: int
    timings: dict[str, float] = field(default_factory=dict)


def _suites_entry(cases: Sequence[Case]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cases:
        req = c.required
        suite = out.setdefault(req.suite, {"source": str(Path(req.scenario.file).resolve().parent), "scenarios": {}})
        entry = suite["scenarios"].setdefault(req.scenario.name, {"file_sha256": req.sha256,
                                                                  "declared_seeds": list(req.scenario.seeds),
                                                                  "seeds": []})
        entry["seeds"].append(c.run.seed)
    return out


def _record_data(config_path: Path, config: ControllerConfig, manifest: Manifest, manifest_sha256: str,
                 cases: Sequence[Case], sample: Sequence[Case], sample_seed: int, code: CodeState,
                 now_utc: str, code_version: str) -> dict[str, Any]:
    traces = {f"{c.run.dir}/{name}": digest for c in cases for name, digest in sorted(c.files.items())}
    return {
        "format": RECORD_FORMAT,
        "config_id": config.config_id, "config_name": config.name, "config_path": str(config_path.resolve()),
        "config": config.to_dict(),
        "suites": _suites_entry(cases),
        "evidence": {"run_id": manifest.run_id, "dir": str(manifest.run_dir.resolve()),
                     "manifest_sha256": manifest_sha256, "created_utc": manifest.created_utc,
                     "code_version": manifest.code_version, "verdicts": "re-derived: every check passed on the traces",
                     "cases": len(cases), "traces": traces},
        "replay": {"seed": sample_seed, "cases": [f"{c.required.scenario.name}/{c.run.seed}" for c in sample],
                   "byte_identical": True},
        "code": {"sha256": code.sha256, "git": code.git, "files": dict(code.files)},
        "promoted_utc": now_utc, "promoted_by": code_version,
    }


def explain_lines(data: Mapping[str, Any], key: SigningKey, path: Path) -> list[str]:
    """What a record binds, for ``nor promote --explain``."""
    ev, code, replay = data["evidence"], data["code"], data["replay"]
    lines = [f"config      {data['config_name']} {data['config_id']} ({data['config_path']})",
             f"evidence    run {ev['run_id']} ({ev['dir']}), manifest sha256 {ev['manifest_sha256']}",
             f"traces      {len(ev['traces'])} files of {ev['cases']} cases, each by SHA-256; verdicts {ev['verdicts']}"]
    for suite, entry in data["suites"].items():
        seeds = sorted({s for sc in entry["scenarios"].values() for s in sc["seeds"]})
        lines.append(f"suite       {suite}: {len(entry['scenarios'])} scenarios ({entry['source']}), seeds "
                     f"{', '.join(map(str, seeds))}")
    lines += [f"replay      seed {replay['seed']}: {len(replay['cases'])} cases byte-identical "
              f"({', '.join(replay['cases'][:4])}{', ...' if len(replay['cases']) > 4 else ''})",
              f"code        sha256 {code['sha256']} over {len(code['files'])} files ({code['git']}), incl. "
              f".ci/constraints.txt {code['files'].get('.ci/constraints.txt', '(absent)')[:12]}",
              f"signed by   {key.public.key_id} ({key.public.text}) from {key.path}",
              f"record      {path}"]
    return lines


def promote(config_path: str | Path, evidence: str | Path, *, key: SigningKey, code: CodeState, now_utc: str,
            code_version: str, suites: Sequence[str] = (), always: Sequence[str] = DEFAULT_SUITES,
            records_dir: str | Path | None = None, sample_seed: int = 0, jobs: int = 0,
            say: Callable[[str], None] | None = None) -> Promotion:
    """Check ``evidence`` for ``config_path`` and write its signed record; PromotionError if it does not hold.

    ``always`` are the suites every promotion needs (the CLI: the default suite); ``suites`` add to them.
    ``code`` is the code running now (the CLI: ``code_state()``); ``say``, when given, gets the lines of
    ``--explain`` before the record is written. Invalid input (config, manifest, suite files) raises the
    package's own error (the CLI: exit 2).
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    config_path, timings = Path(config_path), {}
    config = load_config(config_path)
    manifest = load_manifest(evidence)
    if manifest.config_id != config.config_id:
        raise EvidenceRefused(f"{manifest.run_dir}: the evidence ran config {manifest.config_id[:12]} "
                              f"({manifest.controller_name}), not this config {config.config_id[:12]} ({config.name}): "
                              f"re-run the suites with --controller {config_path}")
    manifest_sha256 = hashlib.sha256(manifest.path.read_bytes()).hexdigest()
    check_code(manifest, code)
    required = required_scenarios(resolve_suites([*always, *suites]), config_path, config)
    cases = match_cases(manifest, required, config)
    timings["hash_s"] = time.perf_counter() - t0
    sample = draw_sample(cases, sample_seed)
    timings["rejudge_s"], replay_cpu_s = verify_cases(cases, sample, jobs or os.cpu_count() or 1)
    timings["replay_s"] = time.perf_counter() - t0 - timings["hash_s"]
    data = _record_data(config_path, config, manifest, manifest_sha256, cases, sample, sample_seed, code, now_utc,
                        code_version)
    out = Path(records_dir) if records_dir is not None else default_records_dir(config_path)
    if say is not None:
        for line in explain_lines(data, key, out / f"{config.config_id}.json"):
            say(line)
    try:
        path = write_record(out, sign_record(data, key))
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot write the promotion record there ({type(exc).__name__}: {exc})") from None
    timings["total_s"] = time.perf_counter() - t0
    timings["own_cpu_s"] = time.process_time() - cpu0
    timings["cpu_s"] = timings["own_cpu_s"] + replay_cpu_s
    return Promotion(PromotionRecord(path, data), len(cases), len(sample), timings)


def require_promotion(config_path: str | Path, *, trusted: Sequence[PublicKey], trusted_file: Path,
                      code: CodeState, records_dir: str | Path | None = None
                      ) -> tuple[ControllerConfig, PromotionRecord]:
    """The config and its record, if signed by a trusted key and bound to ``code``; else PromotionError.

    RecordInvalid (exit 2) for a record that is not a well-formed record.
    """
    config_path = Path(config_path)
    config = load_config(config_path)
    records = Path(records_dir) if records_dir is not None else default_records_dir(config_path)
    path = records / f"{config.config_id}.json"
    if not path.is_file():
        earlier = _records_for_path(records, config_path, trusted, trusted_file)
        if earlier:
            raise PromotionError(f"{config_path}: changed since it was promoted (promoted config id {earlier[0][:12]}, "
                                 f"now {config.config_id[:12]}): run the suites on it and `nor promote` it again")
        raise PromotionError(f"{config_path}: config {config.config_id[:12]} has no promotion record in {records}: "
                             f"`nor promote {config_path} --evidence RUN_DIR` first")
    record = read_record(path)
    verify_record(record, trusted, trusted_file)
    if record.config_id != config.config_id:
        raise PromotionError(f"{path}: the record promotes config {record.config_id[:12]}, not {config_path} "
                             f"({config.config_id[:12]})")
    if record.data["code"]["sha256"] != code.sha256:
        changes = code_changes(record.code_files, code.files)
        raise PromotionError(f"{path}: the code changed since promotion (bound code sha256 "
                             f"{record.data['code']['sha256'][:12]}, running {code.sha256[:12]}): "
                             f"{', '.join(changes[:8])}{', ...' if len(changes) > 8 else ''}: re-run the suites and "
                             f"`nor promote` again")
    return config, PromotionRecord(path, record.data)


def _records_for_path(records: Path, config_path: Path, trusted: Sequence[PublicKey], trusted_file: Path) -> list[str]:
    """Config ids of the valid, trusted records of ``config_path`` (other files in the directory are skipped)."""
    if not records.is_dir():
        return []
    ids, target = [], str(config_path.resolve())
    for path in sorted(records.glob("*.json")):
        try:
            record = read_record(path)
            verify_record(record, trusted, trusted_file)
        except (RecordInvalid, RecordRefused):
            continue
        if record.data.get("config_path") == target:
            ids.append(record.config_id)
    return ids

