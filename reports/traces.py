"""Read a run's trace files (Parquet, through :mod:`traceio`) into the arrays the reports need.

Every read problem (missing file, truncated or corrupt file, missing column, unknown posture)
raises :class:`TraceError` naming the file; :func:`load_case` catches them per file, so one broken
trace marks its case and the rest of the report still renders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pyarrow as pa

from traceio import LEGACY_SUFFIX, TraceFileError, table_files, trace_path
from traceio import read_table as _read

from .errors import TraceError
from .files import digest_regular
from .invariants import OBSERVED_COLUMNS, InvariantBreak, invariant_breaks
from .manifest import Failure, Fault, RunInfo, ScenarioInfo

__all__ = ["POSTURES", "ControllerTrace", "Case", "read_table", "load_controller", "load_checks", "load_breaks",
           "load_case", "load_truth", "trace_digest", "RUN", "UNREAD_FILES"]

POSTURES = ("HIBERNATE", "TURTLE", "STALKER", "APEX")
"""Posture names by code (the controller's order: HIBERNATE=0 < … < APEX=3)."""
RUN = "run"
"""The name under which a case's own trace (not a companion) is keyed."""

_DECISION_COLUMNS = ("t_s", "r_total", "posture")
_EQUITY_COLUMNS = ("t_s", "equity", "drawdown")
_ORDER_COLUMNS = ("t_s", "intent", "status", "t_done_s", "t_arrive_s", "kind")
_FILL_COLUMNS = ("t_s", "fee", "liquidity")
_CHECK_COLUMNS = ("check", "kind", "ok", "t_s", "message")
_KIND_RANK = {"safety": 0, "liveness": 1, "expectation": 2}
UNREAD_FILES = ("events", "signals_true")
"""Trace tables every judged case has but the report does not read: only checked to exist."""


def read_table(path: Path, columns: tuple[str, ...] = ()) -> pa.Table:
    """Read one trace file; check that ``columns`` exist. Every problem is a :class:`TraceError` naming the file."""
    try:
        return _read(path, columns)
    except TraceFileError as exc:
        raise TraceError(exc.path, exc.problem) from None


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A copy (so the file's buffers, reasons strings included, can be freed once loaded)."""
    return np.array(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64, copy=True)


def _postures(table: pa.Table, path: Path) -> np.ndarray:
    names = table.column("posture").to_pylist()
    codes = {n: i for i, n in enumerate(POSTURES)}
    out = np.empty(len(names), dtype=np.int8)
    for i, n in enumerate(names):
        code = codes.get(n)
        if code is None:
            raise TraceError(path, f"row {i}: posture {n!r} is not one of {', '.join(POSTURES)}")
        out[i] = code
    return out


@dataclass(frozen=True)
class ControllerTrace:
    """One controller's decisions, equity, orders and fills over one scenario seed."""

    name: str
    t_s: np.ndarray
    r_total: np.ndarray
    posture: np.ndarray
    layers: Mapping[str, np.ndarray]
    equity_t_s: np.ndarray
    equity: np.ndarray
    drawdown: np.ndarray
    orders: pa.Table
    fills: pa.Table


def load_controller(name: str, directory: Path) -> ControllerTrace:
    """Load ``decisions``, ``equity``, ``orders`` and ``fills`` from ``directory``."""
    path = trace_path(directory, "decisions")
    dec = read_table(path, _DECISION_COLUMNS)
    t_s = _floats(dec, "t_s")
    if t_s.size == 0:
        raise TraceError(path, "no decision rows")
    if np.any(np.diff(t_s) < 0):
        raise TraceError(path, "t_s is not in time order")
    layers = {c[len("layer."):]: _floats(dec, c) for c in dec.column_names if c.startswith("layer.")}
    eq_path = trace_path(directory, "equity")
    eq = read_table(eq_path, _EQUITY_COLUMNS)
    if eq.num_rows == 0:
        raise TraceError(eq_path, "no equity rows")
    return ControllerTrace(
        name=name, t_s=t_s, r_total=_floats(dec, "r_total"), posture=_postures(dec, path), layers=layers,
        equity_t_s=_floats(eq, "t_s"), equity=_floats(eq, "equity"),
        drawdown=_floats(eq, "drawdown"), orders=read_table(trace_path(directory, "orders"), _ORDER_COLUMNS),
        fills=read_table(trace_path(directory, "fills"), _FILL_COLUMNS))


def load_checks(directory: Path) -> tuple[Failure, ...] | None:
    """The failed checks of ``checks.parquet`` (safety, then liveness, then expectation; each in time
    order), or None when the file does not exist."""
    path = trace_path(directory, "checks")
    if not path.exists() and not path.with_suffix(LEGACY_SUFFIX).exists():
        return None
    table = read_table(path, _CHECK_COLUMNS)
    rows = table.select(list(_CHECK_COLUMNS)).to_pylist()
    failed = [Failure(str(r["check"]), str(r["kind"]),
                      math.nan if r["t_s"] is None else float(r["t_s"]), str(r["message"] or ""))
              for r in rows if not r["ok"]]
    return tuple(sorted(failed, key=lambda f: (_KIND_RANK.get(f.kind, 3), math.isnan(f.t_s), f.t_s)))


def load_breaks(directory: Path, keepalive_max_s: float, table: str = "signals_observed"
                ) -> tuple[InvariantBreak, ...]:
    """The invariant breaks the controller observed, from ``signals_observed.parquet`` (or the true ones,
    from ``signals_true.parquet``)."""
    path = trace_path(directory, table)
    table = read_table(path, OBSERVED_COLUMNS)
    columns = {c: _floats(table, c) for c in OBSERVED_COLUMNS}
    if np.any(np.diff(columns["t_s"]) < 0):
        raise TraceError(path, "t_s is not in time order")
    return invariant_breaks(columns, keepalive_max_s)


def load_truth(directory: Path) -> dict[str, np.ndarray]:
    """Every float column of ``signals_true.parquet`` (what the twin knew, before any detection)."""
    path = trace_path(directory, "signals_true")
    table = read_table(path, OBSERVED_COLUMNS)
    cols = {c: _floats(table, c) for c in table.column_names if pa.types.is_floating(table.schema.field(c).type)
            or c == "t_s"}
    if np.any(np.diff(cols["t_s"]) < 0):
        raise TraceError(path, "t_s is not in time order")
    return cols


def trace_digest(case_dir: Path) -> str:
    """The manifest's ``trace_sha256``: SHA-256 over the case's top-level trace files (not the
    companions), contents concatenated in name order."""
    try:
        return digest_regular(table_files(case_dir))
    except TraceFileError as exc:
        raise TraceError(exc.path, exc.problem) from None


@dataclass
class Case:
    """One scenario × seed: its traces (``traces[RUN]`` and each companion), failures and problems."""

    scenario: ScenarioInfo
    run: RunInfo
    traces: dict[str, ControllerTrace] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    problems: list[str] = field(default_factory=list)
    breaks: tuple[InvariantBreak, ...] | None = None   # observed invariant breaks; None: not readable
    true_breaks: tuple[InvariantBreak, ...] | None = None   # the same in signals_true (before detection)
    truth: dict[str, np.ndarray] | None = None    # signals_true columns (t_s and one per signal)

    @property
    def faults(self) -> tuple[Fault, ...]:
        """This seed's faults: the run's own list (swarm scenarios draw them per seed), else the scenario's."""
        return self.run.faults if self.run.faults is not None else self.scenario.faults

    @property
    def key(self) -> str:
        return f"{self.scenario.name}/{self.run.seed}"

    @property
    def anchor(self) -> str:
        return "case-" + "".join(ch if ch.isalnum() else "-" for ch in self.key)


def load_case(run_dir: Path, scenario: ScenarioInfo, run: RunInfo, companions: tuple[str, ...],
              traces: bool = True) -> Case:
    """Load one case (its checks, and with ``traces`` its own and its companions' traces);
    unreadable files become ``problems`` (messages naming the file). ``companions``: the run's
    list, narrowed to the case's own list when the manifest records one."""
    case = Case(scenario, run, failures=run.failures)
    directory = run_dir / run.dir
    if directory.is_dir() and run.verdict != "ERROR":
        case.problems.extend(f"{trace_path(directory, name)}: missing trace file" for name in UNREAD_FILES
                             if not trace_path(directory, name).is_file())
    try:
        if run.trace_sha256 and directory.is_dir() and trace_digest(directory) != run.trace_sha256:
            case.problems.append(f"{directory}: trace files differ from those the manifest recorded (trace_sha256 "
                                 "mismatch): changed or damaged after the run")
    except TraceError as exc:
        case.problems.append(str(exc))
    try:
        checks = load_checks(directory)
        if checks is not None:
            case.failures = checks
        elif run.verdict != "ERROR":
            case.problems.append(f"{trace_path(directory, 'checks')}: missing trace file (failures shown are the "
                                 "manifest's)")
    except TraceError as exc:
        case.problems.append(str(exc))
    if not traces or (run.verdict == "ERROR" and not trace_path(directory, "decisions").exists()):
        return case
    if run.companions is not None:
        companions = tuple(c for c in companions if c in run.companions) + tuple(
            c for c in run.companions if c not in companions)
    try:
        case.breaks = load_breaks(directory, scenario.keepalive_max_s)
    except TraceError as exc:
        case.problems.append(str(exc))
    if trace_path(directory, "signals_true").is_file():
        try:
            case.truth = load_truth(directory)
            case.true_breaks = invariant_breaks(case.truth, scenario.keepalive_max_s)
        except TraceError as exc:
            case.problems.append(str(exc))
    for name, sub in [(RUN, directory)] + [(c, directory / "companions" / c) for c in companions]:
        if name != RUN and not sub.is_dir():
            case.problems.append(f"{sub}: missing companion directory")
            continue
        try:
            case.traces[name] = load_controller(name, sub)
        except TraceError as exc:
            case.problems.append(str(exc))
    return case
