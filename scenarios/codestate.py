"""The code a promotion binds: a content hash of the files that decide and execute, and the tree's state.

The bound set (``BOUND_CODE``), relative to the source root:

* ``controller/**/*.py`` — the survival controller: it decides.
* ``adapters/**/*.py`` — the NautilusTrader and Hazelcast adapters: they execute on paper.
* ``trading/**/*.py`` — the trading logic (entries, ranking, exits, sizing, the eigenvalue scanner),
  shared by the twin and paper trading; ``twin/agent.py``, ``twin/orders.py``, ``twin/portfolio.py`` —
  the twin's driver of it and its ledger.
* ``scenarios/case.py``, ``scenarios/checks/**/*.py`` — the checks and the verdict they give.
* ``scenarios/default/*.toml``, ``scenarios/smoke/*.toml`` — the built-in suites a promotion requires.
* ``pyproject.toml`` and ``.ci/constraints.txt`` — the locked dependency set.

Not bound: the twin's world model and the faults (they made the evidence, and the replay sample re-runs
them with the running code), reports, the CLI, and the gate itself (``promotion``, ``evidence``,
``record``, ``signing``, this module): a gate cannot vouch for its own code, so what guards it is review
and where the signing key lives (README, "Promotion in CI").

The tree is *dirty* when ``git status`` shows any change (tracked or untracked, not ignored) under the
source packages, ``pyproject.toml`` or ``.ci/`` — a wider scope than the bound set, because the twin and
the faults produced the evidence too. Outside a git checkout the state is unknown (``dirty`` is None).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["BOUND_CODE", "DIRTY_SCOPE", "CodeState", "code_state", "code_changes", "combined_sha256"]

_ROOT = Path(__file__).resolve().parents[1]

BOUND_CODE: tuple[str, ...] = (
    "controller/**/*.py",
    "adapters/**/*.py",
    "trading/**/*.py",
    "twin/agent.py", "twin/orders.py", "twin/portfolio.py",
    "scenarios/case.py", "scenarios/checks/**/*.py",
    "scenarios/default/*.toml", "scenarios/smoke/*.toml",
    "pyproject.toml", ".ci/constraints.txt",
)
"""Globs (relative to the source root) of the files whose content a promotion binds."""

DIRTY_SCOPE: tuple[str, ...] = ("controller", "trading", "twin", "faults", "scenarios", "adapters", "reports",
                                "pyproject.toml", ".ci")
"""Paths whose uncommitted changes make evidence 'from a dirty tree'."""


@dataclass(frozen=True)
class CodeState:
    """The bound files' SHA-256 (each, and one over all), the git commit and the uncommitted changes.

    ``dirty`` lists the changed paths (empty: clean); None when the tree is not a git checkout.
    """

    sha256: str
    files: Mapping[str, str]
    git: str
    dirty: tuple[str, ...] | None

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "files": dict(self.files), "git": self.git,
                "dirty": None if self.dirty is None else list(self.dirty)}


def _bound_files(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for pattern in BOUND_CODE:
        for path in root.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def combined_sha256(files: Mapping[str, str]) -> str:
    """One SHA-256 over ``path NUL sha256 LF`` lines in path order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{files[name]}\n".encode())
    return h.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def code_state(root: Path = _ROOT) -> CodeState:
    """The bound code under ``root`` (default: this source tree) and its git state."""
    files = _bound_files(root)
    sha = _git(root, "rev-parse", "HEAD")
    toplevel = _git(root, "rev-parse", "--show-toplevel")
    dirty: tuple[str, ...] | None = None
    if sha is not None and toplevel is not None and Path(toplevel.strip()).resolve() == root.resolve():
        status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *DIRTY_SCOPE)
        if status is not None:
            dirty = tuple(sorted(line[3:] for line in status.splitlines() if line.strip()))
    return CodeState(combined_sha256(files), files, f"git:{sha.strip()}" if sha else "unknown", dirty)


def code_changes(bound: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """What differs between two bound file sets: ``changed X``, ``added X``, ``removed X`` (sorted by path)."""
    out = []
    for name in sorted(set(bound) | set(now)):
        if name not in now:
            out.append(f"removed {name}")
        elif name not in bound:
            out.append(f"added {name}")
        elif bound[name] != now[name]:
            out.append(f"changed {name}")
    return out
