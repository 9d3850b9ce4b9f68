"""Evidence for a promotion, re-derived from the run directory rather than read from its manifest.

What is checked, in order (each refusal is a :class:`EvidenceRefused` naming the one thing that blocks):

1. the code: the run recorded its code (``manifest.code``), from a clean git tree, with the same bound-code
   hash as the code running now (else the changed files are named);
2. the suites: every scenario of every required suite ran, from the suite's own file, at every seed the
   file declares, with exactly the promoted config;
3. the traces: each case's trace files hash to what the manifest recorded, and every file of the case is
   hashed into the record;
4. the decisions and verdicts: each case's decisions must be what the config decides on its observed signals,
   and the checks are re-run on its traces (the manifest's verdicts are never read): they must all pass and
   give exactly the case's ``checks.parquet``;
5. the replay sample: at least one case per scenario (drawn with a recorded seed) is re-run and must be
   byte-identical and pass.

Steps 4 and 5 run at once (:func:`verify_cases`): the sample replays on the worker processes while this process
re-judges the other cases; a sampled case is judged by its replay, so every trace is parsed and every check
computed once per case.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numba
import numpy as np
import pyarrow as pa

from controller import ControllerConfig, Posture, evaluate_batch
from reports import ReportError
from reports.manifest import Manifest, RunInfo, ScenarioInfo
from reports.traces import read_table
from traceio import SUFFIX, TraceFileError, TraceMeta, case_dir_name, table_files, trace_path, write_table

from .case import CaseResult, _checks_table, judge, trace_sha256
from .codestate import CodeState, code_changes, combined_sha256
from .errors import ScenarioError
from .loader import discover, load_scenario
from .model import Scenario
from .record import PromotionError
from .runner import run_cases

__all__ = ["EvidenceRefused", "Required", "Case", "resolve_suites", "required_scenarios", "check_code",
           "match_cases", "redecide", "rejudge", "draw_sample", "verify_cases", "BUILTIN_ROOT"]

BUILTIN_ROOT = Path(__file__).resolve().parent


class EvidenceRefused(PromotionError):
    """The evidence does not support the promotion; the message names the one thing that blocks it."""


@dataclass(frozen=True)
class Required:
    """One scenario a promotion requires: its suite, the file that defines it and its text's SHA-256."""

    suite: str
    scenario: Scenario
    sha256: str


@dataclass
class Case:
    """One evidence case (a required scenario at one seed) and the SHA-256 of each of its files."""

    required: Required
    run: RunInfo
    run_dir: Path
    dir: Path
    files: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.required.scenario.name} seed {self.run.seed}"

    @property
    def replay(self) -> str:
        return f"nor replay {self.run_dir} {self.required.scenario.name} --seed {self.run.seed}"


def resolve_suites(names: Sequence[str]) -> list[tuple[str, Path]]:
    """(suite name, directory) for built-in suite names (``scenarios/<name>/``) and directories, in order, once."""
    out: dict[Path, str] = {}
    for name in names:
        builtin = BUILTIN_ROOT / name
        if name and "/" not in name and "\\" not in name and not name.startswith(".") and builtin.is_dir() \
                and any(builtin.glob("*.toml")):
            directory = builtin
        elif name and Path(name).is_dir():
            directory = Path(name).resolve()
        else:
            found = sorted(p.name for p in BUILTIN_ROOT.iterdir() if p.is_dir() and any(p.glob("*.toml")))
            raise ScenarioError(f"--suite {name}: expected a built-in suite ({', '.join(found)}) or a directory "
                                f"of scenario files")
        out.setdefault(directory, directory.name)
    return [(suite, directory) for directory, suite in out.items()]


def required_scenarios(suites: Sequence[tuple[str, Path]], config_path: Path,
                       config: ControllerConfig) -> list[Required]:
    """Every scenario file of every suite, loaded with the promoted config as its controller."""
    out: list[Required] = []
    seen: dict[str, str] = {}
    for suite, directory in suites:
        files = discover([directory])
        if not files:
            raise ScenarioError(f"{directory}: suite {suite!r} has no scenario files")
        for path in files:
            scenario = load_scenario(path, controller=str(config_path.resolve()))
            if scenario.name in seen:
                if seen[scenario.name] == str(path.resolve()):
                    continue
                raise ScenarioError(f"{path}: name: expected a scenario name unique across the required suites "
                                    f"(also {seen[scenario.name]})")
            seen[scenario.name] = str(path.resolve())
            if scenario.controller.config_id != config.config_id:
                raise EvidenceRefused(f"suite {suite!r}: scenario {scenario.name} ({path}) overrides the controller "
                                      f"inline, so none of its cases can be evidence for config {config.config_id[:12]}")
            out.append(Required(suite, scenario, hashlib.sha256(scenario.text.encode()).hexdigest()))
    return out


