"""The fault proxy's root exception."""

from __future__ import annotations

__all__ = ["FaultProxyError"]


class FaultProxyError(Exception):
    """Root of every error raised by ``faults.proxy`` (invalid proxy or toxic definitions included)."""
