"""Exceptions of the ``scenarios`` package: one root, messages that say what to fix."""

from __future__ import annotations

from typing import Sequence

from controller.strict import shown_got

__all__ = ["ScenarioError", "ScenarioFileError", "ScenarioFileErrors", "RunDirError"]


class ScenarioError(Exception):
    """Root of every error raised on purpose by ``scenarios``."""


class ScenarioFileError(ScenarioError):
    """An invalid scenario file (or command-line input): names the file, the field path and what was expected.

    The CLI maps it to exit code 2.
    """

    def __init__(self, source: str, path: str, expected: str, got: object = None) -> None:
        self.source = source
        self.path = path
        self.expected = expected
        self.got = got
        super().__init__(f"{source}: {path}: expected {expected}{shown_got(got)}")


class ScenarioFileErrors(ScenarioFileError):
    """Several problems in one scenario file, each a :class:`ScenarioFileError` (``errors``), one per line of the
    message; ``source``, ``path``, ``expected`` and ``got`` are the first one's."""

    def __init__(self, errors: Sequence[ScenarioFileError]) -> None:
        first = errors[0]
        super().__init__(first.source, first.path, first.expected, first.got)
        self.errors = tuple(errors)
        self.args = ("\n".join(str(e) for e in self.errors),)


class RunDirError(ScenarioError):
    """A run directory (manifest, traces) that cannot be used, e.g. for ``nor replay``."""
