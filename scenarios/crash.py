"""The CLI boundary's last line: an unexpected exception becomes a short message, a crash log and exit 3.

``nor`` never prints a traceback and never exits 1 (which means "a check failed") for a bug of its
own. The traceback goes to ``crash-<UTC time>-<pid>.log`` in the run directory when one exists,
else in the directory named by ``$NOR_CRASH_DIR``, else in the system temporary directory.
SIGTERM is turned into ``KeyboardInterrupt`` so a terminated run stops like Ctrl-C (exit 130).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

__all__ = ["EXIT_INTERRUPTED", "REPORT_HINT", "internal_error", "note_run_dir", "run_dir_of",
           "terminate_as_interrupt", "write_crash_log"]

EXIT_INTERRUPTED = 130
REPORT_HINT = "please report it to the dolphin-nor maintainers with this log and the command line"
_current_run_dir: list[Path] = []


def note_run_dir(run_dir: Path | None) -> None:
    """Remember the run directory being written, so a crash message can name it (None: forget it)."""
    _current_run_dir[:] = [] if run_dir is None else [run_dir]


def run_dir_of(args: argparse.Namespace) -> Path | None:
    """The run directory a command works in: the one ``nor run`` created, else the one it was given."""
    if _current_run_dir:
        return _current_run_dir[0]
    for name in ("run_dir", "evidence", "run_b"):
        value = getattr(args, name, None)
        if isinstance(value, Path):
            return value
    dirs = getattr(args, "run_dirs", None)
    return dirs[-1] if dirs else None


def write_crash_log(exc: BaseException, argv: Sequence[str], run_dir: Path | None) -> Path | None:
    """Write the traceback; returns the log's path, or None if no directory would take it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"crash-{stamp}-{os.getpid()}.log"
    text = (f"nor {shlex.join(argv)}\npython {sys.version.split()[0]}\n\n"
            + "".join(traceback.format_exception(exc)))
    candidates = [run_dir] if run_dir is not None else []
    candidates += [Path(os.environ["NOR_CRASH_DIR"])] if os.environ.get("NOR_CRASH_DIR") else []
    candidates.append(Path(tempfile.gettempdir()))
    for directory in candidates:
        try:
            if not directory.is_dir() or directory.is_symlink():
                continue
            path = directory / name
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except (OSError, ValueError):
            continue
    return None


def internal_error(exc: BaseException, argv: Sequence[str], run_dir: Path | None) -> str:
    """The message for an unexpected exception (after writing the crash log)."""
    log = write_crash_log(exc, argv, run_dir)
    what = f"{type(exc).__name__}: {str(exc)[:200]}"
    lines = [f"nor: internal error ({what}) — a bug in nor, not a verdict on the controller and not a problem "
             f"with the input.",
             f"nor: run directory: {run_dir if run_dir is not None else '(none)'}",
             f"nor: traceback saved to {log}" if log else "nor: the traceback could not be saved",
             f"nor: {REPORT_HINT}; exit 3."]
    return "\n".join(lines)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread (as Ctrl-C does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
