"""controller/ imports no other project package and no infrastructure library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import controller

ROOT = Path(controller.__file__).resolve().parent.parent
FORBIDDEN = {"twin", "faults", "scenarios", "adapters", "reports", "simpy", "hazelcast", "nautilus_trader",
             "toxiproxy", "pyarrow", "requests", "time", "datetime", "random", "socket", "asyncio", "threading"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_controller_modules_import_nothing_forbidden():
    offenders = {}
    for path in sorted((ROOT / "controller").rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "controller is pure" in result.stdout
