"""The reports package's exceptions: one root, a message that names the file and what is wrong."""

from __future__ import annotations

from controller.strict import shown_got

__all__ = ["ReportError", "ManifestError", "TraceError"]


class ReportError(Exception):
    """Root of every error raised by :mod:`reports`."""


class ManifestError(ReportError):
    """``manifest.json`` is missing, not JSON, or a field is absent or of the wrong type.

    The message reads ``<file>: <field path>: expected <what>, got <value>``.
    """

    def __init__(self, path: object, field: str, expected: str, got: object = None) -> None:
        self.path, self.field, self.expected = str(path), field, expected
        got_text = shown_got(got)
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(f"{where}expected {expected}{got_text}")


class TraceError(ReportError):
    """One trace file (``<table>.parquet``) cannot be read or lacks a column the report needs."""

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{self.path}: {problem}")
