"""One case: a scenario at one seed — run the twin (and its companions), judge it, write its directory.

``<case dir>/<table>.parquet`` (the twin's trace), ``checks.parquet`` (one row per check result) and
``companions/<name>/{decisions,equity,orders,fills}.parquet``; ``error.txt`` if the case crashed. The case
directory is ``<run>/scenario=<name>/seed=<n>`` and the file format is :mod:`traceio`'s.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

from controller import SurvivalController, make_controller
from faults import Fault, inject
from twin import World
from traceio import TraceMeta, table_files, trace_path, write_table

from .checks import EXPECTATIONS, CheckResult, RunView, run_liveness, run_safety
from .model import Scenario

__all__ = ["Verdict", "VERDICTS", "CaseResult", "run_case", "simulate", "judge", "verdict_of", "trace_sha256",
           "COMPANION_TABLES", "nofault_key", "nofault_tables"]

VERDICTS = ("PASS", "SAFETY", "LIVENESS", "EXPECTATION", "ERROR")
_PRECEDENCE = {"ERROR": 4, "SAFETY": 3, "LIVENESS": 2, "EXPECTATION": 1, "PASS": 0}
COMPANION_TABLES = ("decisions", "equity", "orders", "fills")
_CHECK_SCHEMA = pa.schema([("check", pa.string()), ("kind", pa.string()), ("ok", pa.bool_()),
                           ("t_s", pa.float64()), ("message", pa.string()), ("params", pa.string())])


class Verdict:
    """Verdict names and their precedence (ERROR > SAFETY > LIVENESS > EXPECTATION > PASS)."""

    PASS, SAFETY, LIVENESS, EXPECTATION, ERROR = VERDICTS

    @staticmethod
    def worst(verdicts: Any) -> str:
        return max(verdicts, key=_PRECEDENCE.__getitem__, default="PASS")


@dataclass
class CaseResult:
    """The outcome of one case, as recorded in the manifest."""

    scenario: str
    seed: int
    dir: str
    verdict: str
    wall_s: float
    config_id: str
    faults: tuple[Fault, ...]
    checks: list[CheckResult] = field(default_factory=list)
    error: str = ""
    trace_sha256: str = ""
    companions: tuple[str, ...] = ()
    cpu_s: float = 0.0          # CPU seconds of the process that ran the case (not in the manifest: a figure)
    worker: int = 0             # the id of that process (benchmarks/suite_bench.py: CPU per worker)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]


def verdict_of(checks: list[CheckResult]) -> str:
    kinds = {c.kind for c in checks if not c.ok}
    for kind, verdict in (("safety", "SAFETY"), ("liveness", "LIVENESS"), ("expectation", "EXPECTATION")):
        if kind in kinds:
            return verdict
    return "PASS"


WorldFactory = Callable[[Any, Any, int], World]


def simulate(scenario: Scenario, seed: int, controller: Any, faults: tuple[Fault, ...],
             world_factory: WorldFactory = World, signals: bool = True) -> dict[str, pa.Table]:
    """Run the twin for the scenario's duration with ``faults``; the trace tables.

    ``world_factory(world_config, controller, seed)`` builds the world: :class:`twin.World` itself, or a
    subclass running a variant agent, exchange or ledger (the planted-defect catalogue in ``tests/planted``).
    ``signals=False`` (companion runs, which keep only :data:`COMPANION_TABLES`) records no signal rows and
    computes no ground truth; every other table is the same, byte for byte.
    """
    world = world_factory(scenario.world, controller, seed)
    world.recorder.keep_signals = signals
    inject(world, faults)
    return world.run(scenario.duration_s).tables


def nofault_key(scenario: Scenario, seed: int) -> tuple:
    """What the ``nofault`` companion (the scenario's world and controller, no faults) depends on besides the
    duration: cases with equal keys share one world, run once to the longest duration (:func:`nofault_tables`)."""
    return (scenario.world, scenario.controller.config_id, seed)


def nofault_tables(scenario: Scenario, seed: int, durations_s: Sequence[float]) -> dict[float, dict[str, pa.Table]]:
    """The ``nofault`` companion's tables at each of ``durations_s``, as :func:`run_case` computes them (default
    controller and world) for a scenario of that duration: one world runs on from one duration to the next, and
    a world run to ``d`` then on is the world run to ``d`` (no draw or event depends on where a run stops)."""
    world = World(scenario.world, SurvivalController(scenario.controller), seed)
    world.recorder.keep_signals = False
    out = {}
    for d in sorted(set(durations_s)):
        tables = world.run(d).tables
        out[d] = {t: tables[t] for t in COMPANION_TABLES}
    return out


def judge(scenario: Scenario, faults: tuple[Fault, ...], tables: Mapping[str, pa.Table],
          companions: Mapping[str, Mapping[str, pa.Table]]) -> list[CheckResult]:
    """Safety, liveness, then the scenario's expectations."""
    view = RunView.from_tables(tables, faults, scenario.duration_s, scenario.world, scenario.controller, companions)
    results = run_safety(view, scenario.safety)
    results.append(run_liveness(view, scenario.liveness))
    for e in scenario.expectations:
        ok, t_s, message = EXPECTATIONS[e.check].fn(view, **e.params)
        results.append(CheckResult(e.check, "expectation", bool(ok), float("nan") if ok else float(t_s), message,
                                   dict(e.raw)))
    return results


