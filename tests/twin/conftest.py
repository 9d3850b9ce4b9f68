"""Fixtures for the twin's tests: build and run small worlds, read their tables as columns."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from twin import World, WorldConfig


def columns(table: Any) -> dict[str, list]:
    return {name: table.column(name).to_pylist() for name in table.column_names}


@pytest.fixture
def make_world() -> Callable[..., World]:
    def make(seed: int = 1, controller: Any = "survival", **sections: Any) -> World:
        cfg = WorldConfig.from_mapping(sections, source="test") if sections else WorldConfig()
        return World(cfg, controller, seed)
    return make


@pytest.fixture
def cols() -> Callable[[Any], dict[str, list]]:
    return columns