def check_code(manifest: Manifest, now: CodeState) -> None:
    """The evidence's code is recorded, clean, and the code running now (the changed files named)."""
    code, where = manifest.code, manifest.path
    if code is None:
        raise EvidenceRefused(f"{where}: the run records no code state (written before code binding): re-run the suites")
    if code.dirty is None:
        raise EvidenceRefused(f"{where}: the run was not made in a git checkout, so whether its tree was dirty is "
                              f"unknown: run the suites from a clean checkout")
    if code.dirty:
        raise EvidenceRefused(f"{where}: evidence from a dirty tree: {len(code.dirty)} uncommitted change(s) "
                              f"({', '.join(code.dirty[:5])}{', ...' if len(code.dirty) > 5 else ''}): commit, then "
                              f"re-run the suites")
    if combined_sha256(code.files) != code.sha256:
        raise EvidenceRefused(f"{where}: code.sha256 is not the hash of code.files (the manifest was edited)")
    if code.sha256 != now.sha256:
        changes = code_changes(code.files, now.files)
        raise EvidenceRefused(f"{where}: the evidence ran other code than this (code sha256 {code.sha256[:12]} vs "
                              f"{now.sha256[:12]} now: {', '.join(changes[:5])}{', ...' if len(changes) > 5 else ''})"
                              f": re-run the suites with this code")


def _by_name(manifest: Manifest) -> dict[str, ScenarioInfo]:
    out: dict[str, ScenarioInfo] = {}
    for s in manifest.scenarios:
        if s.name in out:
            raise EvidenceRefused(f"{manifest.path}: scenario {s.name} appears twice in the manifest")
        out[s.name] = s
    return out


def match_cases(manifest: Manifest, required: Sequence[Required], config: ControllerConfig) -> list[Case]:
    """The evidence case of every required scenario and seed, its traces hash-checked and hashed file by file."""
    ran, cases = _by_name(manifest), []
    run_dir = manifest.run_dir.resolve()
    for req in required:
        name, suite = req.scenario.name, req.suite
        info = ran.get(name)
        if info is None:
            missing = [r.scenario.name for r in required if r.suite == suite and r.scenario.name not in ran]
            raise EvidenceRefused(f"{manifest.run_dir}: suite {suite!r}: scenario {name} did not run in the evidence "
                                  f"({len(missing)} of the suite's scenarios did not: {', '.join(missing[:5])}"
                                  f"{', ...' if len(missing) > 5 else ''})")
        seeds = [r.seed for r in info.runs]
        if len(set(seeds)) != len(seeds):
            raise EvidenceRefused(f"{manifest.path}: scenario {name} lists a seed twice")
        absent = [s for s in req.scenario.seeds if s not in seeds]
        if absent:
            raise EvidenceRefused(f"{manifest.run_dir}: suite {suite!r}: scenario {name} did not run at seed {absent[0]} "
                                  f"(its file declares seeds {', '.join(map(str, req.scenario.seeds))}; the evidence "
                                  f"has {', '.join(map(str, sorted(seeds))) or 'none'}): run its declared seeds")
        for run in sorted(info.runs, key=lambda r: r.seed):
            cases.append(_case(req, run, run_dir, config))
    return cases


