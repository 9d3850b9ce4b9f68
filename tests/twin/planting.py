"""Planting a defective twin component: every :class:`twin.World` built inside the context uses it."""

from __future__ import annotations

import contextlib
from typing import Iterator, TypeVar

import twin.world

__all__ = ["planted_component"]

T = TypeVar("T", bound=type)


@contextlib.contextmanager
def planted_component(attr: str, variant: T) -> Iterator[T]:
    """Worlds built inside use ``variant`` as their ``attr`` component class (``client_cls``,
    ``cluster_cls``, ...); the original class is put back on leaving, even after an error."""
    original = getattr(twin.world.World, attr)
    setattr(twin.world.World, attr, variant)
    try:
        yield variant
    finally:
        setattr(twin.world.World, attr, original)
