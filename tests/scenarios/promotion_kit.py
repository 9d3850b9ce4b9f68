"""Shared set-up of the promotion tests: a clean git copy of the source, keys in a temporary config
directory, short scenario suites and real runs of them.

Nothing here touches the real user's config directory: every key lives under a pytest tmp dir and is
passed explicitly (library calls) or through ``XDG_CONFIG_HOME``/``NOR_PROMOTION_*`` set by monkeypatch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

from controller import ControllerConfig, apply_overrides, default_config, dump_config
from scenarios.codestate import DIRTY_SCOPE, CodeState, code_state
from scenarios.loader import load_scenarios
from scenarios.promotion import promote
from scenarios.runner import RunOptions, run_suite
from scenarios.signing import SigningKey, init_key, load_trusted_keys

ROOT = Path(__file__).resolve().parents[2]

TINY = """
name = "promo_tiny"
description = "Ten minutes, MC-Forewarner stale for three: never HIBERNATE, APEX regained"
duration = "10m"
seeds = 2
companions = []

[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "1m"
for = "3m"

[[expect]]
check = "posture_never"
posture = "HIBERNATE"

[liveness]
within = "5m"
"""

FAILING = """
name = "promo_wrong_expectation"
description = "A deliberately wrong expectation: APEX is never reached (it is, at once)"
duration = "5m"
seeds = 1
companions = []

[[expect]]
check = "posture_never"
posture = "APEX"
"""


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=nor-test", "-c", "user.email=nor@test", *args], cwd=cwd,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def clean_copy(dest: Path) -> Path:
    """A committed git copy of this tree's sources (the dirty scope): a clean tree with the same bound code."""
    names = git(ROOT, "ls-files", "-co", "--exclude-standard", "--", *DIRTY_SCOPE).split("\n")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "snapshot")
    return dest


def suite(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.toml").write_text(text, encoding="utf-8")
    return directory


def config_file(path: Path, config: ControllerConfig | None = None, overrides: dict | None = None) -> Path:
    cfg = config or default_config()
    if overrides:
        cfg = apply_overrides(cfg, overrides, "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_config(cfg), encoding="utf-8")
    return path


def run(paths: list[Path], config: Path, out: Path, code: CodeState, **options: Any) -> Path:
    scenarios = load_scenarios(paths, controller=str(config))
    opts = RunOptions(out=out, jobs=2, progress=False, report=False, companions=False, code=code, **options)
    return run_suite(scenarios, opts, echo=lambda _line: None).run_dir


class Keys:
    """A signing key and its trusted-keys file under ``home`` (an XDG_CONFIG_HOME)."""

    def __init__(self, home: Path) -> None:
        self.environ = {"XDG_CONFIG_HOME": str(home)}
        self.key: SigningKey = init_key(self.environ)[0]
        self.trusted_file, self.trusted = load_trusted_keys(self.environ)


def promote_with(keys: Keys, code: CodeState, config: Path, evidence: Path, suites: list[str], records: Path,
                 always: tuple[str, ...] = (), **kw: Any):
    return promote(config, evidence, key=keys.key, code=code, now_utc="2026-11-29T00:00:00Z", code_version="test",
                   suites=suites, always=always, records_dir=records, sample_seed=kw.pop("sample_seed", 7), **kw)


def edit_manifest(run_dir: Path, change: Callable[[dict], None]) -> None:
    path = run_dir / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def running_code() -> CodeState:
    return code_state()
