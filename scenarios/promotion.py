"""Promotion: a controller config earns paper trading with evidence from the scenario suites.

``promote`` writes a promotion record only if the evidence run directory used exactly that
config (same config id, for the run and for every case in it), every required suite is
present and every one of its cases passed, and the evidence traces are the ones the
manifest recorded (their SHA-256). ``require_promotion`` is the gate ``nor paper`` uses: it
refuses a config without a matching record, or whose content changed since.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from controller import ControllerConfig, load_config

from .case import trace_sha256

__all__ = ["PromotionError", "PromotionRecord", "promote", "require_promotion",
           "DEFAULT_SUITES", "RECORD_FORMAT"]

RECORD_FORMAT = "dolphin-nor.promotion/1"
DEFAULT_SUITES = ("default",)


class PromotionError(Exception):
    """Promotion refused, or a config is not promoted; the message says what blocks it."""


@dataclass(frozen=True)
class PromotionRecord:
    """What was promoted, on which evidence."""

    path: Path
    data: dict[str, Any]

    @property
    def config_id(self) -> str:
        return str(self.data["config_id"])


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromotionError(f"{path}: no manifest: expected a run directory written by `nor run`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PromotionError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != "dolphin-nor.run/1":
        raise PromotionError(f"{path}: format: expected 'dolphin-nor.run/1', got {data.get('format') if isinstance(data, dict) else data!r}")
    return data


def _check_config(manifest: dict[str, Any], config: ControllerConfig, run_dir: Path) -> None:
    ctl = manifest.get("controller") or {}
    evidence_id = ctl.get("config_id")
    if evidence_id != config.config_id:
        raise PromotionError(
            f"{run_dir}: the evidence ran config {str(evidence_id)[:12]} ({ctl.get('name')}), not this config "
            f"{config.config_id[:12]} ({config.name}): re-run the suites with --controller <this file>")


def _check_suites(manifest: dict[str, Any], config_id: str, suites: Sequence[str],
                  run_dir: Path) -> dict[str, dict[str, Any]]:
    scenarios = manifest.get("scenarios") or []
    summary: dict[str, dict[str, Any]] = {}
    for suite in suites:
        members = [s for s in scenarios if s.get("suite") == suite]
        if not members:
            found = sorted({str(s.get("suite")) for s in scenarios})
            raise PromotionError(f"{run_dir}: required suite {suite!r} is not in the evidence "
                                 f"(suites run: {', '.join(found) or 'none'})")
        builtin = _builtin_suite(suite)
        missing = sorted(set(builtin) - {str(s.get("name")) for s in members})
        if missing:
            raise PromotionError(f"{run_dir}: suite {suite!r} is incomplete in the evidence: "
                                 f"{len(missing)} of its scenarios did not run ({', '.join(missing[:5])}"
                                 f"{', ...' if len(missing) > 5 else ''})")
        verdicts: dict[str, int] = {}
        for scenario in members:
            name = str(scenario.get("name"))
            if name in builtin and scenario.get("toml") != builtin[name]:
                raise PromotionError(f"{run_dir}: suite {suite!r}: scenario {name} is not the built-in "
                                     f"scenarios/{suite}/ file (its text differs): run the built-in suite")
            runs = scenario.get("runs")
            if not isinstance(runs, list) or not runs:
                raise PromotionError(f"{run_dir}: suite {suite!r}: scenario {name} has no runs in the evidence")
            for run in runs:
                where = f"{scenario.get('name')} seed {run.get('seed')}"
                if run.get("config_id") not in (None, config_id):
                    raise PromotionError(f"{run_dir}: {where} ran a different config "
                                         f"({str(run.get('config_id'))[:12]}: inline [controller] overrides?)")
                verdict = str(run.get("verdict"))
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
                if verdict != "PASS":
                    failure = (run.get("failures") or [{}])[0]
                    detail = failure.get("message") or run.get("error") or ""
                    raise PromotionError(f"{run_dir}: suite {suite!r}: {where} is {verdict}"
                                         f"{': ' + detail if detail else ''} (replay: {run.get('replay')})")
                _check_trace(run_dir, run, where)
        summary[suite] = {"scenarios": len(members), "runs": sum(verdicts.values()), "verdicts": verdicts}
    return summary


def _builtin_suite(suite: str) -> dict[str, str]:
    """Name -> file text of a built-in suite's scenarios (``scenarios/<suite>/*.toml``); empty otherwise."""
    directory = Path(__file__).resolve().parent / suite
    texts: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else ():
        text = path.read_text(encoding="utf-8")
        try:
            name = str(tomllib.loads(text).get("name", path.stem))
        except tomllib.TOMLDecodeError:
            name = path.stem
        texts[name] = text
    return texts


