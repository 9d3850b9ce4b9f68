"""Command-line values checked before anything runs: counts, seeds, output directories and files.

A bad value is a :class:`ScenarioFileError` with source ``command line`` and the option as the field
(exit 2). Output locations are checked, never silently created in odd places: an output directory may
not be an existing non-directory or lie under ``/proc``, ``/sys`` or ``/dev``, and its nearest existing
ancestor must be a writable directory; an output file's parent directory must already exist.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

from .errors import ScenarioFileError

__all__ = ["positive", "seed_count", "jobs", "seed", "out_dir", "out_file", "MAX_JOBS"]

MAX_JOBS = 1024
_PSEUDO = ("/proc", "/sys", "/dev")


def _int_in(text: str, lo: int, hi: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def positive(text: str) -> int:
    """argparse type: an integer in [1, 10**9]."""
    return _int_in(text, 1, 10 ** 9, "an integer >= 1")


def seed_count(text: str) -> int:
    """argparse type: a number of seeds in [1, 10000] (a scenario file's own limit)."""
    return _int_in(text, 1, 10_000, "a number of seeds in [1, 10000]")


def jobs(text: str) -> int:
    """argparse type: a worker count in [1, MAX_JOBS]."""
    return _int_in(text, 1, MAX_JOBS, f"a number of worker processes in [1, {MAX_JOBS}]")


def seed(text: str) -> int:
    """argparse type: an integer in [0, 2^63 - 1]."""
    return _int_in(text, 0, 2 ** 63 - 1, "an integer in [0, 2^63-1]")


def _pseudo(p: Path) -> bool:
    return any(str(p) == root or str(p).startswith(root + "/") for root in _PSEUDO)


def out_dir(path: Path, option: str) -> Path:
    """``path`` if it is (or can be created as) a directory of ours; raises naming ``option``."""
    def bad(why: str) -> ScenarioFileError:
        return ScenarioFileError("command line", option, f"a directory for the output ({why})", str(path))

    try:
        resolved = path.expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        raise bad("it cannot be resolved") from None
    if _pseudo(resolved):
        raise bad("not under /proc, /sys or /dev")
    probe = resolved
    while not os.path.lexists(probe):
        probe = probe.parent
    try:
        mode = os.stat(probe).st_mode
    except OSError as exc:
        raise bad(exc.strerror or "it cannot be read") from None
    if not stat.S_ISDIR(mode):
        raise bad(f"{probe} exists and is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise bad(f"{probe} is not writable")
    return path


def out_file(path: Path, option: str) -> Path:
    """``path`` if it names a file we may write: its parent directory exists, and it is not a directory,
    a device or a symlink; raises naming ``option``."""
    def bad(why: str) -> ScenarioFileError:
        return ScenarioFileError("command line", option, f"a file to write ({why})", str(path))

    try:
        resolved_parent = path.expanduser().parent.resolve()
    except (OSError, RuntimeError, ValueError):
        raise bad("its directory cannot be resolved") from None
    if _pseudo(resolved_parent):
        raise bad("not under /proc, /sys or /dev")
    if not resolved_parent.is_dir():
        raise bad(f"its directory {path.parent} does not exist — create it first")
    if not os.access(resolved_parent, os.W_OK | os.X_OK):
        raise bad(f"its directory {path.parent} is not writable")
    if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
        raise bad("it exists and is not a regular file")
    return path
