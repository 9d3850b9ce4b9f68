"""The root exception of the NautilusTrader adapter and its specialisations."""

from __future__ import annotations

__all__ = [
    "ActorConfigError",
    "GuardConfigError",
    "InterfaceError",
    "NautilusAdapterError",
    "PaperNodeError",
    "SourceError",
    "TraceError",
]


class NautilusAdapterError(Exception):
    """Root of every error raised by ``adapters.nautilus``."""


class TraceError(NautilusAdapterError):
    """A signals trace (a Parquet trace file) is missing, unreadable or malformed.

    The message names the file, the column or row, and what was expected.
    """


class GuardConfigError(NautilusAdapterError):
    """A posture-guard setting is out of range; the message names the field."""


class PaperNodeError(NautilusAdapterError):
    """The paper-trading node cannot be built (missing setting or credential)."""


class ActorConfigError(NautilusAdapterError, ValueError):
    """A ``SurvivalActorConfig`` setting is out of range; the message names the field."""


class SourceError(NautilusAdapterError, ValueError):
    """A signal source was given bad arguments (engine origin, event-row mask); the message says which."""


class InterfaceError(NautilusAdapterError, TypeError):
    """An object lacks the methods the adapter needs (a controller without ``step``, a
    ``SignalSource`` without ``signals``/``on_invariant_change``, a guard with no strategy)."""
