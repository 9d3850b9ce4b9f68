"""Exceptions of the ``faults`` package: one root, messages that say what to fix."""

from __future__ import annotations

from controller.strict import shown_got

__all__ = ["FaultError", "FaultSpecError"]


class FaultError(Exception):
    """Root of every error raised on purpose by ``faults`` (the TCP proxy has its own root)."""


class FaultSpecError(FaultError):
    """An invalid fault description: names the source, the field path and what was expected.

    e.g. ``scenarios/x.toml: fault[1].latency_ms: expected a number in [0, 600000], got -5``.
    """

    def __init__(self, source: str, path: str, expected: str, got: object = None) -> None:
        self.source = source
        self.path = path
        self.expected = expected
        self.got = got
        super().__init__(f"{source}: {path}: expected {expected}{shown_got(got)}")
