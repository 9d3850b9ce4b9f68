"""Exceptions of the controller package: one root, messages that say what to fix."""

from __future__ import annotations

from .strict import shown_got

__all__ = ["ControllerError", "ConfigError", "BatchInputError"]


class ControllerError(Exception):
    """Root of every error raised by ``controller``."""


class ConfigError(ControllerError):
    """An invalid controller configuration.

    The message names the file (or source), the field path and what was expected,
    e.g. ``configs/x.toml: layers[2].inputs[0].half_life: expected a number > 0, got -5``.
    """

    def __init__(self, source: str, path: str, expected: str, got: object = None) -> None:
        self.source = source
        self.path = path
        self.expected = expected
        self.got = got
        super().__init__(f"{source}: {path}: expected {expected}{shown_got(got)}")


class BatchInputError(ControllerError, ValueError):
    """Invalid input to :func:`controller.evaluate_batch` (a missing column, a bad ``outputs``)."""
