"""The Hazelcast adapter's exceptions: one root, messages that say what to fix."""

from __future__ import annotations

__all__ = ["HazelcastAdapterError", "HzConfigError"]


class HazelcastAdapterError(Exception):
    """Root of every error raised by ``adapters.hazelcast``."""


class HzConfigError(HazelcastAdapterError):
    """A configuration file or environment variable is invalid (names the source and field)."""
