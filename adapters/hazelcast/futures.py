"""Bounded waits on the hazelcast client's futures (whose ``result()`` has no timeout)."""

from __future__ import annotations

import threading
from typing import Any

from .errors import HazelcastAdapterError

__all__ = ["wait_result"]


def wait_result(future: Any, timeout_s: float, what: str) -> Any:
    """Return ``future``'s result, or raise :class:`HazelcastAdapterError` after ``timeout_s``.

    Must not be called on the client's reactor thread (use callbacks there).
    """
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    if not done.wait(timeout_s):
        raise HazelcastAdapterError(f"{what}: no answer from the cluster within {timeout_s:g} s")
    try:
        return future.result()
    except Exception as exc:
        raise HazelcastAdapterError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
