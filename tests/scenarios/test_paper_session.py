"""The whole paper loop, offline: ``nor paper --feed replay:sample`` against a Hazelcast member.

The grid is a real local cluster (three Hazelcast 5.7.0 members, ``infra.LocalCluster``), or an
external one with ``NOR_HZ_MEMBERS``. One session of ~30 s at 40× the sample's pace: the health publishers
and stand-ins fill the grid, the Actor reaches APEX from the grid, the DolphinStrategy's orders
are placed and filled in APEX through the posture gate, a scripted fault (the book publisher
stopped) moves the posture to STALKER, and the run directory renders with ``nor report``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from controller import default_config
from reports import render_run
from reports.manifest import load_manifest
from scenarios.paper_run import PaperOptions, parse_fault_option, parse_options, run_paper_session

from infra import LocalCluster


@pytest.fixture(scope="module")
def grid():
    """(NOR_HZ_* environment, the LocalCluster or None)."""
    if os.environ.get("NOR_HZ_MEMBERS"):
        yield {"NOR_HZ_MEMBERS": os.environ["NOR_HZ_MEMBERS"],
               "NOR_HZ_CLUSTER": os.environ.get("NOR_HZ_CLUSTER", "dev")}, None
        return
    cluster = LocalCluster(3).start()
    try:
        yield {"NOR_HZ_MEMBERS": ",".join(cluster.client_addresses),
               "NOR_HZ_CLUSTER": cluster.settings.cluster_name}, cluster
    finally:
        cluster.stop()


def _read(path: Path):
    return pq.read_table(path).to_pydict()


@pytest.fixture(scope="module")
def session(grid, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    lines: list[str] = []
    options = PaperOptions(feed="replay:sample", duration_s=30.0, speed=40.0,
                           stand_ins=("mc_forewarner", "exf", "esof"),
                           faults=(parse_fault_option("book@5s+20s"), parse_fault_option("heartbeat@16s")), out=out)
    env = dict(grid[0])
    code = run_paper_session(default_config(), options, environ=env, say=lines.append)
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return code, run_dir, lines


def test_the_session_trades_in_apex_and_its_fault_moves_the_posture(session) -> None:
    code, run_dir, lines = session
    case = run_dir / "scenario=paper" / "seed=1"
    decisions = _read(case / "decisions.parquet")
    postures = decisions["posture"]
    assert postures[0] == "APEX", lines[:5]
    t = decisions["t_s"]
    stalker = [x for x, p in zip(t, postures) if p == "STALKER"]
    assert stalker and 5.0 < stalker[0] < 28.0, f"the stopped book publisher moved nothing: {lines}"
    orders, fills = _read(case / "orders.parquet"), _read(case / "fills.parquet")
    entries = [i for i, (intent, posture) in enumerate(zip(orders["intent"], orders["posture"]))
               if intent == "entry" and posture == "APEX"]
    assert entries, "no entry placed in APEX"
    assert any(orders["status"][i] == "filled" for i in entries), "no APEX entry filled"
    assert fills["id"], "no fill recorded"
    hibernate = [x for x, p in zip(t, postures) if p == "HIBERNATE"]
    assert hibernate and hibernate[0] > 25.0, f"the stopped heartbeat moved nothing: {lines}"
    events = _read(case / "events.parquet")
    assert ("fault", "book") in zip(events["kind"], events["target"])
    assert ("fault", "heartbeat") in zip(events["kind"], events["target"])
    assert any("posture" in line and "-> STALKER" in line for line in lines), "no decision log line for STALKER"
    assert code == 0, lines[-3:]


def test_the_run_directory_renders_with_nor_report(session) -> None:
    _, run_dir, _ = session
    manifest = load_manifest(run_dir)
    (scenario,) = manifest.scenarios
    assert scenario.name == "paper" and scenario.runs[0].verdict == "PASS"
    assert [f.target for f in scenario.faults] == ["book", "heartbeat"]
    assert [f.heals for f in scenario.faults] == [True, False]
    html = render_run(run_dir)
    assert Path(html).is_file() if not isinstance(html, (list, tuple)) else all(Path(p).is_file() for p in html)
    assert (run_dir / "report.html").read_text(encoding="utf-8").count("paper") >= 1


def test_missing_grid_setting_and_bad_options_are_invalid_input(tmp_path) -> None:
    lines: list[str] = []
    options = PaperOptions(feed="replay:sample", duration_s=5.0, out=tmp_path)
    assert run_paper_session(default_config(), options, environ={}, say=lines.append) == 2
    assert "NOR_HZ_MEMBERS is not set" in lines[-1]
    for bad, match in ((dict(duration="ten"), "--duration"), (dict(speed=0.0), "--speed"),
                       (dict(faults=["book"]), "--fault")):
        kwargs = dict(feed="replay:sample", duration=None, speed=1.0, stand_ins="", faults=[], out=tmp_path)
        kwargs.update(bad)
        with pytest.raises(ValueError, match=match):
            parse_options(**kwargs)


def test_build_only_needs_no_grid_and_no_credentials(tmp_path) -> None:
    lines: list[str] = []
    for feed, code, text in (("replay:sample", 0, "instruments=50"), ("replay:/no/such.arrow", 2, "not found"),
                             ("kafka", 2, "--feed"), ("binance", 0, "BTCUSDT.BINANCE (Binance market data)")):
        options = PaperOptions(feed=feed, stand_ins=("exf",), out=tmp_path)
        lines.clear()
        assert run_paper_session(default_config(), options, build_only=True, environ={}, say=lines.append) == code
        assert text in "\n".join(lines[-2:]), lines


def test_binance_feed_builds_the_whole_loop_on_the_data_client_with_the_configured_instruments() -> None:
    """No network here: built only, the node has Nautilus's Binance data client (its instrument
    provider loads exactly the configured instruments when it connects), sandbox fills on BINANCE,
    the DOLPHIN strategy on those instruments, the publishers, the quote sampler (scans), the Actor."""
    from nautilus_trader.model.identifiers import ClientId, InstrumentId

    from adapters.nautilus.paper_loop import LoopSettings, build_paper_session
    from scenarios.paper_run import _Offline

    ids = ("BTCUSDT.BINANCE", "ETHUSDT.BINANCE")
    session = build_paper_session(default_config(), _Offline(), _Offline(), say=lambda _: None, environ={},
                                  build_only=True, settings=LoopSettings(feed="binance", instrument_ids=ids,
                                                                         stand_ins=("mc_forewarner",)))
    try:
        kernel = session.node.kernel
        data = kernel.data_engine._clients[ClientId("BINANCE")]
        assert type(data).__name__ == "BinanceSpotDataClient"
        assert data._instrument_provider._load_ids_on_start == set(ids)
        assert type(kernel.exec_engine._clients[ClientId("BINANCE")]).__name__ == "SandboxExecutionClient"
        assert {type(a).__name__ for a in session.node.trader.actors()} >= {
            "PostureGate", "PaperRecorder", "HealthPublisher", "QuoteSampler", "SurvivalActor"}
        (strategy,) = session.node.trader.strategies()
        assert type(strategy).__name__ == "DolphinStrategy" and strategy.live_quotes
        assert list(strategy.asset) == [InstrumentId.from_str(i) for i in ids]
        assert session.live and session.publisher.venue.value == "BINANCE"
    finally:
        session.node.dispose()


def test_binance_feed_without_keys_or_with_a_bad_instrument_is_invalid_input_before_connecting(tmp_path) -> None:
    connected: list[bool] = []

    def hz(env, controller):   # never reached: the keys are checked before anything connects
        connected.append(True)
        raise AssertionError("connected")

    grid = {"NOR_HZ_MEMBERS": "127.0.0.1:5701"}
    keys = {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}
    for options, env, text in (
            (PaperOptions(feed="binance", out=tmp_path), grid, "BINANCE_API_KEY and BINANCE_API_SECRET must be set"),
            (PaperOptions(feed="binance", out=tmp_path), {**grid, "BINANCE_API_KEY": "k"}, "BINANCE_API_SECRET"),
            (PaperOptions(feed="binance", out=tmp_path, instruments=("BTCUSDT",)), {**grid, **keys}, "SYMBOL.VENUE")):
        lines: list[str] = []
        assert run_paper_session(default_config(), options, environ=env, say=lines.append, hz=hz) == 2, lines
        assert text in lines[-1] and lines[-1].startswith("nor: invalid input"), lines
    assert not connected


def test_a_member_fault_knows_its_process_from_the_infra_state_file_or_is_invalid_input(tmp_path) -> None:
    """``member@AT`` kills by the pid ``nor infra up`` recorded; without that file, for a cluster
    that is not the one traded against, with a +FOR or a member out of range: exit 2, named."""
    import json

    from scenarios.paper_faults import PaperFaultError, member_actions

    cache = tmp_path / "cache"
    env = {"NOR_INFRA_CACHE": str(cache), "NOR_HZ_MEMBERS": "127.0.0.1:6001,127.0.0.1:6002"}
    member = (parse_fault_option("member@2m"),)
    with pytest.raises(PaperFaultError, match="no cluster started by `nor infra up`"):
        member_actions(member, env)
    lines: list[str] = []
    code = run_paper_session(default_config(), PaperOptions(feed="replay:sample", out=tmp_path, faults=member),
                             environ=env, say=lines.append, hz=lambda *a: pytest.fail("connected"))
    assert code == 2 and "cluster.json" in lines[-1], lines
    (cache / "run").mkdir(parents=True)
    desc = {"cluster_name": "c", "members": ["127.0.0.1:6001", "127.0.0.1:6002"], "direct_members": [],
            "pids": [11, 12], "workdir": str(tmp_path)}
    (cache / "run" / "cluster.json").write_text(json.dumps(desc))
    actions = member_actions(member + (parse_fault_option("member0@3m"),), env)
    assert {t: a.index for t, a in actions.items()} == {"member": 1, "member0": 0}
    for faults, env2, match in (((parse_fault_option("member@2m+1m"),), env, "no \\+FOR"),
                                ((parse_fault_option("member5@2m"),), env, "members 0..1"),
                                (member, {**env, "NOR_HZ_MEMBERS": "10.0.0.1:5701"}, "not a member of")):
        with pytest.raises(PaperFaultError, match=match):
            member_actions(faults, env2)


def _runs_of(postures, times):
    """(posture, first time) per run of equal postures."""
    out = []
    for p, t in zip(postures, times):
        if not out or out[-1][0] != p:
            out.append((p, t))
    return out


def test_the_session_moves_posture_as_the_twin_predicts(session) -> None:
    """The twin, with the same controller, price file and faults (the book feed's publisher stops
    at 5 s for 20 s; the agent heartbeat stops at 16 s), takes the same posture sequence
    (APEX → STALKER → HIBERNATE); transition times differ by less than 2 s (the paper book and
    heartbeat records are published every 1 s, the book record carrying its quote's age, the
    twin's ob sensor every 0.1 s; the node's timers run in real time)."""
    from twin import World, WorldConfig

    _, run_dir, _ = session
    paper = _read(run_dir / "scenario=paper" / "seed=1" / "decisions.parquet")
    world = World(WorldConfig.from_mapping({"market": {"replay_path": "sample"}}, source="paper-twin"),
                  default_config(), seed=1)
    world.at(5.0, world.ports["sensor.ob"].stall)
    world.at(25.0, world.ports["sensor.ob"].resume)
    world.at(16.0, world.ports["sensor.heartbeat"].stall)
    twin = world.run(max(paper["t_s"]) + 1.0).tables["decisions"].to_pydict()
    start = paper["t_s"][0]   # the paper Actor's first step (after its warm-up)
    keep = [i for i, t in enumerate(twin["t_s"]) if t >= start]
    twin_runs = _runs_of([twin["posture"][i] for i in keep], [twin["t_s"][i] for i in keep])
    paper_runs = _runs_of(paper["posture"], paper["t_s"])
    assert [p for p, _ in paper_runs] == [p for p, _ in twin_runs], (paper_runs, twin_runs)
    for (_, t_paper), (_, t_twin) in zip(paper_runs[1:], twin_runs[1:]):
        assert abs(t_paper - t_twin) < 2.0, (paper_runs, twin_runs)


def test_a_member_lost_moves_posture_as_the_twin_predicts(grid, tmp_path) -> None:
    """A real member SIGKILLed mid-session by the session's own ``--fault member2@10s`` (3 → 2
    members): the twin with the same cluster fault takes the same posture sequence, transitions
    within 2 s."""
    from twin import World, WorldConfig

    env, cluster = grid
    if cluster is None:
        pytest.skip("an external cluster (NOR_HZ_MEMBERS) is not ours to kill")
    lines: list[str] = []
    options = PaperOptions(feed="replay:sample", duration_s=40.0, speed=20.0,
                           stand_ins=("mc_forewarner", "exf", "esof"), out=tmp_path,
                           faults=(parse_fault_option("member2@10s"),))
    pid = cluster.member(2).pid
    try:
        code = run_paper_session(default_config(), options, environ=env, say=lines.append,
                                 cluster=cluster.describe())
        assert code in (0, 1), lines
        assert not cluster.member(2).alive(), "the session's member fault killed nothing"
    finally:
        cluster.heal()
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    paper = _read(run_dir / "scenario=paper" / "seed=1" / "decisions.parquet")
    events = _read(run_dir / "scenario=paper" / "seed=1" / "events.parquet")
    (detail,) = [d for k, t, d in zip(events["kind"], events["target"], events["detail"])
                 if (k, t) == ("fault", "member2")]
    assert f'"pid": {pid}' in detail and "member_killed" in detail, detail
    world = World(WorldConfig.from_mapping({"market": {"replay_path": "sample"}}, source="paper-twin"),
                  default_config(), seed=1)
    world.at(10.0, lambda: world.ports["cluster"].kill_member(2))
    twin = world.run(max(paper["t_s"]) + 1.0).tables["decisions"].to_pydict()
    keep = [i for i, t in enumerate(twin["t_s"]) if t >= paper["t_s"][0]]
    twin_runs = _runs_of([twin["posture"][i] for i in keep], [twin["t_s"][i] for i in keep])
    paper_runs = _runs_of(paper["posture"], paper["t_s"])
    assert [p for p, _ in paper_runs] == [p for p, _ in twin_runs], (paper_runs, twin_runs)
    for (_, t_paper), (_, t_twin) in zip(paper_runs[1:], twin_runs[1:]):
        assert abs(t_paper - t_twin) < 2.0, (paper_runs, twin_runs)


def test_maker_entries_are_priced_on_the_scanned_row_not_a_stale_quote(session) -> None:
    """A post-only entry priced from a quote the venue has already moved past would be rejected as
    a taker: the strategy acts once the scanned row's quotes are in the cache."""
    _, run_dir, _ = session
    orders = _read(run_dir / "scenario=paper" / "seed=1" / "orders.parquet")
    crossing = [r for r in orders["reason"] if "would have been a TAKER" in r]
    assert not crossing, crossing
