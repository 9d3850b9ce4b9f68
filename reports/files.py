"""Safe file I/O for run directories: outputs are written only as regular files, never through a
symlink or onto a directory/device; inputs are read only from regular files."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from .errors import ReportError

__all__ = ["OutputError", "write_output", "regular_bytes", "digest_regular"]


class OutputError(ReportError):
    """A report output (or input) path that is not a plain regular file: names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{self.path}: {problem}")


def _kind(mode: int) -> str:
    return "a directory" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode) else "a special file"


def write_output(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` as a regular file: an existing directory, symlink, device or
    FIFO at ``path`` is an :class:`OutputError` naming the file (nothing is written through it)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(p, f"expected a writable regular file ({exc.strerror})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(p, f"expected a regular file to write, found {_kind(st.st_mode)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, flags, 0o644)
    except OSError as exc:
        raise OutputError(p, f"expected a writable regular file ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return p


def _regular(path: Path) -> os.stat_result:
    st = os.stat(path)          # follows a symlink: what would be read
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(path, f"expected a regular trace file, found {_kind(st.st_mode)}")
    return st


def regular_bytes(path: Path) -> bytes:
    """The bytes of a regular file; a directory/device in its place is an :class:`OutputError`."""
    _regular(path)
    return path.read_bytes()


def digest_regular(paths: list[Path]) -> str:
    """SHA-256 over the contents of ``paths`` (each must be a regular file), in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(regular_bytes(p))
    return h.hexdigest()
