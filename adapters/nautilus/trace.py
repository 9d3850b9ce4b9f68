"""Reading a twin trace's observed signals (``signals_observed.parquet``) for replay.

The file is a trace file (:mod:`traceio`'s Parquet format): a ``t_s`` float64 column (seconds since
the start of the run, non-decreasing) and one float64 column per signal, named like
``mc_forewarner.age_s``. NaN values are kept: the controller reads them as worst case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceio import TraceFileError, read_table

from .errors import TraceError

__all__ = ["SignalTrace", "load_event_rows", "load_signal_trace", "signal_trace_from_columns"]

TIME_COLUMN = "t_s"
STEP_COLUMN = "step"
"""The twin's step counter (int64): row metadata, not a signal."""


@dataclass(frozen=True, eq=False)
class SignalTrace:
    """Observed signals, one row per observation time.

    ``values[i, j]`` is signal ``names[j]`` at ``t_s[i]``.
    """

    source: str
    t_s: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    steps: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def row(self, index: int) -> dict[str, float]:
        """Signal name -> value at row ``index`` (Python floats, NaN kept)."""
        return dict(zip(self.names, self.values[index].tolist()))

    def ts_ns(self, origin_ns: int) -> np.ndarray:
        """Engine timestamps (ns) of the rows when ``t_s = 0`` is ``origin_ns``."""
        return origin_ns + np.rint(self.t_s * 1e9).astype(np.int64)


def _read_table(path: Path) -> pa.Table:
    try:
        return read_table(path)
    except TraceFileError as exc:
        raise TraceError(str(exc)) from None


def _column(where: str, table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise TraceError(f"{where}: column {name!r} has type {kind}; expected float64")
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _check_times(where: str, t_s: np.ndarray) -> None:
    if t_s.shape[0] == 0:
        raise TraceError(f"{where}: the trace has no rows; expected at least one observation")
    bad = np.flatnonzero(~np.isfinite(t_s) | (t_s < 0.0))
    if bad.size:
        i = int(bad[0])
        raise TraceError(f"{where}: column 't_s' row {i} is {float(t_s[i])!r}; expected a finite time >= 0")
    back = np.flatnonzero(np.diff(t_s) < 0.0)
    if back.size:
        i = int(back[0]) + 1
        raise TraceError(
            f"{where}: column 't_s' goes backwards at row {i} ({float(t_s[i - 1])!r} -> {float(t_s[i])!r}); "
            "expected non-decreasing times"
        )


def signal_trace_from_columns(where: str, columns: dict[str, np.ndarray]) -> SignalTrace:
    """Build and validate a trace from in-memory columns (``t_s``, optional ``step``, signals)."""
    if TIME_COLUMN not in columns:
        raise TraceError(f"{where}: missing column 't_s' (float64 seconds); found {sorted(columns)}")
    t_s = np.ascontiguousarray(columns[TIME_COLUMN], dtype=np.float64)
    _check_times(where, t_s)
    names = tuple(n for n in columns if n not in (TIME_COLUMN, STEP_COLUMN))
    if not names:
        raise TraceError(f"{where}: no signal columns besides 't_s'; expected one float64 column per signal")
    values = np.empty((t_s.shape[0], len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col = np.asarray(columns[name], dtype=np.float64)
        if col.shape != t_s.shape:
            raise TraceError(f"{where}: column {name!r} has {col.shape[0]} rows; expected {t_s.shape[0]}")
        values[:, j] = col
    steps = None
    if STEP_COLUMN in columns:
        steps = np.asarray(columns[STEP_COLUMN]).astype(np.int64)
        if steps.shape != t_s.shape:
            raise TraceError(f"{where}: column 'step' has {steps.shape[0]} rows; expected {t_s.shape[0]}")
    return SignalTrace(where, t_s, names, values, steps)


def load_signal_trace(path: str | Path) -> SignalTrace:
    """Load and validate ``signals_observed.parquet`` (or any file of the same schema).

    Raises :class:`TraceError` naming the file, the column/row and what was expected.
    """
    path = Path(path)
    table = _read_table(path)
    where = str(path)
    if TIME_COLUMN not in table.column_names:
        raise TraceError(f"{where}: missing column 't_s' (float64 seconds); found {table.column_names}")
    dupes = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
    if dupes:
        raise TraceError(f"{where}: duplicate column(s) {dupes}; expected one column per signal")
    columns = {name: _column(where, table, name) for name in table.column_names}
    return signal_trace_from_columns(where, columns)


def load_event_rows(decisions_path: str | Path, trace: SignalTrace) -> np.ndarray:
    """Which rows of ``trace`` the twin stepped on an invariant event, from its ``decisions.parquet``.

    Rows are matched by the ``step`` column when both files have it, else by position.
    Raises :class:`TraceError` when the files do not describe the same steps.
    """
    path = Path(decisions_path)
    table = _read_table(path)
    where = str(path)
    if "trigger" not in table.column_names:
        raise TraceError(f"{where}: missing column 'trigger' (tick|invariant); found {table.column_names}")
    triggers = table.column("trigger").to_pylist()
    unknown = sorted({str(t) for t in triggers} - {"tick", "invariant"})
    if unknown:
        raise TraceError(f"{where}: column 'trigger' has {unknown}; expected 'tick' or 'invariant'")
    if len(triggers) != len(trace):
        raise TraceError(f"{where}: {len(triggers)} decisions for {len(trace)} signal rows in {trace.source}; "
                         "expected one decision per observed row")
    if trace.steps is not None and STEP_COLUMN in table.column_names:
        steps = np.asarray(table.column(STEP_COLUMN).to_pylist(), dtype=np.int64)
        mismatch = np.flatnonzero(steps != trace.steps)
        if mismatch.size:
            i = int(mismatch[0])
            raise TraceError(f"{where}: row {i} is step {steps[i]} but {trace.source} row {i} is step "
                             f"{trace.steps[i]}; expected the same steps in the same order")
    return np.asarray([t == "invariant" for t in triggers], dtype=bool)


def is_same_value(a: float, b: float) -> bool:
    """Equality that treats two NaNs as the same observation."""
    return a == b or (math.isnan(a) and math.isnan(b))
