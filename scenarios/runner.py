"""The suite runner: scenarios × seeds in parallel worker processes, into one run directory."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import forkserver
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

from tqdm import tqdm

from controller import ControllerConfig, default_config
from traceio import case_dir_name

from .case import CaseResult, Verdict, nofault_key, nofault_tables, run_case
from .codestate import CodeState, code_state
from .crash import note_run_dir
from .workers import bind_to_parent, stop_pool
from .errors import ScenarioFileError
from .loader import resolve_controller
from .manifest import build_manifest, new_run_id, replay_command, write_manifest
from .model import DEFAULT_COMPANIONS, Scenario
from .outputs import write_outputs

__all__ = ["RunOptions", "RunResult", "run_suite", "run_cases", "exit_code", "EXIT_OK", "EXIT_FAILED",
           "EXIT_INVALID", "EXIT_ERROR"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ERROR = 0, 1, 2, 3


def exit_code(verdicts: Sequence[str]) -> int:
    """0 if every run passed, 1 if a check failed, 3 if a run crashed (ERROR)."""
    worst = Verdict.worst(verdicts)
    return EXIT_OK if worst == "PASS" else EXIT_ERROR if worst == "ERROR" else EXIT_FAILED


@dataclass(frozen=True)
class RunOptions:
    """What ``nor run`` does besides the scenarios themselves."""

    out: Path = Path("runs")
    jobs: int = 0                      # 0: every core
    seeds: int | None = None           # override every scenario's seeds with 1..N
    seed_list: tuple[int, ...] | None = None   # override every scenario's seeds with exactly these
    controller: str | None = None      # the base controller of every scenario (name or path)
    companions: bool = True            # False: only those an expectation needs
    junit: Path | None = None
    command: str = "nor run"
    progress: bool = True
    report: bool = True                # render report.html with the reports package
    fail_fast: bool = False            # stop at the first case that does not PASS (the manifest is marked incomplete)
    json_lines: bool = False           # one JSON object per finished case on stdout
    run_dir: Path | None = None        # a fixed run directory (new or empty) instead of out/<run-id>
    prior: dict | None = None          # --resume: the incomplete manifest of run_dir, merged with this run's
    code: CodeState | None = None      # the code state the manifest records (default: this source tree's)
    cluster: str | None = None         # a dask.distributed scheduler (tcp://HOST:8786) instead of the local pool
    cluster_shared_dir: Path | None = None   # workers write cases there (same path everywhere) instead of returning bytes

    @property
    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)


@dataclass
class RunResult:
    run_dir: Path
    manifest: dict
    results: list[CaseResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return exit_code([r.verdict for r in self.results])


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _job(scenario: Scenario, seed: int, case_dir: str, rel: str, companions: tuple[str, ...],
         given: dict | None = None) -> CaseResult:
    return run_case(scenario, seed, Path(case_dir), rel, companions, given=given)


WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1"}
"""Set for the worker processes before numpy loads (unless already set): each worker is one simulation, so BLAS
threads of two workers would fight over the cores (measured 13-18 % faster on 2 cores)."""


@contextlib.contextmanager
def _worker_env() -> Iterator[None]:
    added = {k: v for k, v in WORKER_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes forked from a forkserver that preloads the twin; the forkserver starts (once per process)
    with :data:`WORKER_ENV`, and the workers inherit it."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["scenarios.case"])
    with _worker_env():
        forkserver.ensure_running()
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=bind_to_parent,
                               initargs=(os.getpid(),))


def _echo(text: str) -> None:
    tqdm.write(text, file=sys.stderr)


def run_suite(scenarios: Sequence[Scenario], options: RunOptions = RunOptions(),
              now: Callable[[], datetime] = _utc_now, clock: Callable[[], float] = time.perf_counter,
              echo: Callable[[str], None] = _echo) -> RunResult:
    """Run every scenario at every seed, write the run directory, and return the results.

    Scenarios are validated before this is called (see :func:`scenarios.load_scenarios`). With
    ``options.cluster`` the cases run on that cluster, checked before anything runs (:mod:`.cluster`).
    """
    if options.cluster is not None:
        from .cluster import cluster_session
        with cluster_session(options.cluster, options.cluster_shared_dir, echo) as session:
            return _run_suite(scenarios, options, now, clock, echo, session)
    return _run_suite(scenarios, options, now, clock, echo, None)


def _run_suite(scenarios: Sequence[Scenario], options: RunOptions, now: Callable[[], datetime],
               clock: Callable[[], float], echo: Callable[[str], None], session) -> RunResult:
    created = now()
    code = options.code or code_state()     # the code as the run starts (edits made during it are not its code)
    run_id = new_run_id(created)
    run_dir = options.run_dir if options.run_dir is not None else options.out / run_id
    option = "--run-dir" if options.run_dir is not None else "--out"
    try:
        if run_dir.is_dir() and option == "--run-dir" and (options.prior is not None or not any(run_dir.iterdir())):
            pass                                   # an empty directory made for the run (CI), or --resume
        else:
            run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ScenarioFileError("command line", option, f"a directory where the run directory can be created, new "
                                f"or empty ({exc.strerror or exc})", str(run_dir if option == '--run-dir' else options.out)) from None
    note_run_dir(run_dir)
    if options.seeds is not None:
        scenarios = [replace(s, seeds=tuple(range(1, options.seeds + 1))) for s in scenarios]
    if options.seed_list is not None:
        scenarios = [replace(s, seeds=options.seed_list) for s in scenarios]
    base_spec = options.controller or "survival"
    base: ControllerConfig = resolve_controller(base_spec, "command line", None, field="--controller")[1] if options.controller \
        else default_config()
    jobs = [(s, seed, s.companions_needed(options.companions)) for s in scenarios for seed in s.seeds]
    jobs.sort(key=lambda j: -j[0].duration_s * (1 + len(j[2])))
    workers = max(1, min(options.workers if session is None else session.nthreads, len(jobs)))
    echo(f"nor run {run_id}: {len(scenarios)} scenarios, {len(jobs)} cases, jobs={workers}, controller "
         f"{base.name} ({base.config_id[:12]}), companions={'on' if options.companions else 'as needed'}, "
         f"out={run_dir}")
    start = clock()
    results: list[CaseResult] = []
    interrupted: BaseException | None = None
    try:
        _execute(jobs, run_dir, workers, options, echo, results, session)
    except KeyboardInterrupt as exc:           # Ctrl-C or SIGTERM: keep what finished, marked incomplete
        interrupted = exc
    wall_s = clock() - start
    manifest = build_manifest(run_id=run_id, created=created, command=options.command, controller=base,
                              controller_spec=base_spec,
                              companions=DEFAULT_COMPANIONS if options.companions else (),
                              scenarios=scenarios, results=results, wall_s=wall_s,
                              jobs=workers, code=code)
    if session is not None:
        manifest["cluster"] = session.manifest_entry()
    finished = {(r.scenario, r.seed) for r in results}
    missing = [f"{s.name}/{seed}" for s, seed, _ in jobs if (s.name, seed) not in finished]
    if missing:
        manifest["complete"] = False
        manifest["not_run"] = sorted(missing)
        manifest["stopped_by"] = "interrupt" if interrupted is not None else "fail-fast"
        manifest["resume"] = {"controller": options.controller, "companions": options.companions}
    if options.prior is not None:
        from .resume import merge_manifests
        manifest = merge_manifests(options.prior, manifest)
    write_manifest(run_dir, manifest)
    if interrupted is not None:
        write_outputs(run_dir, manifest, options.junit)
        _metrics_only(run_dir, echo)
        echo(f"interrupted: {len(results)} of {len(jobs)} cases finished; manifest marked incomplete in {run_dir} "
             f"(nor report renders it)")
        raise interrupted
    if not options.report:
        write_outputs(run_dir, manifest, options.junit)
        _metrics_only(run_dir, echo)
    elif not _render(run_dir, options.junit, echo):
        write_outputs(run_dir, manifest, options.junit)
    _print_failures(manifest, run_dir, echo)
    return RunResult(run_dir, manifest, results)


def _cpu_job(*args) -> tuple[CaseResult, float]:
    start = time.process_time()
    result = _job(*args)
    return result, time.process_time() - start


def run_cases(jobs: Sequence[tuple[Scenario, int, tuple[str, ...]]], out: Path, workers: int,
              meanwhile: Callable[[], None] | None = None) -> tuple[list[CaseResult], float]:
    """Run ``(scenario, seed, companions)`` cases into ``out/scenario=<name>/seed=<n>`` on ``workers`` processes
    (no manifest, no report): the replay machinery of ``nor promote``. ``meanwhile``, when given, runs in this
    process while the workers run the cases (if it raises, the workers are stopped). Returns the results and the
    CPU seconds the cases took, wherever they ran."""
    jobs = sorted(jobs, key=lambda j: -j[0].duration_s * (1 + len(j[2])))
    args = [(s, seed, str(out / case_dir_name(s.name, seed)), case_dir_name(s.name, seed), comp)
            for s, seed, comp in jobs]
    workers = max(1, min(workers, len(args)))
    if workers == 1:
        if meanwhile is not None:
            meanwhile()
        done = [_cpu_job(*a) for a in args]
    else:
        pool = _pool(workers)
        try:
            futures = [pool.submit(_cpu_job, *a) for a in args]
            if meanwhile is not None:
                meanwhile()
            done = [f.result() for f in futures]
        except BaseException:      # Ctrl-C, or what ran meanwhile refused: the workers stop now
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)
    return [r for r, _ in done], sum(cpu for _, cpu in done)


class _Stop(Exception):
    """--fail-fast: a case did not pass."""


def case_json(r: CaseResult, run_dir: Path) -> str:
    """One finished case as a JSON line (``nor run --json``)."""
    return json.dumps({"scenario": r.scenario, "seed": r.seed, "verdict": r.verdict, "wall_s": round(r.wall_s, 3),
                       "dir": r.dir, "trace_sha256": r.trace_sha256,
                       "failures": [{"check": c.check, "kind": c.kind, "t_s": c.t_s, "message": c.message}
                                    for c in r.failures],
                       "replay": replay_command(r.scenario, r.seed, run_dir)}, allow_nan=False, default=str)


def _execute(jobs: list, run_dir: Path, workers: int, options: RunOptions,
             echo: Callable[[str], None], results: list[CaseResult], session=None) -> list[CaseResult]:
    bar = tqdm(total=len(jobs), unit="case", file=sys.stderr, disable=not (options.progress and sys.stderr.isatty()),
               dynamic_ncols=True)

    def done(r: CaseResult) -> None:
        results.append(r)
        bar.update(1)
        echo(f"[{len(results)}/{len(jobs)}] {r.verdict:<11} {r.scenario} seed={r.seed} ({r.wall_s:.1f} s)")
        if options.json_lines:
            print(case_json(r, run_dir), flush=True)
        if options.fail_fast and r.verdict != "PASS":
            raise _Stop

    args = [(s, seed, str(run_dir / case_dir_name(s.name, seed)), case_dir_name(s.name, seed), comp)
            for s, seed, comp in jobs]
    try:
        if session is not None:
            session.run_cases(args, run_dir, done)
        elif workers == 1:
            for a in args:
                done(_job(*a))
        else:
            pool = _pool(workers)
            try:
                _run_pooled(pool, args, workers, done)
            except BaseException:      # Ctrl-C, SIGTERM, --fail-fast or a failed job: the workers stop now
                stop_pool(pool)
                raise
            pool.shutdown(wait=True)
    except _Stop:
        echo(f"--fail-fast: stopped after {results[-1].scenario} seed={results[-1].seed} ({results[-1].verdict})")
    finally:
        bar.close()
    return results


def _run_pooled(pool: ProcessPoolExecutor, args: list[tuple], workers: int,
                done: Callable[[CaseResult], None]) -> None:
    """Run the cases ``args`` (longest first) on ``pool``, ``workers + 1`` jobs in flight. Cases whose ``nofault``
    companion comes from the same world (:func:`~scenarios.case.nofault_key`) share it: one job runs that world
    to each of their durations in turn (:func:`~scenarios.case.nofault_tables`) and each case gets its own (if
    that job crashes, each case runs its own nofault world, so a crash is that case's ERROR as before). The next
    job is always for the longest case not yet started: the case itself, or its shared run if that has not
    started (a case waiting for a shared run in flight lets the next one go)."""
    keys: dict[tuple, list[int]] = {}
    for i, a in enumerate(args):
        if "nofault" in a[4]:
            keys.setdefault(nofault_key(a[0], a[1]), []).append(i)
    shared = {i: key for key, idx in keys.items() if len(idx) > 1 for i in idx}
    durations = {key: [args[i][0].duration_s for i in idx] for key, idx in keys.items()}
    tables: dict[tuple, dict | None] = {}          # key -> None while its run is in flight, then its tables
    todo = list(range(len(args)))
    pending: dict = {}

    def feed() -> None:
        while len(pending) <= workers and todo:
            for n, i in enumerate(todo):
                key = shared.get(i)
                if key is None or tables.get(key) is not None:
                    del todo[n]
                    own = None if key is None else tables[key].get(args[i][0].duration_s)
                    pending[pool.submit(_job, *args[i], None if own is None else {"nofault": own})] = None
                    break
                if key not in tables:
                    tables[key] = None
                    pending[pool.submit(nofault_tables, args[i][0], args[i][1], durations[key])] = key
                    break
            else:
                return                             # every case left waits for a shared run in flight

    feed()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in finished:
            key = pending.pop(fut)
            if key is None:
                done(fut.result())
            else:
                tables[key] = {} if fut.exception() is not None else fut.result()
        feed()


def _render(run_dir: Path, junit: Path | None, echo: Callable[[str], None]) -> bool:
    """report.html, summary.md and junit.xml; False (and a warning) when the report could not be rendered."""
    try:
        from reports import render_run
        from reports.files import write_output
        render_run(run_dir)
        if junit is not None:
            write_output(junit, (run_dir / "junit.xml").read_text(encoding="utf-8"))
        return True
    except Exception as exc:  # the report is optional: junit.xml and summary.md are then written on their own
        echo(f"warning: report.html not rendered ({type(exc).__name__}: {exc})")
        return False


def _metrics_only(run_dir: Path, echo: Callable[[str], None]) -> None:
    """``metrics.json`` without the HTML report (``--no-report``)."""
    try:
        from reports import write_run_metrics
        write_run_metrics(run_dir)
    except Exception as exc:  # the traces and the manifest stay; metrics.json can be rebuilt by `nor report`
        echo(f"warning: metrics.json not written ({type(exc).__name__}: {exc})")


def _print_failures(manifest: dict, run_dir: Path, echo: Callable[[str], None]) -> None:
    """The failing cases, each with its replay command from here (the outputs record it from the run directory)."""
    v = manifest["verdicts"]
    echo("verdicts: " + ", ".join(f"{k} {n}" for k, n in v.items()))
    for s in manifest["scenarios"]:
        for r in s["runs"]:
            if r["verdict"] == "PASS":
                continue
            first = r.get("error") or (f"{r['failures'][0]['check']}: {r['failures'][0]['message']}"
                                       if r["failures"] else "")
            echo(f"{r['verdict']} {s['name']} seed={r['seed']}: {first[:200]}")
            echo(f"  replay: {replay_command(s['name'], r['seed'], run_dir)}")
