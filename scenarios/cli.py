"""``nor``: the chaos runner's command line — parse, call the library, map the result to an exit code.

Exit codes: 0 every run passed; 1 a check failed (SAFETY, LIVENESS or EXPECTATION); 2 invalid
input (a bad scenario file, option or run directory); 3 a run crashed (ERROR); 4 ``nor replay``
produced a different trace.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from controller import ConfigError
from faults import FaultError
from reports import ReportError
from twin import TwinError

from .errors import ScenarioError
from .runner import EXIT_FAILED, EXIT_INVALID, EXIT_OK, RunOptions, exit_code, run_suite

__all__ = ["main", "DEFAULT_SUITE", "SMOKE_SUITE"]

DEFAULT_SUITE = Path(__file__).resolve().parent / "default"
SMOKE_SUITE = Path(__file__).resolve().parent / "smoke"
EXIT_NONDETERMINISTIC = 4


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nor", description="Chaos scenario suites against the DOLPHIN twin.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run scenario suites (default: the built-in default suite)")
    run.add_argument("paths", nargs="*", help="scenario files or directories (default: the default suite)")
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=_positive, help="run seeds 1..N of every scenario (default: each file's seeds)")
    seeds.add_argument("--seed", type=_seed, action="append", dest="seed_list", metavar="S",
                       help="run exactly seed S of every scenario (repeatable)")
    run.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    run.add_argument("--controller", help="survival, static_ladder, seed_template, uncontrolled or a controller TOML path")
    run.add_argument("--out", type=Path, default=Path("runs"), help="parent of the run directory (default: runs)")
    run.add_argument("--junit", type=Path, help="also write the JUnit XML here")
    run.add_argument("--no-companions", action="store_true",
                     help="skip the comparison re-runs (nofault, static_ladder, seed_template, uncontrolled) unless an expectation needs one")
    run.add_argument("--no-report", action="store_true", help="do not render report.html")
    rep = sub.add_parser("replay", help="re-run one case of a run and confirm its trace is byte-identical")
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("scenario")
    rep.add_argument("--seed", type=int, required=True)
    rep.add_argument("--out", type=Path, help="keep the replayed case here (default: a temporary directory)")
    val = sub.add_parser("validate", help="check scenario files without running them")
    val.add_argument("paths", nargs="*", help="scenario files or directories (default: the default suite)")
    val.add_argument("--controller", help="validate against this base controller")
    exp = sub.add_parser("explore", help="search random fault schedules for safety/liveness violations")
    exp.add_argument("--budget", type=_positive, default=40, help="schedules to try (default 40)")
    exp.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    exp.add_argument("--controller", default="survival", help="controller name or TOML path")
    exp.add_argument("--horizon", default="20m", help="faults start within this (default 20m)")
    exp.add_argument("--tail", default="2h", help="run this long after the last fault heals; also the liveness "
                                                   "bound (default 2h)")
    exp.add_argument("--kinds", help="comma-separated fault kinds (default: the whole vocabulary)")
    exp.add_argument("--out", type=Path, default=Path("runs/explore"), help="where the minimal scenario is written")
    exp.add_argument("--no-liveness", action="store_true", help="look for safety violations only")
    rpt = sub.add_parser("report", help="(re)render report.html, summary.md and junit.xml of a run directory; "
                                        "with two run directories, compare them")
    rpt.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="one run, or two to compare")
    rpt.add_argument("--out", type=Path, help="comparison output directory (default: <second run>/compare)")
    cmp_ = sub.add_parser("compare", help="two runs (two controller configs) side by side")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    cmp_.add_argument("--out", type=Path, help="output directory (default: <run_b>/compare)")
    pro = sub.add_parser("promote", help="record that a controller config passed its suites (gates nor paper)")
    pro.add_argument("config", type=Path, help="controller config TOML")
    pro.add_argument("--evidence", type=Path, required=True, help="the run directory that used exactly this config")
    pro.add_argument("--suite", action="append", default=[], help="required suite (repeatable; default: default)")
    pro.add_argument("--records", type=Path, default=Path("promotions"), help="promotion records directory")
    ppr = sub.add_parser("paper", help="paper-trade a promoted config in NautilusTrader (sandbox fills)")
    ppr.add_argument("--config", type=Path, required=True, help="controller config TOML (must be promoted)")
    ppr.add_argument("--records", type=Path, default=Path("promotions"), help="promotion records directory")
    ppr.add_argument("--instrument", action="append", default=[], help="instrument id, e.g. BTCUSDT.BINANCE (repeatable)")
    ppr.add_argument("--build-only", action="store_true", help="check the gate and build the node, do not connect")
    ppr.add_argument("--feed", default="binance", help="market data: binance (default), replay:sample or replay:PATH")
    ppr.add_argument("--duration", help="stop after this long, e.g. 10m (default: until Ctrl-C)")
    ppr.add_argument("--speed", type=float, default=1.0, help="replay pace factor (20 = 20x real time)")
    ppr.add_argument("--stand-ins", default="", help="publish labelled healthy records for: mc_forewarner,exf,esof")
    ppr.add_argument("--fault", action="append", default=[], help="pause a publisher: TARGET@AT+FOR (repeatable)")
    ppr.add_argument("--assets", type=int, help="trade only the first N assets of the price file")
    ppr.add_argument("--out", type=Path, default=Path("runs"), help="where the session's run directory goes")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``nor``; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    try:
        return _dispatch(args, "nor " + shlex.join(args_list))
    except (ScenarioError, ConfigError, FaultError, TwinError, ReportError) as exc:
        print(f"nor: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("nor: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace, command: str) -> int:
    from .loader import controller_option, load_scenarios

    if getattr(args, "controller", None) is not None and args.command in ("run", "validate"):
        args.controller = controller_option(args.controller)      # its own error, before any scenario file
    if args.command == "run":
        scenarios = load_scenarios(args.paths or [DEFAULT_SUITE], controller=args.controller)
        if not scenarios:
            print("nor: invalid input: no scenario files found", file=sys.stderr)
            return EXIT_INVALID
        opts = RunOptions(out=args.out, jobs=args.jobs, seeds=args.seeds, controller=args.controller,
                          seed_list=tuple(dict.fromkeys(args.seed_list)) if args.seed_list else None,
                          companions=not args.no_companions, junit=args.junit, command=command,
                          report=not args.no_report)
        result = run_suite(scenarios, opts)
        print(result.run_dir)
        return result.exit_code
    if args.command == "validate":
        scenarios = load_scenarios(args.paths or [DEFAULT_SUITE], controller=args.controller)
        for s in scenarios:
            print(f"ok {s.file}: {s.name} ({len(s.faults)} faults{', swarm' if s.swarm else ''}, "
                  f"{len(s.expectations)} expectations, seeds {list(s.seeds)})")
        return EXIT_OK if scenarios else EXIT_INVALID
    if args.command == "replay":
        return _replay(args)
    if args.command == "explore":
        from .explore import explore_cli
        return explore_cli(args)
    if args.command == "promote":
        return _promote(args)
    if args.command == "paper":
        from .paper import paper
        from .paper_run import PaperOptionError, parse_options
        try:
            options = parse_options(args.feed, args.duration, args.speed, args.stand_ins, args.fault, args.out,
                                    args.assets)
        except PaperOptionError as exc:
            print(f"nor: invalid input: {exc}", file=sys.stderr)
            return EXIT_INVALID
        return paper(args.config, records_dir=args.records, instruments=args.instrument, build_only=args.build_only,
                     say=lambda line: print(line, file=sys.stderr if line.startswith("nor:") else sys.stdout),
                     options=options, command=command)
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


def _promote(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from .manifest import code_version
    from .promotion import PromotionError, promote

    try:
        record = promote(args.config, args.evidence, suites=args.suite, records_dir=args.records,
                         now_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         code_version=code_version())
    except PromotionError as exc:
        print(f"nor: promotion refused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"promoted {record.data['config_name']} ({record.config_id[:12]}): {record.path}")
    return EXIT_OK


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
        print(f"NOT byte-identical: trace sha256 {res.trace_sha256} vs recorded {r.recorded.get('trace_sha256')}; "
              f"differing files: {', '.join(r.differing) or '(original case directory missing)'}")
        return EXIT_NONDETERMINISTIC
    print(f"trace byte-identical (sha256 {res.trace_sha256})")
    code = exit_code([res.verdict])
    return code if code != EXIT_OK or res.verdict == "PASS" else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
