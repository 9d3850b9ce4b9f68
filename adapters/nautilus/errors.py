"""The root exception of the NautilusTrader adapter and its specialisations."""

from __future__ import annotations

__all__ = ["NautilusAdapterError", "TraceError", "GuardConfigError", "PaperNodeError"]


class NautilusAdapterError(Exception):
    """Root of every error raised by ``adapters.nautilus``."""


class TraceError(NautilusAdapterError):
    """A signals trace (Arrow IPC) is missing, unreadable or malformed.

    The message names the file, the column or row, and what was expected.
    """


class GuardConfigError(NautilusAdapterError):
    """A posture-guard setting is out of range; the message names the field."""


class PaperNodeError(NautilusAdapterError):
    """The paper-trading node cannot be built (missing setting or credential)."""
