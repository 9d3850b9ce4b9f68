"""``nor promote`` and ``nor paper``: their options, and the calls behind them (the CLI stays a thin shell)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["add_parsers", "promote_cli", "paper_cli"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    pro = sub.add_parser("promote", help="check a run's evidence for a controller config and sign its promotion record "
                                         "(gates nor paper)")
    pro.add_argument("config", type=Path, nargs="?", help="controller config TOML")
    pro.add_argument("--evidence", type=Path, help="the run directory that used exactly this config (nor run "
                                                   "--controller CONFIG)")
    pro.add_argument("--suite", action="append", default=[], metavar="NAME",
                     help="a suite also required, besides the default suite (a built-in name or a directory; "
                          "repeatable)")
    pro.add_argument("--records", type=Path, help="promotion records directory (default: promotions/ beside CONFIG)")
    pro.add_argument("--explain", action="store_true", help="print what the record binds before writing it")
    pro.add_argument("--sample-seed", type=int, help="seed that draws the replayed cases (default: random; recorded)")
    pro.add_argument("--jobs", type=int, default=0, help="worker processes for the replay sample (default: all cores)")
    pro.add_argument("--init-key", action="store_true",
                     help="make the promotion signing key ($NOR_PROMOTION_KEY_FILE, else the user's config directory) "
                          "and trust its public key")
    ppr = sub.add_parser("paper", help="paper-trade a promoted config in NautilusTrader (sandbox fills)")
    ppr.add_argument("--config", type=Path, required=True, help="controller config TOML (must be promoted)")
    ppr.add_argument("--records", type=Path, help="promotion records directory (default: promotions/ beside --config)")
    ppr.add_argument("--instrument", action="append", default=[], help="instrument id, e.g. BTCUSDT.BINANCE (repeatable)")
    ppr.add_argument("--build-only", action="store_true", help="check the gate and build the node, do not connect")
    ppr.add_argument("--feed", default="binance", help="market data: binance (default), replay:sample or replay:PATH")
    ppr.add_argument("--duration", help="stop after this long of the node's clock (wall time), e.g. 10m "
                                        "(default: until Ctrl-C)")
    ppr.add_argument("--speed", type=float, default=1.0, help="replay pace factor (20 = 20x real time)")
    ppr.add_argument("--stand-ins", default="", help="publish labelled healthy records for: mc_forewarner,exf,esof")
    ppr.add_argument("--fault", action="append", default=[],
                     help="pause a publisher: TARGET@AT+FOR (TARGET@AT: to the end), or SIGKILL a member of the "
                          "cluster `nor infra up` started: member[<i>]@AT (repeatable)")
    ppr.add_argument("--assets", type=int, help="trade only the first N assets of the price file")
    ppr.add_argument("--out", type=Path, default=Path("runs"), help="where the session's run directory goes")


def _init_key() -> int:
    from .signing import init_key

    key, trusted = init_key(os.environ)
    print(f"promotion signing key {key.path} (keep it secret: in CI, a secret)")
    print(f"public key {key.public.text} (id {key.public.key_id}), now trusted in {trusted}")
    print("give the public key to whoever runs nor paper: one line in their trusted keys file")
    return EXIT_OK


def promote_cli(args: argparse.Namespace) -> int:
    """``nor promote``: exit 0 promoted, 1 refused (the message names what blocks), 2 invalid input."""
    from controller import load_config

    from .codestate import code_state
    from .manifest import code_version
    from .promotion import PromotionError, promote
    from .signing import load_signing_key

    if args.init_key:
        return _init_key()
    if args.config is None or args.evidence is None:
        print("nor: invalid input: nor promote needs CONFIG and --evidence RUN_DIR (or --init-key)", file=sys.stderr)
        return EXIT_INVALID
    load_config(args.config)                    # an invalid config is named before a missing key
    key = load_signing_key(os.environ)
    seed = args.sample_seed if args.sample_seed is not None else secrets.randbelow(2**31)
    say = print if args.explain else None
    try:
        result = promote(args.config, args.evidence, key=key, code=code_state(), suites=args.suite,
                         records_dir=args.records, sample_seed=seed, jobs=args.jobs, say=say,
                         now_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         code_version=code_version())
    except PromotionError as exc:
        print(f"nor: promotion refused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    rec, t = result.record, result.timings
    print(f"promoted {rec.data['config_name']} ({rec.config_id[:12]}): {rec.path}")
    print(f"{result.cases} cases re-judged from their traces, {result.replayed} of them by a byte-identical replay "
          f"(sample seed {seed}); {t['total_s']:.1f} s (hashes {t['hash_s']:.1f} s, replay sample {t['replay_s']:.1f} s "
          f"while the other cases' checks took {t['rejudge_s']:.1f} s); {t['cpu_s']:.1f} CPU-s including the replay "
          f"workers, at load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return EXIT_OK


def paper_cli(args: argparse.Namespace, command: str = "nor paper") -> int:
    from .paper import paper
    from .paper_run import PaperOptionError, parse_options

    try:
        options = parse_options(args.feed, args.duration, args.speed, args.stand_ins, args.fault, args.out, args.assets)
    except PaperOptionError as exc:
        print(f"nor: invalid input: {exc}", file=sys.stderr)
        return 2
    return paper(args.config, records_dir=args.records, instruments=args.instrument, build_only=args.build_only,
                 say=lambda line: print(line, file=sys.stderr if line.startswith("nor:") else sys.stdout),
                 options=options, command=command)
