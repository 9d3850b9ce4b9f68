"""``nor paper --feed replay:…``: one paper session against the Hazelcast grid, left as a run
directory that ``nor report`` renders like a twin run.

The session (``adapters.nautilus.paper_loop``) trades the replay feed in a ``TradingNode``; its
traces are judged by the twin's always-on safety checks (there is no liveness bound and no
expectation in a paper session) and written as ``<out>/<run-id>/scenario=paper/seed=1/*.parquet`` with a
``manifest.json`` (scenario ``paper``, seed 1). Settings come from the command line and the
environment: ``NOR_HZ_MEMBERS`` (and the other ``NOR_HZ_*``) name the grid; a missing one is
invalid input (exit 2, named).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from controller import ControllerConfig
from traceio import TraceMeta, case_dir_name, trace_path, write_table
from twin import WorldConfig
from twin.config import parse_duration_s

from .case import _checks_table, trace_sha256, verdict_of
from .checks import RunView, SafetyPolicy, run_safety
from .manifest import FORMAT, code_version, controller_entry, new_run_id, write_manifest
from .paper_faults import PaperFaultError, is_member_target, member_actions

__all__ = ["PaperOptions", "parse_fault_option", "parse_options", "run_paper_session"]

EXIT_OK, EXIT_CHECK, EXIT_INVALID, EXIT_CRASH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class PaperOptionError(ValueError):
    """A bad ``nor paper`` option or setting (exit 2)."""


@dataclass(frozen=True)
class PaperOptions:
    feed: str = "binance"
    duration_s: float | None = None
    speed: float = 1.0
    stand_ins: tuple[str, ...] = ()
    faults: tuple[Any, ...] = ()
    out: Path = Path("runs")
    assets: int | None = None
    instruments: tuple[str, ...] = ()   # the binance feed's (default BTCUSDT.BINANCE)


def parse_fault_option(text: str) -> Any:
    """``TARGET@AT+FOR`` (e.g. ``mc_forewarner@1m+5m``): pause that publisher at AT for FOR;
    ``TARGET@AT``: to the end of the session; ``member[<i>]@AT``: SIGKILL a member (``paper_faults``)."""
    from adapters.nautilus.paper_loop import PaperFault

    target, _, when = text.partition("@")
    at, plus, span = when.partition("+")
    at_s = parse_duration_s(at) if at else None
    for_s = (parse_duration_s(span) if span else None) if plus else math.inf
    if not target or at_s is None or for_s is None or at_s < 0 or for_s <= 0:
        raise PaperOptionError(f"--fault: expected TARGET@AT+FOR like 'mc_forewarner@1m+5m' (or TARGET@AT: to the "
                               f"end), got {text!r}")
    return PaperFault(target, at_s, for_s)


def parse_options(feed: str, duration: str | None, speed: float, stand_ins: str, faults: Sequence[str], out: Path,
                  assets: int | None = None) -> PaperOptions:
    """Check the command-line options (raises PaperOptionError naming the option)."""
    duration_s = None
    if duration is not None:
        duration_s = parse_duration_s(duration)
        if duration_s is None or duration_s <= 0:
            raise PaperOptionError(f"--duration: expected a duration like '10m' or '90s', got {duration!r}")
    if not speed > 0:
        raise PaperOptionError(f"--speed: expected a factor > 0, got {speed!r}")
    names = tuple(s.strip() for s in stand_ins.split(",") if s.strip()) if stand_ins else ()
    return PaperOptions(feed, duration_s, float(speed), names, tuple(parse_fault_option(f) for f in faults), out,
                        assets)


def _judge(tables: Mapping[str, Any], config: ControllerConfig, duration_s: float) -> list:
    view = RunView.from_tables(tables, (), duration_s, WorldConfig.from_mapping({}, source="paper"), config)
    return run_safety(view, SafetyPolicy())


def write_paper_run(tables: Mapping[str, Any], config: ControllerConfig, options: PaperOptions, *, command: str,
                    created: datetime, wall_s: float) -> tuple[Path, str]:
    """Judge and write the session's run directory; returns (run directory, verdict)."""
    run_id = new_run_id(created)
    run_dir = options.out / run_id
    rel = case_dir_name("paper", 1)
    case_dir = run_dir / rel
    meta = TraceMeta("paper", 1)
    for name, table in tables.items():
        write_table(trace_path(case_dir, name), table, meta)
    duration_s = max(float(tables["decisions"].column("t_s").to_numpy()[-1]) if tables["decisions"].num_rows else 0.0,
                     1.0)
    checks = _judge(tables, config, duration_s)
    write_table(trace_path(case_dir, "checks"), _checks_table(checks), meta)
    verdict = verdict_of(checks)
    faults = [{"kind": "member_killed" if is_member_target(f.target) else "publisher_stopped", "target": f.target,
               "at_s": f.at_s, "for_s": f.for_s if math.isfinite(f.for_s) else max(0.0, duration_s - f.at_s),
               "heals": math.isfinite(f.for_s), "params": {}} for f in options.faults]
    failures = [{"check": c.check, "kind": c.kind, "t_s": None if c.t_s != c.t_s else c.t_s, "message": c.message}
                for c in checks if not c.ok]
    run = {"seed": 1, "dir": rel, "verdict": verdict, "wall_s": round(wall_s, 3), "config_id": config.config_id,
           "failures": failures, "replay": "", "trace_sha256": trace_sha256(case_dir), "faults": faults,
           "companions": []}
    scenario = {"name": "paper", "file": "", "suite": "paper",
                "description": f"paper session: feed {options.feed}, speed {options.speed:g}x, stand-ins "
                               f"{','.join(options.stand_ins) or 'none'} (safety checks only; not a twin run)",
                "duration_s": duration_s, "faults": faults, "expectations": [],
                "controller": controller_entry(config, "paper"), "runs": [run]}
    manifest = {"format": FORMAT, "run_id": run_id, "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "code_version": code_version(), "command": command, "controller": controller_entry(config, "paper"),
                "companions": [], "scenarios": [scenario], "verdicts": {verdict: 1},
                "timings": {"wall_s": round(wall_s, 3), "jobs": 1}}
    write_manifest(run_dir, manifest)
    return run_dir, verdict


