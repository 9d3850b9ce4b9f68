"""A draw in one component never perturbs another: a no-op through any fault port changes no other trace."""

from __future__ import annotations

import io
from typing import Any, Callable

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from twin import FAULT_PORTS, World, WorldConfig

_TABLES = ("decisions", "signals_observed", "signals_true", "orders", "fills", "equity")
_CFG = {"network": {"links": {"cluster<->agent": {"latency_ms": 200.0, "jitter_ms": 600.0}}}}


def _link_noops(port: Any) -> None:
    port.set_latency(port.latency_ms, port.jitter_ms)
    port.set_loss(port.loss_ratio)
    port.up()


def _sensor_noops(port: Any) -> None:
    port.degrade(1.0)
    port.set_publish_delay(0.0)
    port.corrupt(False)
    port.set_flap(0)
    port.resume()


def _exchange_noops(port: Any) -> None:
    port.outage(False)
    port.set_reject_ratio(0.0)
    port.set_friction(1.0, 1.0)
    port.set_friction_mode("none")
    port.set_depth_factor(1.0)
    for method in ("gateway_down",):
        if hasattr(port, method):
            getattr(port, method)(False)


def _noops(name: str) -> Callable[[Any], None]:
    if name.startswith("link."):
        return _link_noops
    if name.startswith("sensor."):
        return _sensor_noops
    return {
        "network": lambda p: p.heal(),
        "cluster": lambda p: p.restart_member(0),           # a live member: nothing to restart
        "clock": lambda p: p.skew("agent", 0.0),
        "ledger": lambda p: p.resync(),                     # in sync: nothing to resync
        "market": lambda p: p.shock(0.0, 0.0),
        "exchange": _exchange_noops,
    }[name]


def _bytes(world: World) -> dict[str, bytes]:
    out = {}
    for name in _TABLES:
        table = world.trace().tables[name]
        sink = io.BytesIO()
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = sink.getvalue()
    return out


def _run(port: str | None) -> dict[str, bytes]:
    w = World(WorldConfig.from_mapping(_CFG), "survival", 43)
    if port is not None:
        w.at(300.5, lambda: _noops(port)(w.ports[port]))
    w.run(700.0)
    return _bytes(w)


_PORTS = sorted(World(WorldConfig(), "survival", 0).ports)


def test_every_fault_port_is_covered() -> None:
    names = {p.split("<")[0].rstrip(".") for p, _ in FAULT_PORTS.values()}
    assert {"sensor", "link", "network", "cluster", "clock", "ledger", "market", "exchange"} == \
        {n.split(".")[0] for n in names}
    assert len(_PORTS) == 7 + 10 + 6


@pytest.fixture(scope="module")
def baseline() -> dict[str, bytes]:
    return _run(None)


@pytest.mark.parametrize("port", _PORTS)
def test_a_no_op_through_a_port_leaves_every_other_trace_byte_identical(baseline: dict[str, bytes],
                                                                         port: str) -> None:
    got = _run(port)
    assert pa.ipc.open_file(baseline["orders"]).read_all().num_rows > 0
    differ = [name for name in _TABLES if got[name] != baseline[name]]
    assert not differ, f"a no-op through {port} changed {differ}"
