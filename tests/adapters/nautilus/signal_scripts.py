"""Scripted signals traces for the NautilusTrader adapter tests (twin trace format)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceio import TraceMeta, write_table

from controller import NOMINAL_SIGNALS

__all__ = ["Phase", "scripted_columns", "write_trace"]

Phase = tuple[float, float, Mapping[str, float]]
"""(start_s, end_s, signal overrides) — applied on [start_s, end_s)."""


def scripted_columns(duration_s: float, step_s: float, phases: list[Phase],
                     extra_times: tuple[float, ...] = ()) -> dict[str, np.ndarray]:
    """Nominal signals every ``step_s`` (plus ``extra_times``) with phase overrides."""
    t = np.unique(np.concatenate([np.arange(0.0, duration_s, step_s), np.asarray(extra_times, float)]))
    columns = {"t_s": t}
    for name, value in NOMINAL_SIGNALS.items():
        columns[name] = np.full(t.shape, float(value))
    for start, end, overrides in phases:
        window = (t >= start) & (t < end)
        for name, value in overrides.items():
            columns[name] = np.where(window, float(value), columns[name])
    return columns


def write_trace(path: Path, columns: Mapping[str, np.ndarray]) -> Path:
    """Write columns as a trace file (the twin's format, :mod:`traceio`)."""
    table = pa.table({k: pa.array(v, type=pa.float64()) for k, v in columns.items()})
    write_table(path, table, TraceMeta("scripted", 0))
    return path
