"""The world as a whole: determinism, trace schema, ports, baselines, replay, errors."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from controller import default_config, make_controller
from twin import (FAULT_PORTS, SIGNALS, TABLES, ClockPort, ClusterPort, ExchangePort, LedgerPort, LinkPort,
                  MarketPort, NetworkPort, SensorPort, TwinConfigError, TwinError, World, WorldConfig)


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.parquet"))}


def _faulty_run(seed: int, out: Path) -> None:
    w = World(WorldConfig.from_mapping({"market": {"regime": "mixed", "shock_rate_per_day": 24.0}}), "survival", seed)
    w.at(400.0, lambda: w.ports["cluster"].kill_member(0))
    w.at(700.0, lambda: w.ports["sensor.ob"].set_flap(30.0))
    w.at(800.0, lambda: w.ports["link.cluster<->agent"].set_loss(0.3))
    w.at(900.0, lambda: w.ports["sensor.exf"].degrade(0.25))
    w.record_event("fault", "cluster", kind="node_loss", member=0)
    w.run(1500.0).write(out)


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(tmp_path: Path) -> None:
    _faulty_run(21, tmp_path / "a")
    _faulty_run(21, tmp_path / "b")
    _faulty_run(22, tmp_path / "c")
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert set(a) == {f"{t}.parquet" for t in TABLES}
    assert a == b
    assert a["equity.parquet"] != c["equity.parquet"] and a["signals_observed.parquet"] != c["signals_observed.parquet"]


def test_trace_schema_and_one_signal_row_per_decision(tmp_path: Path) -> None:
    w = World(WorldConfig(), "survival", 2)
    w.at(300.0, lambda: (w.ports["cluster"].kill_member(1), w.ports["cluster"].kill_member(2)))
    trace = w.run(400.0)
    paths = trace.write(tmp_path)
    assert [p.name for p in paths] == [f"{t}.parquet" for t in TABLES]
    decisions = pq.read_table(tmp_path / "decisions.parquet")
    assert decisions.equals(trace.tables["decisions"])
    layer_cols = [c for c in decisions.column_names if c.startswith("layer.")]
    assert "layer.mc_forewarner" in layer_cols and "layer.hz_quorum" in layer_cols
    for col in ("t_s", "r_total", "max_leverage", *layer_cols):
        assert decisions.schema.field(col).type == pa.float64()
    for col in ("posture", "reasons", "trigger"):
        assert decisions.schema.field(col).type == pa.string()
    assert decisions.schema.field("entries_allowed").type == pa.bool_()
    for name in ("signals_observed", "signals_true"):
        table = trace.tables[name]
        assert table.column_names == ["t_s", "step", *SIGNALS]
        assert table.column("t_s").to_pylist() == decisions.column("t_s").to_pylist()
    triggers = decisions.column("trigger").to_pylist()
    t = decisions.column("t_s").to_pylist()
    immediate = [x for x, tr in zip(t, triggers) if tr == "invariant"]
    detected = 300.0 + w.config.cluster.crash_detection_s      # own row, when the membership event arrives
    assert immediate and detected < immediate[0] < detected + 0.1 and int(immediate[0]) != immediate[0]
    assert decisions.column("step").to_pylist() == list(range(decisions.num_rows))
    assert trace.tables["orders"].schema.names[:10] == ["id", "t_s", "asset", "side", "kind", "intent", "qty",
                                                        "price", "status", "posture"]
    assert set(trace.tables["events"].column_names) == {"t_s", "seq", "kind", "target", "detail"}
    assert set(trace.tables["equity"].column_names) >= {"t_s", "equity", "cash", "drawdown"}


def test_nominal_world_trades_and_stays_healthy() -> None:
    trace = World(WorldConfig(), "survival", 1).run(1800.0)
    obs = trace.tables["signals_observed"].to_pydict()
    for flag in ("hz.quorum", "ledger.consistent", "data.checksum_ok"):
        assert set(obs[flag]) == {1.0}
    assert max(obs["heartbeat.age_s"]) <= 2.0 and max(obs["scan.age_s"]) <= 6.0 and max(obs["ob.age_s"]) < 1.0
    assert all(not math.isnan(v) for name in SIGNALS for v in obs[name])
    assert set(trace.tables["decisions"].column("posture").to_pylist()) == {"APEX"}
    assert trace.tables["fills"].num_rows > 0


def test_every_fault_kind_has_a_port_satisfying_its_protocol() -> None:
    w = World(WorldConfig(), "survival", 0)
    protocols = {"sensor": SensorPort, "link": LinkPort, "network": NetworkPort, "cluster": ClusterPort,
                 "clock": ClockPort, "ledger": LedgerPort, "market": MarketPort, "exchange": ExchangePort}
    for kind, (port, methods) in FAULT_PORTS.items():
        name = port.replace("<name>", "mc_forewarner")
        name = "link.sensor.mc_forewarner->cluster" if name == "link.mc_forewarner" else name
        assert name in w.ports, kind
        obj = w.ports[name]
        assert isinstance(obj, protocols[name.split(".")[0]]), kind
        for method in methods.split("/"):
            assert callable(getattr(obj, method)), (kind, method)
    assert {f"sensor.{n}" for n in ("scan", "ob", "mc_forewarner", "exf", "esof", "ledger_checksum",
                                    "heartbeat")} <= set(w.ports)


@pytest.mark.parametrize("controller", ["static_ladder", "seed_template", default_config()])
def test_baselines_and_configs_run_in_the_same_world(controller: object) -> None:
    """The world's decisions are the named controller's: replaying the observed signals through a
    fresh one gives every recorded decision back, and the survival controller's differ."""
    w = World(WorldConfig(), controller, 3)
    w.at(200.0, w.ports["sensor.ob"].crash)
    trace = w.run(400.0)
    dec, obs = trace.tables["decisions"].to_pydict(), trace.tables["signals_observed"].to_pydict()
    assert len(dec["t_s"]) >= 400 and trace.tables["signals_observed"].column_names[2:] == list(SIGNALS)

    def replay(spec: object) -> tuple[list[float], list[str]]:
        ctl = make_controller(spec)
        out = [ctl.step(t, {n: obs[n][i] for n in SIGNALS}) for i, t in enumerate(obs["t_s"])]
        return [d.r_total for d in out], [d.posture.name for d in out]

    assert replay(controller) == (dec["r_total"], dec["posture"])
    after = [r for t, r in zip(dec["t_s"], dec["r_total"]) if t > 260.0]
    assert max(after) < 1.0                                   # the streamer's crash reached the controller
    survival = replay("survival")
    if isinstance(controller, str):
        assert survival[0] != dec["r_total"]
    else:
        assert survival == (dec["r_total"], dec["posture"])


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TwinConfigError, match="controller"):
        World(WorldConfig(), "nonsense", 0)
    with pytest.raises(TwinConfigError, match="seed"):
        World(WorldConfig(), "survival", -1)
    with pytest.raises(TwinConfigError, match="world_config"):
        World({"market": {}}, "survival", 0)  # type: ignore[arg-type]
    w = World(WorldConfig(), "survival", 0)
    w.run(10.0)
    with pytest.raises(TwinError, match="before now"):
        w.at(5.0, lambda: None)
    with pytest.raises(TwinError, match="no node matches"):
        w.ports["network"].partition([["nobody"]])
    with pytest.raises(TwinError, match="member index"):
        w.ports["cluster"].kill_member(7)
    with pytest.raises(TwinError, match="factor"):
        w.ports["sensor.scan"].degrade(0.0)
    with pytest.raises(TwinError, match="unknown component"):
        w.ports["clock"].skew("moon", 1.0)


