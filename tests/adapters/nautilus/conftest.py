"""Fixtures for the NautilusTrader adapter tests: scripted signals traces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.adapters.nautilus.signal_scripts import Phase, scripted_columns, write_arrow


@pytest.fixture
def scripted_trace_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a scripted signals trace to ``signals_observed.arrow`` and return its path."""

    def make(duration_s: float, phases: list[Phase], step_s: float = 1.0,
             extra_times: tuple[float, ...] = (), name: str = "signals_observed.arrow") -> Path:
        return write_arrow(tmp_path / name, scripted_columns(duration_s, step_s, phases, extra_times))

    return make
