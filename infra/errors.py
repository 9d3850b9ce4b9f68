"""The infra package's root exception."""

from __future__ import annotations

__all__ = ["InfraError"]


class InfraError(Exception):
    """Installing, starting or stopping the real test infrastructure failed; the message says what to fix."""
