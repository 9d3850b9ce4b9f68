"""``nor``: the chaos runner's command line — parse, call the library, map the result to an exit code.

Exit codes: 0 every run passed; 1 a check failed (SAFETY, LIVENESS or EXPECTATION); 2 invalid
input (a bad scenario file, option or run directory); 3 a run crashed (ERROR); 4 ``nor replay``
produced a different trace.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

from controller import ConfigError
from controller import strict
from controller.strict import StrictError
from faults import FaultError
from reports import ReportError
from twin import TwinError

from .crash import EXIT_INTERRUPTED, internal_error, note_run_dir, run_dir_of, terminate_as_interrupt
from . import options
from .cluster import ClusterError, add_cluster_options
from .errors import ScenarioError, ScenarioFileError
from .runner import EXIT_ERROR, EXIT_FAILED, EXIT_INVALID, EXIT_OK, RunOptions, exit_code, run_suite

__all__ = ["main", "DEFAULT_SUITE", "SMOKE_SUITE"]

DEFAULT_SUITE = Path(__file__).resolve().parent / "default"
SMOKE_SUITE = Path(__file__).resolve().parent / "smoke"
BUILTIN_SUITES = {"default": DEFAULT_SUITE, "smoke": SMOKE_SUITE}
EXIT_NONDETERMINISTIC = 4
EXIT_BROKEN_PIPE = 141          # 128 + SIGPIPE, as a shell reports a process killed by it


_positive, _seed = options.positive, options.seed


def _parser() -> argparse.ArgumentParser:
    from .manifest import code_version

    p = argparse.ArgumentParser(prog="nor", description="Chaos scenario suites against the DOLPHIN twin.")
    p.add_argument("--version", action="version", version=f"nor {code_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run scenario suites (default: the built-in default suite)")
    run.add_argument("paths", nargs="*", help="scenario files or directories, or a built-in suite by name "
                                              f"({', '.join(BUILTIN_SUITES)}; default: the default suite)")
    run.add_argument("-k", dest="select", metavar="EXPR",
                     help="only scenarios whose names match EXPR: words (substrings) with and, or, not, ( )")
    run.add_argument("--only", action="append", metavar="NAME", help="only the scenario NAME (repeatable)")
    run.add_argument("--tags", type=lambda v: [t for t in v.split(",") if t], metavar="A,B",
                     help="only scenarios with any of these tags (a scenario's tags = [...])")
    run.add_argument("--fail-fast", action="store_true", help="stop at the first case that does not pass")
    run.add_argument("--json", action="store_true", dest="json_lines",
                     help="print one JSON object per finished case on stdout, then the summary")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="run only the cases an interrupted or --fail-fast run did not finish, into that run")
    run.add_argument("--run-dir", type=Path, help="write the run here (a new or empty directory) instead of OUT/<run-id>")
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=options.seed_count, help="run seeds 1..N of every scenario (default: each file's seeds)")
    seeds.add_argument("--seed", type=_seed, action="append", dest="seed_list", metavar="S",
                       help="run exactly seed S of every scenario (repeatable)")
    run.add_argument("--jobs", type=options.jobs, help=f"worker processes, 1..{options.MAX_JOBS} (default: all cores)")
    run.add_argument("--controller", help="survival, static_ladder, seed_template, uncontrolled or a controller TOML path")
    run.add_argument("--out", type=Path, default=Path("runs"), help="parent of the run directory (default: runs)")
    run.add_argument("--junit", type=Path, help="also write the JUnit XML here")
    run.add_argument("--no-companions", action="store_true",
                     help="skip the comparison re-runs (nofault, static_ladder, seed_template, uncontrolled) unless an expectation needs one")
    run.add_argument("--no-report", action="store_true", help="do not render report.html")
    add_cluster_options(run)
    rep = sub.add_parser("replay", help="re-run one case of a run and confirm its trace is byte-identical")
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("scenario")
    rep.add_argument("--seed", type=_seed, required=True)
    rep.add_argument("--out", type=Path, help="keep the replayed case here (default: a temporary directory)")
    val = sub.add_parser("validate", help="check scenario files without running them")
    val.add_argument("paths", nargs="*", help="scenario files or directories (default: the default suite)")
    val.add_argument("--controller", help="validate against this base controller")
    exp = sub.add_parser("explore", help="search random fault schedules for safety/liveness violations")
    exp.add_argument("--budget", type=_positive, default=40, help="schedules to try (default 40)")
    exp.add_argument("--seed", type=_seed, default=0, help="search seed (default 0)")
    exp.add_argument("--controller", default="survival", help="controller name or TOML path")
    exp.add_argument("--horizon", default="20m", help="faults start within this (default 20m)")
    exp.add_argument("--tail", default="2h", help="run this long after the last fault heals; also the liveness "
                                                   "bound (default 2h)")
    exp.add_argument("--kinds", help="comma-separated fault kinds (default: the whole vocabulary)")
    exp.add_argument("--out", type=Path, default=Path("runs/explore"), help="where the minimal scenario is written")
    exp.add_argument("--no-liveness", action="store_true", help="look for safety violations only")
    add_cluster_options(exp, shared=False)
    rpt = sub.add_parser("report", help="(re)render report.html, summary.md and junit.xml of a run directory; "
                                        "with two run directories, compare them")
    rpt.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="one run, or two to compare")
    rpt.add_argument("--out", type=Path, help="comparison output directory (default: <second run>/compare)")
    cmp_ = sub.add_parser("compare", help="two runs (two controller configs) side by side")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    cmp_.add_argument("--out", type=Path, help="output directory (default: <run_b>/compare)")
    from .promote_cli import add_parsers
    from .sweep_cli import add_parser as add_sweep_parser
    add_parsers(sub)
    inf = sub.add_parser("infra", help="a local real Hazelcast cluster and Toxiproxy server (up / down / status)")
    inf.add_argument("action", choices=("up", "down", "status"))
    inf.add_argument("--members", type=_positive, default=3, help="members for 'up' (default 3)")
    add_sweep_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``nor``; returns the exit code.

    Bad input is exit 2 with the file and field named; anything unexpected is exit 3 (never 1, which
    means a check failed) with a short message, the traceback kept in a crash log (:mod:`.crash`).
    SIGTERM is handled like Ctrl-C (exit 130).
    """
    for stream in (sys.stdout, sys.stderr):       # a message never fails on a terminal's encoding
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    note_run_dir(None)                  # a previous command in this process is not this one
    try:
        with terminate_as_interrupt():
            return _dispatch(args, "nor " + shlex.join(args_list))
    except ClusterError as exc:           # the cluster lost a task on every worker it tried: not a verdict
        print(f"nor: cluster: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ScenarioError, ConfigError, FaultError, TwinError, ReportError, StrictError) as exc:
        _invalid(exc)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("nor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:             # `nor validate | head`: the reader left; not a bug, and quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:     # the one catch-all: a bug in nor, not a verdict and not bad input
        print(internal_error(exc, args_list, run_dir_of(args)), file=sys.stderr)
        return EXIT_ERROR


def _invalid(exc: Exception) -> None:
    """``nor: invalid input: ...`` on stderr, once per line (a file with several problems names each)."""
    for line in str(exc).splitlines() or [""]:
        print(f"nor: invalid input: {line}", file=sys.stderr)


def _check_outputs(args: argparse.Namespace) -> None:
    """Output locations named on the command line, checked before anything is read or run."""
    if args.command in ("run", "explore", "replay", "report", "compare", "sweep") and getattr(args, "out", None) is not None:
        options.out_dir(args.out, "--out")
    if getattr(args, "junit", None) is not None:
        options.out_file(args.junit, "--junit")
    if args.command == "replay" and not strict.is_identifier(args.scenario):
        raise ScenarioFileError("command line", "SCENARIO", f"a scenario name: {strict.IDENTIFIER_RULE}",
                                args.scenario)


def _dispatch(args: argparse.Namespace, command: str) -> int:
    from .loader import controller_option, load_scenarios

    _check_outputs(args)
    if getattr(args, "controller", None) is not None and args.command in ("run", "validate"):
        args.controller = controller_option(args.controller)      # its own error, before any scenario file
    if args.command == "run" and args.resume is not None:
        from .resume import resume_run
        result = resume_run(args.resume, RunOptions(jobs=args.jobs or 0, junit=args.junit, command=command,
                                                    report=not args.no_report, fail_fast=args.fail_fast,
                                                    json_lines=args.json_lines, cluster=args.cluster,
                                                    cluster_shared_dir=args.cluster_shared_dir))
        print(result.run_dir)
        return exit_code([r["verdict"] for s in result.manifest["scenarios"] for r in s["runs"]])
    if args.command == "run":
        from .select import select_scenarios, suite_paths
        scenarios = load_scenarios(suite_paths(args.paths, BUILTIN_SUITES) or [DEFAULT_SUITE], controller=args.controller)
        if not scenarios:
            print("nor: invalid input: no scenario files found", file=sys.stderr)
            return EXIT_INVALID
        scenarios = select_scenarios(scenarios, args.select, args.only, args.tags)
        if args.run_dir is not None:
            options.out_dir(args.run_dir, "--run-dir")
        opts = RunOptions(out=args.out, jobs=args.jobs or 0, seeds=args.seeds, controller=args.controller,
                          seed_list=tuple(dict.fromkeys(args.seed_list)) if args.seed_list else None,
                          companions=not args.no_companions, junit=args.junit, command=command,
                          report=not args.no_report, fail_fast=args.fail_fast, json_lines=args.json_lines,
                          run_dir=args.run_dir, cluster=args.cluster, cluster_shared_dir=args.cluster_shared_dir)
        result = run_suite(scenarios, opts)
        if args.json_lines:
            import json
            print(json.dumps({"summary": True, "run_dir": str(result.run_dir), "verdicts": result.manifest["verdicts"],
                              "complete": result.manifest.get("complete", True),
                              "not_run": result.manifest.get("not_run", []), "exit_code": result.exit_code}))
        else:
            print(result.run_dir)
        return result.exit_code
    if args.command == "validate":
        return _validate(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "sweep":
        from .sweep_cli import sweep_cli
        return sweep_cli(args)
    if args.command == "explore":
        from .explore import explore_cli
        return explore_cli(args)
    if args.command in ("promote", "paper"):
        from .promote_cli import paper_cli, promote_cli
        return promote_cli(args) if args.command == "promote" else paper_cli(args, command)
    if args.command == "infra":
        return _infra(args)
    if args.command == "report":
        from reports import render_compare, render_run
        if len(args.run_dirs) > 2:
            print("nor: invalid input: nor report takes one run directory, or two to compare", file=sys.stderr)
            return EXIT_INVALID
        if len(args.run_dirs) == 2:
            run_a, run_b = args.run_dirs
            print(render_compare(run_a, run_b, args.out or run_b / "compare"))
        else:
            print(render_run(args.run_dirs[0]))
        return EXIT_OK
    if args.command == "compare":
        from reports import render_compare
        print(render_compare(args.run_a, args.run_b, args.out or args.run_b / "compare"))
        return EXIT_OK
    raise AssertionError(args.command)


def _infra(args: argparse.Namespace) -> int:
    from infra import InfraError
    from infra.control import infra_down, infra_status, infra_up

    try:
        if args.action == "up":
            infra_up(args.members)
            return EXIT_OK
        if args.action == "down":
            infra_down()
            return EXIT_OK
        return EXIT_OK if infra_status() else EXIT_FAILED
    except InfraError as exc:
        print(f"nor: infra: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _validate(args: argparse.Namespace) -> int:
    """Every file checked, every problem of each named (not only the first); exit 2 if any is bad or none found."""
    from .loader import discover, load_scenario

    files = discover(args.paths or [DEFAULT_SUITE])
    if not files:
        print(f"nor: invalid input: no scenario files (*.toml) in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return EXIT_INVALID
    bad = 0
    names: dict[str, str] = {}
    for f in files:
        try:
            s = load_scenario(f, controller=args.controller)
        except (ScenarioError, ConfigError, FaultError, TwinError, StrictError) as exc:
            _invalid(exc)                       # every problem of the file, one a line
            bad += 1
            continue
        if s.name in names:
            print(f"nor: invalid input: {s.file}: name: expected a name unique in the run (also used by "
                  f"{names[s.name]}), got {s.name!r}", file=sys.stderr)
            bad += 1
            continue
        names[s.name] = s.file
        print(f"ok {s.file}: {s.name} ({len(s.faults)} faults{', swarm' if s.swarm else ''}, "
              f"{len(s.expectations)} expectations, seeds {list(s.seeds)})")
    if bad:
        print(f"nor validate: {bad} of {len(files)} files invalid", file=sys.stderr)
    return EXIT_INVALID if bad else EXIT_OK


def mismatch_text(replayed: str, recorded: str, on_disk: str, differing: Sequence[str]) -> str:
    """What differs, naming each distinct hash once: the replay, the manifest's record, the files on disk."""
    files = ", ".join(differing) or "(none)"
    if replayed != recorded:
        text = f"NOT byte-identical: the replay's trace sha256 {replayed} differs from the recorded {recorded}"
        if on_disk and on_disk not in (replayed, recorded):
            text += f"; the case directory's files now hash to {on_disk}"
        return text + (f"; differing files: {files}" if on_disk else "; original case directory missing")
    return (f"NOT byte-identical: the replay matches the recorded trace sha256 {recorded}, but the case directory's "
            f"files hash to {on_disk} (changed after the run); differing files: {files}")


def _replay(args: argparse.Namespace) -> int:
    from .replay import replay_case

    r = replay_case(args.run_dir, args.scenario, args.seed, out=args.out)
    res = r.result
    print(f"verdict {res.verdict} (recorded {r.recorded.get('verdict')}), {res.wall_s:.1f} s")
    for c in res.failures:
        print(f"  {c.kind} {c.check} at t={c.t_s:.1f}s: {c.message}")
    if res.error:
        print(f"  error: {res.error}")
    if not r.identical:
        print(mismatch_text(res.trace_sha256, str(r.recorded.get("trace_sha256")), r.on_disk_sha256, r.differing))
        return EXIT_NONDETERMINISTIC
    print(f"trace byte-identical (sha256 {res.trace_sha256})")
    code = exit_code([res.verdict])
    return code if code != EXIT_OK or res.verdict == "PASS" else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