def _checks_table(results: list[CheckResult]) -> pa.Table:
    cols = list(zip(*[(r.check, r.kind, r.ok, r.t_s, r.message, r.params_json()) for r in results])) or \
        [() for _ in range(6)]
    return pa.table([pa.array(list(c), type=f.type) for c, f in zip(cols, _CHECK_SCHEMA)], schema=_CHECK_SCHEMA)


def trace_sha256(case_dir: Path) -> str:
    """SHA-256 over the case's trace files (not companions), concatenated in name order."""
    h = hashlib.sha256()
    for p in table_files(case_dir):
        h.update(p.read_bytes())
    return h.hexdigest()


def run_case(scenario: Scenario, seed: int, case_dir: Path, rel_dir: str, companions: tuple[str, ...] = (),
             clock: Callable[[], float] = time.perf_counter, controller: Callable[[Any], Any] = SurvivalController,
             world_factory: WorldFactory = World,
             given: Mapping[str, Mapping[str, pa.Table]] | None = None) -> CaseResult:
    """Run, judge and write one case; a crash gives verdict ERROR (with ``error.txt``), never an exception.

    ``controller(config)`` builds the controller under test from the scenario's config, and ``world_factory``
    the world (see :func:`simulate`); both default to the real ones and apply to the ``nofault`` companion too
    (the same system without faults). The judge always reads the scenario's declared config. ``given``: companion
    tables already simulated elsewhere (the suite's shared ``nofault`` runs, :func:`nofault_tables`), used as they are.
    """
    meta = TraceMeta(scenario.name, seed)
    start, cpu_start = clock(), time.process_time()
    faults: tuple[Fault, ...] = ()
    result = CaseResult(scenario.name, seed, rel_dir, "ERROR", 0.0, scenario.controller.config_id, faults)
    try:
        faults = scenario.faults_for(seed)
        result.faults = faults
        tables = simulate(scenario, seed, controller(scenario.controller), faults, world_factory)
        case_dir.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            write_table(trace_path(case_dir, name), table, meta)
        comp: dict[str, Mapping[str, pa.Table]] = {}
        for name in companions:
            ctl = controller(scenario.controller) if name == "nofault" else make_controller(name)
            ctables = given[name] if given and name in given else \
                simulate(scenario, seed, ctl, () if name == "nofault" else faults,
                         world_factory if name == "nofault" else World, signals=False)
            comp[name] = ctables
            for t in COMPANION_TABLES:
                write_table(trace_path(case_dir / "companions" / name, t), ctables[t], meta)
        result.companions = tuple(comp)
        result.checks = judge(scenario, faults, tables, comp)
        write_table(trace_path(case_dir, "checks"), _checks_table(result.checks), meta)
        result.verdict = verdict_of(result.checks)
        result.trace_sha256 = trace_sha256(case_dir)
    except Exception as exc:  # a crash of the twin, a fault or a check is the ERROR verdict
        case_dir.mkdir(parents=True, exist_ok=True)
        (case_dir / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        result.verdict = "ERROR"
        result.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
    result.wall_s = round(clock() - start, 3)
    result.cpu_s, result.worker = time.process_time() - cpu_start, os.getpid()
    return result
