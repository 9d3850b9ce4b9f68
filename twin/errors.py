"""The twin's exceptions: one root, one subclass per kind of failure."""

from __future__ import annotations

from controller.strict import shown_got

__all__ = ["TwinError", "TwinConfigError"]


class TwinError(Exception):
    """Root of every error the twin raises on purpose."""


class TwinConfigError(TwinError):
    """A world configuration value is invalid.

    The message names the source (file or mapping), the field path and what was expected.
    """

    def __init__(self, source: str, field: str, expected: str, got: object = None) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{source}: {field}: expected {expected}{shown_got(got)}")