def _hz(env: Mapping[str, str], controller: Any) -> tuple[Any, Any, Any]:
    """The started health service, a grid writer and its client, for ``NOR_HZ_MEMBERS`` (connects)."""
    from adapters.hazelcast import HazelcastHealthService, HealthWriter, build_client, load_hz_config
    from adapters.nautilus.paper import age_limits_s

    cfg = load_hz_config(env.get("NOR_HZ_CONFIG") or None, env)
    # heartbeat.age_s is the age of the agent's own keepalive record read back from the grid, as in the twin
    service = HazelcastHealthService(cfg, controller.signal_names, controller.invariant_signals,
                                     age_limits_s=age_limits_s(controller.config), heartbeat="record").start()
    client = build_client(cfg, near_cache=False, async_start=False)
    return service, HealthWriter(client, cfg.map_name), client


def run_paper_session(config: ControllerConfig, options: PaperOptions, *, build_only: bool = False,
                      environ: Mapping[str, str] | None = None, command: str = "nor paper",
                      say: Callable[[str], None] = print, hz: Callable[..., tuple[Any, Any, Any]] | None = None,
                      cluster: Mapping[str, Any] | None = None) -> int:
    """Build and (unless ``build_only``) run one replay-feed session; returns the exit code.

    ``cluster``: the description of the cluster a ``member`` fault kills in (``LocalCluster.describe()``);
    default the one ``nor infra up`` recorded (:mod:`scenarios.paper_faults`)."""
    from adapters.hazelcast import HazelcastAdapterError
    from adapters.nautilus import NautilusAdapterError
    from adapters.nautilus.paper_loop import LoopSettings, build_paper_session

    env = os.environ if environ is None else environ
    settings = LoopSettings(feed=options.feed, speed=options.speed, stand_ins=options.stand_ins,
                            faults=options.faults, assets=options.assets,
                            **({"instrument_ids": options.instruments} if options.instruments else {}))
    if not build_only and not env.get("NOR_HZ_MEMBERS"):
        say("nor: invalid input: NOR_HZ_MEMBERS is not set: the paper loop reads and writes health in the "
            "Hazelcast grid (e.g. NOR_HZ_MEMBERS=127.0.0.1:5701)")
        return EXIT_INVALID
    missing = _binance_problem(options.feed, settings, env, build_only)
    if missing:   # before anything connects
        say(f"nor: invalid input: {missing}")
        return EXIT_INVALID
    try:
        actions = member_actions(options.faults, env, cluster) if not build_only else {
            f.target: None for f in options.faults if is_member_target(f.target)}
    except PaperFaultError as exc:
        say(f"nor: invalid input: {exc}")
        return EXIT_INVALID
    service = writer = client = None
    try:
        if not build_only:
            from controller import SurvivalController
            service, writer, client = (hz or _hz)(env, SurvivalController(config))
        session = build_paper_session(config, service.watchdog if service else _Offline(), writer or _Offline(),
                                      settings=settings, say=say, fault_actions=actions, environ=env,
                                      build_only=build_only)
    except (NautilusAdapterError, HazelcastAdapterError) as exc:
        say(f"nor: invalid input: {exc}")
        _close(service, client)
        return EXIT_INVALID
    except Exception as exc:  # noqa: BLE001 - the grid could not be reached: say so, no traceback
        say(f"nor: cannot reach the Hazelcast grid at {env.get('NOR_HZ_MEMBERS')}: {type(exc).__name__}: {exc}")
        _close(service, client)
        return EXIT_CRASH
    say(f"seed=none feed={options.feed} speed={options.speed:g} duration="
        f"{'until Ctrl-C' if options.duration_s is None else f'{options.duration_s:g}s'} stand-ins="
        f"{','.join(options.stand_ins) or 'none'} instruments={len(session.instruments)} "
        f"config={config.config_id[:12]}")
    ids = [str(i if session.live else i.id) for i in session.instruments]
    say(f"built TradingNode {settings.trader_id} with sandbox execution on {', '.join(ids[:3])}"
        f"{f' and {len(ids) - 3} more' if len(ids) > 3 else ''}"
        f"{' (Binance market data)' if session.live else ' (replay feed)'}")
    if build_only:
        session.node.dispose()
        return EXIT_OK
    created, t0 = datetime.now(timezone.utc), time.monotonic()
    try:
        tables = session.run(options.duration_s, say)
    finally:
        _close(service, client)
    run_dir, verdict = write_paper_run(tables, config, options, command=command, created=created,
                                       wall_s=time.monotonic() - t0)
    say(f"{verdict} {run_dir} ({tables['orders'].num_rows} orders, {tables['fills'].num_rows} fills, "
        f"{tables['decisions'].num_rows} decisions)")
    if session.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if verdict == "PASS" else EXIT_CHECK


def _binance_problem(feed: str, settings: Any, env: Mapping[str, str], build_only: bool) -> str | None:
    """The Binance feed's bad instrument or missing key, named (None if all is there, built only,
    or another feed)."""
    if feed != "binance" or build_only:
        return None
    from adapters.nautilus import NautilusAdapterError
    from adapters.nautilus.paper import PaperSettings, binance_credentials

    try:
        binance_settings = PaperSettings(instrument_ids=settings.instrument_ids)
        binance_settings.check()
        binance_credentials(binance_settings, env)
    except NautilusAdapterError as exc:
        return str(exc)
    return None


class _Offline:
    """Stands in for the grid when building only: never read, never written."""

    def signals(self, now_s: float) -> dict[str, float]:
        return {}

    def publish_many(self, values: Any, source_ts_s: float) -> None:
        pass

    def on_invariant_change(self, callback: Any) -> None:
        pass


def _close(service: Any, client: Any) -> None:
    if service is not None:
        service.stop()
    if client is not None:
        client.shutdown()