def _check_trace(run_dir: Path, run: dict[str, Any], where: str) -> None:
    expected = run.get("trace_sha256")
    case_dir = run_dir / str(run.get("dir"))
    if not expected:
        raise PromotionError(f"{run_dir}: {where}: the manifest records no trace_sha256 to verify the evidence")
    if not case_dir.is_dir():
        raise PromotionError(f"{case_dir}: missing: the evidence traces of {where} are gone")
    if trace_sha256(case_dir) != expected:
        raise PromotionError(f"{case_dir}: the traces of {where} differ from those the manifest recorded")


def promote(config_path: str | Path, evidence: str | Path, *, suites: Sequence[str] = DEFAULT_SUITES,
            records_dir: str | Path = "promotions", now_utc: str, code_version: str) -> PromotionRecord:
    """Write the promotion record of ``config_path`` if ``evidence`` proves it; else raise PromotionError.

    ``now_utc`` (ISO 8601) and ``code_version`` are injected by the caller (the CLI).
    """
    config_path, run_dir = Path(config_path), Path(evidence)
    config = load_config(config_path)
    manifest = _read_manifest(run_dir)
    _check_config(manifest, config, run_dir)
    summary = _check_suites(manifest, config.config_id, list(suites) or list(DEFAULT_SUITES), run_dir)
    data = {
        "format": RECORD_FORMAT,
        "config_id": config.config_id,
        "config_name": config.name,
        "config_path": str(config_path),
        "config": config.to_dict(),
        "suites": summary,
        "evidence": {"run_id": manifest.get("run_id"), "dir": str(run_dir.resolve()),
                     "code_version": manifest.get("code_version"), "created_utc": manifest.get("created_utc")},
        "promoted_utc": now_utc,
        "promoted_by": code_version,
    }
    out = Path(records_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{config.config_id}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return PromotionRecord(path, data)


def require_promotion(config_path: str | Path, records_dir: str | Path = "promotions") -> tuple[ControllerConfig, PromotionRecord]:
    """The config and its promotion record; PromotionError if it has none or changed since."""
    config_path = Path(config_path)
    config = load_config(config_path)
    records = Path(records_dir)
    path = records / f"{config.config_id}.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PromotionError(f"{path}: unreadable promotion record ({exc})") from None
        if data.get("format") == RECORD_FORMAT and data.get("config_id") == config.config_id:
            return config, PromotionRecord(path, data)
        raise PromotionError(f"{path}: not a promotion record of config {config.config_id[:12]}")
    earlier = _records_for_path(records, config_path)
    if earlier:
        raise PromotionError(
            f"{config_path}: changed since it was promoted (promoted config id {earlier[0][:12]}, now "
            f"{config.config_id[:12]}): run the suites on it and `nor promote` it again")
    raise PromotionError(f"{config_path}: config {config.config_id[:12]} has no promotion record in {records}: "
                         f"`nor promote {config_path} --evidence RUN_DIR` first")


def _records_for_path(records: Path, config_path: Path) -> list[str]:
    if not records.is_dir():
        return []
    ids = []
    target = config_path.resolve()
    for path in sorted(records.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if Path(str(data.get("config_path", ""))).resolve() == target:
            ids.append(str(data.get("config_id")))
    return ids