def _case(req: Required, run: RunInfo, run_dir: Path, config: ControllerConfig) -> Case:
    label = f"{req.scenario.name} seed {run.seed}"
    if run.config_id != config.config_id:
        raise EvidenceRefused(f"{run_dir}: {label} ran config {run.config_id[:12] or '(none recorded)'}, not this "
                              f"config {config.config_id[:12]} ({config.name})")
    case_dir = (run_dir / run.dir).resolve()
    if not case_dir.is_relative_to(run_dir) or case_dir == run_dir:
        raise EvidenceRefused(f"{run_dir}: {label}: dir {run.dir!r} is not a case directory inside the run")
    if not case_dir.is_dir():
        raise EvidenceRefused(f"{case_dir}: missing: the traces of {label} are gone")
    if not run.trace_sha256:
        raise EvidenceRefused(f"{case_dir}: the manifest records no traces for {label} (a crashed case?"
                              f"{' ' + run.error[:200] if run.error else ''})")
    try:
        digest = trace_sha256(case_dir)
    except TraceFileError as exc:
        raise EvidenceRefused(f"{label}: {exc}") from None
    if digest != run.trace_sha256:
        raise EvidenceRefused(f"{case_dir}: the traces of {label} differ from those the manifest recorded")
    files = {p.relative_to(case_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(case_dir.rglob("*")) if p.is_file()}
    return Case(req, run, run_dir, case_dir, files)


def _tables(case: Case) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The case's trace tables and the companion tables its expectations read."""
    tables = {p.stem: read_table(p) for p in table_files(case.dir) if p.stem != "checks"}
    companions = {}
    for name in case.required.scenario.companions_needed(False):
        where = case.dir / "companions" / name
        companions[name] = {t: read_table(trace_path(where, t)) for t in ("decisions", "equity")}
    return tables, companions


def redecide(case: Case, tables: Mapping[str, pa.Table]) -> None:
    """The case's decisions must be what the promoted config decides on its observed signals (the batch kernel,
    every step): traces made by another config under this one's id do not pass."""
    config = case.required.scenario.controller
    observed, decisions = tables["signals_observed"], tables["decisions"]
    columns = {name: observed.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
               for name in ("t_s", *config.signal_names)}
    result = evaluate_batch([config], columns, "full")
    r = decisions.column("r_total").to_numpy(zero_copy_only=False)
    postures = np.array([Posture[p] for p in decisions.column("posture").to_pylist()], dtype=np.int8)
    leverage = decisions.column("max_leverage").to_numpy(zero_copy_only=False)
    caps = np.array([config.postures.band(p).max_leverage for p in Posture])[postures]
    where = f"{trace_path(case.dir, 'decisions')}: {case.label}: the decisions are not what config {config.config_id[:12]} " \
            f"decides on the observed signals"
    if r.shape != result.r_total[0].shape:
        raise EvidenceRefused(f"{where} ({len(r)} decisions for {result.r_total.shape[1]} observed steps)")
    bad = (np.abs(result.r_total[0] - r) > 1e-9) | (result.posture[0] != postures) | (leverage != caps)
    if bad.any():
        i = int(np.argmax(bad))
        raise EvidenceRefused(f"{where} (step {i}: r_total {r[i]:.6g} vs {result.r_total[0][i]:.6g}, posture "
                              f"{Posture(int(postures[i])).name} vs {Posture(int(result.posture[0][i])).name}, "
                              f"max_leverage {leverage[i]:g} vs {caps[i]:g})")


def rejudge(case: Case, scratch: Path) -> None:
    """Re-derive the case's decisions (:func:`redecide`) and re-run the checks on its traces: every check must
    pass and give exactly its ``checks.parquet``."""
    scenario, seed = case.required.scenario, case.run.seed
    try:
        tables, companions = _tables(case)
        redecide(case, tables)
        results = judge(scenario, scenario.faults_for(seed), tables, companions)
    except ReportError as exc:
        raise EvidenceRefused(f"{case.label}: its traces cannot be judged: {exc}") from None
    except EvidenceRefused:
        raise
    except Exception as exc:  # a check that cannot read these traces: they are not what the twin writes
        raise EvidenceRefused(f"{case.dir}: {case.label}: its traces cannot be judged "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
    for r in results:
        if not r.ok:
            raise EvidenceRefused(f"{case.label}: check {r.check} ({r.kind}) fails on its traces at t={r.t_s:g} s: "
                                  f"{r.message} ({case.replay})")
    mine = trace_path(scratch / f"{scenario.name}-{seed}", "checks")
    write_table(mine, _checks_table(results), TraceMeta(scenario.name, seed))
    recorded = trace_path(case.dir, "checks")
    if not recorded.is_file() or mine.read_bytes() != recorded.read_bytes():
        raise EvidenceRefused(f"{recorded}: {case.label}: {recorded.name} is not what the checks give on its traces "
                              f"(rewritten?)")


def draw_sample(cases: Sequence[Case], seed: int, per_scenario: int = 1) -> list[Case]:
    """``per_scenario`` cases of every scenario (all it has if fewer), drawn with ``random.Random(seed)``."""
    rng = random.Random(seed)
    by_name: dict[str, list[Case]] = {}
    for c in cases:
        by_name.setdefault(c.required.scenario.name, []).append(c)
    sample: list[Case] = []
    for name in sorted(by_name):
        group = sorted(by_name[name], key=lambda c: c.run.seed)
        sample += rng.sample(group, min(per_scenario, len(group)))
    return sample


def _digests(directory: Path, companions: Sequence[str]) -> dict[str, str]:
    files = table_files(directory)
    for name in companions:
        files += table_files(directory / "companions" / name)
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _compared(case: Case, companions: Sequence[str]) -> dict[str, str]:
    """The digests (hashed once, by :func:`match_cases`) of the case's files a replay re-makes: what
    :func:`_digests` reads, without reading them again."""
    folders = {"", *(f"companions/{name}/" for name in companions)}
    return {n: d for n, d in case.files.items()
            if n.endswith(SUFFIX) and n[:n.rfind("/") + 1] in folders}


def _replay_refusal(case: Case, result: CaseResult, replay_dir: Path, scratch: Path) -> EvidenceRefused | None:
    """Why the replay of ``case`` does not vouch for it, or None: byte-identical files (``checks.parquet``
    included) and a passing verdict. Then re-judging its recorded traces would give what the replay's own checks
    gave on the same bytes, so it is not done; else the case is re-judged to name what is wrong, as then the
    traces or checks (:func:`rejudge`) and only then the replay itself are blamed."""
    if result.verdict == "ERROR":
        return EvidenceRefused(f"{case.label}: the replay crashed: {result.error}")
    companions = case.required.scenario.companions_needed(False)
    mine, theirs = _digests(replay_dir, companions), _compared(case, companions)
    differing = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
    if not differing and result.verdict == "PASS":
        return None
    try:
        rejudge(case, scratch)
    except EvidenceRefused as exc:
        return exc
    if differing:
        return EvidenceRefused(f"{case.dir}: {case.label}: the replay is not byte-identical ({', '.join(differing)} "
                               f"differ): the traces are not what this code and config produce ({case.replay})")
    f = result.failures[0] if result.failures else None
    return EvidenceRefused(f"{case.label}: the replay gives verdict {result.verdict}"
                           f"{f' (check {f.check}: {f.message})' if f else ''} but its traces pass ({case.replay})")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """The batch kernel on this thread alone: while the workers replay, they have the cores, and numba's
    thread pool would only wait for them (measured: 32 cases re-decided in 0.4 CPU-s on one thread, 1.8-4 CPU-s
    with one per core on a busy machine)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _key(case: Case) -> tuple[str, int]:
    return case.required.scenario.name, case.run.seed


def verify_cases(cases: Sequence[Case], sample: Sequence[Case], workers: int) -> tuple[float, float]:
    """Re-judge (:func:`rejudge`) every case outside ``sample`` in this process while ``workers`` processes replay
    the sample, each case with the companions its checks read: every trace is parsed and every check computed
    once per case (a sampled case is judged by its replay, see :func:`_replay_refusal`). The first refusal in case
    order is raised. Returns the seconds spent re-judging here (overlapping the replay) and the replays' CPU
    seconds."""
    sampled = {_key(c) for c in sample}
    refused: dict[int, EvidenceRefused] = {}
    spent_s: list[float] = []

    def rejudge_the_rest() -> None:
        start = time.perf_counter()
        with _one_thread():
            for i, c in enumerate(cases):
                if _key(c) not in sampled:
                    try:
                        rejudge(c, scratch)
                    except EvidenceRefused as exc:
                        refused[i] = exc
                        break
        spent_s.append(time.perf_counter() - start)

    jobs = [(c.required.scenario, c.run.seed, c.required.scenario.companions_needed(False)) for c in sample]
    with tempfile.TemporaryDirectory(prefix="nor-promote-") as tmp:
        scratch, out = Path(tmp) / "checks", Path(tmp) / "replay"
        scratch.mkdir()
        results, cpu_s = run_cases(jobs, out, workers, meanwhile=rejudge_the_rest)
        by_key = {(r.scenario, r.seed): r for r in results}
        stop = min(refused, default=len(cases))
        for i, c in enumerate(cases[:stop]):
            if _key(c) in sampled:
                problem = _replay_refusal(c, by_key[_key(c)], out / case_dir_name(c.required.scenario.name, c.run.seed),
                                          scratch)
                if problem is not None:
                    refused[i] = problem
                    break
    if refused:
        raise refused[min(refused)]
    return sum(spent_s), cpu_s