def test_replay_of_the_sample_file_and_bad_files(tmp_path: Path) -> None:
    cfg = WorldConfig.from_mapping({"market": {"replay_path": "sample"}})
    w = World(cfg, "survival", 1)
    assert w.ctx.market.n_assets == 50
    trace = w.run(600.0)
    assert trace.tables["decisions"].num_rows == 600
    with pytest.raises(TwinError, match="replay covers 7200 s"):
        w.run(8000.0)
    bad = tmp_path / "bad.arrow"
    table = pa.table({"t_s": [0.0, 5.0, 5.0], "A": [1.0, 2.0, 3.0], "B": [1.0, -2.0, 3.0]})
    with pa.OSFile(str(bad), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(TwinConfigError) as info:
        World(WorldConfig.from_mapping({"market": {"replay_path": str(bad)}}), "survival", 0)
    assert str(bad) in str(info.value) and "t_s" in str(info.value)
    with pytest.raises(TwinConfigError, match=r"Arrow IPC or Parquet price file \(it does not exist\)"):
        World(WorldConfig.from_mapping({"market": {"replay_path": str(tmp_path / "none.arrow")}}), "survival", 0)


def test_four_hundred_assets_work() -> None:
    from twin.eigen import full_lambda_max

    w = World(WorldConfig.from_mapping({"market": {"assets": 400, "regime": "crash"}}), "survival", 5)
    trace = w.run(1200.0)
    assert w.ctx.market.n_assets == 400 and trace.tables["decisions"].num_rows >= 1200
    assert len(set(w.ctx.market.log_prices(w.now).round(12))) == 400            # 400 distinct paths
    scan = w.sensors["scan"]
    v50, v750 = scan.last[0], scan.last[1]
    assert v50 == pytest.approx(full_lambda_max(scan.short.window_rows()), rel=1e-8)
    assert v750 == pytest.approx(full_lambda_max(scan.long.window_rows()), rel=1e-8)
    assert 0.5 * 400 < v50 < 400                          # a crash: one factor carries most of the variance
    obs = trace.tables["signals_observed"].to_pydict()
    assert all(not math.isnan(v) for name in SIGNALS for v in obs[name])
    assert max(obs["scan.age_s"]) <= 6.0 and max(obs["ob.age_s"]) < 1.0 and set(obs["hz.quorum"]) == {1.0}
    assets = trace.tables["orders"].column("asset").to_pylist()
    assert assets and max(assets) >= 50                   # the agent ranks and trades beyond the first 50
    fills = trace.tables["fills"].to_pydict()
    assert fills["id"] and all(0 <= a < 400 for a in fills["asset"])


_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from twin import World, WorldConfig
w = World(WorldConfig.from_mapping({{"market": {{"regime": "mixed"}}}}), "survival", 31)
w.at(200.0, lambda: (w.ports["cluster"].kill_member(0), w.ports["cluster"].kill_member(1)))
w.at(300.0, lambda: w.ports["network"].partition([["hz*"], ["agent"]]))
w.at(400.0, w.ports["network"].heal)
w.run(600.0).write(Path(sys.argv[1]))
"""


def test_files_are_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(root=root))
    for name, hash_seed in (("a", "1"), ("b", "4242")):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, str(script), str(tmp_path / name)], check=True, env=env, timeout=120)
    a = _hashes(tmp_path / "a")
    assert set(a) == {f"{t}.parquet" for t in TABLES} and a == _hashes(tmp_path / "b")


_BAD_PORT_CALLS = [
    ("network", "partition", ([[1]],)),
    ("network", "partition", (None,)),
    ("network", "partition", ("agent",)),
    ("exchange", "set_friction", ("a", 1)),
    ("exchange", "set_friction", (0.5, 1.5)),
    ("exchange", "set_reject_ratio", ("x",)),
    ("exchange", "set_depth_factor", (float("nan"),)),
    ("exchange", "outage", ("yes",)),
    ("market", "shock", (0.5, -100.0)),
    ("market", "shock", (2.0,)),
    ("market", "shock", ("big",)),
    ("sensor.scan", "degrade", ("half",)),
    ("sensor.scan", "set_flap", ("often",)),
    ("sensor.scan", "set_flap", (-1.0,)),
    ("sensor.scan", "set_publish_delay", (float("inf"),)),
    ("sensor.scan", "corrupt", ("no",)),
    ("link.cluster<->agent", "set_latency", ("slow",)),
    ("link.cluster<->agent", "set_latency", (5.0, -1.0)),
    ("link.cluster<->agent", "set_loss", (True,)),
    ("clock", "skew", ("agent", "5s")),
    ("clock", "skew", (3, 1.0)),
    ("cluster", "kill_member", ("hz0",)),
]


@pytest.mark.parametrize("port, method, args", _BAD_PORT_CALLS)
def test_bad_port_arguments_are_twin_errors_naming_the_parameter(port: str, method: str, args: tuple) -> None:
    w = World(WorldConfig(), "survival", 0)
    with pytest.raises(TwinError) as info:
        getattr(w.ports[port], method)(*args)
    assert method in str(info.value) or port.split(".")[0] in str(info.value)


def test_world_at_rejects_what_it_cannot_run() -> None:
    w = World(WorldConfig(), "survival", 0)
    with pytest.raises(TwinError, match="callable"):
        w.at(5.0, "x")  # type: ignore[arg-type]
    with pytest.raises(TwinError, match="finite number"):
        w.at("5", lambda: None)  # type: ignore[arg-type]
    seen = []
    w.at(5.0, lambda: seen.append(w.now))
    w.run(6.0)
    assert seen == [5.0]


def test_one_service_publishing_more_does_not_shift_another_components_draws() -> None:
    """Each component draws from its own stream: the EsoF publishing 5x as often changes nothing else."""
    def run(esof_interval_s: float) -> dict[str, list]:
        cfg = WorldConfig.from_mapping({"sensors": {"esof_interval_s": esof_interval_s}, "network": {
            "links": {"cluster<->agent": {"latency_ms": 200.0, "jitter_ms": 600.0}}}})   # fetches matter
        w = World(cfg, "survival", 41)
        trace = w.run(1200.0)
        out = trace.tables["signals_observed"].to_pydict()
        out.update({f"orders.{k}": v for k, v in trace.tables["orders"].to_pydict().items()})
        return out

    def same(a: list, b: list) -> bool:
        return [None if v != v else v for v in a] == [None if v != v else v for v in b]   # NaN == NaN

    slow, fast = run(300.0), run(60.0)
    assert slow["esof.age_s"] != fast["esof.age_s"]
    assert len(slow["orders.id"]) > 0
    for name in slow:
        if name != "esof.age_s":
            assert same(slow[name], fast[name]), name
