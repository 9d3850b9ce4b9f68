"""The order-book streamer's batched sends (one pass per second of sends, for speed) are exactly its sends one by
one: same draws, same records, same marks, so the same trace bytes, through re-plans and faults."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.ipc as ipc

from twin import World, WorldConfig
from twin.network import Link
from twin.rng import DrawBuffer, Streams

_TABLES = ("decisions", "signals_observed", "signals_true", "orders", "fills", "equity", "events")


def test_exponentials_are_the_draws_and_marks_of_one_by_one_calls_across_blocks() -> None:
    one, many = DrawBuffer(Streams(3).generator("x"), block=7), DrawBuffer(Streams(3).generator("x"), block=7)
    one.uniform(), many.uniform()                   # another kind's position is part of every mark
    expected_marks, expected = [], []
    for _ in range(23):                             # crosses three block boundaries
        expected_marks.append(one.mark())
        expected.append(one.exponential())
    values, marks = many.exponentials(23)
    assert values == expected and marks == expected_marks
    assert many.exponential() == one.exponential()
    many.rewind(marks[9])                           # a re-plan rewinds to a batched send's mark
    one.rewind(expected_marks[9])
    assert [many.exponential() for _ in range(20)] == [one.exponential() for _ in range(20)]


def test_exponentials_in_batches_within_and_across_blocks_are_the_one_by_one_draws() -> None:
    """Batches served from the current block (the fast path) and batches that reach a block's end alike."""
    one, many = DrawBuffer(Streams(4).generator("x"), block=7), DrawBuffer(Streams(4).generator("x"), block=7)
    for n in (4, 2, 1, 7, 3, 5, 6, 1, 7, 8):
        expected_marks, expected = [], []
        for _ in range(n):
            expected_marks.append(one.mark())
            expected.append(one.exponential())
        values, marks = many.exponentials(n)
        assert values == expected and marks == expected_marks
    assert many.mark() == one.mark()


def test_transits_are_what_delay_s_gives_and_none_on_a_lossy_or_down_link() -> None:
    from twin.config import LinkConfig

    def link(loss: float = 0.0, jitter: float = 4.0) -> Link:
        cfg = LinkConfig(latency_ms=10.0, jitter_ms=jitter, loss_ratio=loss)
        return Link("l", cfg, DrawBuffer(Streams(5).generator("l"), block=5), lambda *a: None)

    a, b = link(), link()
    values, _ = b.transits(None, 12)
    assert values == [a.delay_s() for _ in range(12)]
    assert link(jitter=0.0).transits(None, 3)[0] == [0.01] * 3
    assert link(loss=0.1).transits(None, 3) is None
    down = link()
    down.down()
    assert down.transits(None, 3) is None


class _OneByOneWorld(World):
    """The same world with the order-book streamer capturing and sending one by one (no batch path)."""

    def _build_sensors(self, ctx):  # type: ignore[no-untyped-def]
        sensors = super()._build_sensors(ctx)
        sensors["ob"].capture_batch = lambda times: None     # type: ignore[method-assign]
        return sensors


def _bytes(world: World, until_s: float) -> dict[str, bytes]:
    trace, out = world.run(until_s), {}
    for name in _TABLES:
        sink = io.BytesIO()
        with ipc.new_file(sink, trace[name].schema) as writer:
            writer.write_table(trace[name])
        out[name] = sink.getvalue()
    return out


def _faulted(world: World) -> World:
    """Re-plans mid-batch (latency, loss, a stall, partitions that cut the agent from owners, corruption)."""
    ports = world.ports
    world.at(100.35, lambda: ports["link.sensor.ob->cluster"].set_latency(40.0, 25.0))
    world.at(150.05, lambda: ports["link.exchange->sensor.ob"].set_loss(0.2))
    world.at(180.55, lambda: ports["link.exchange->sensor.ob"].set_loss(0.0))
    world.at(200.25, lambda: ports["sensor.ob"].stall())
    world.at(215.75, lambda: ports["sensor.ob"].resume())
    world.at(230.15, lambda: ports["network"].partition([["agent"], ["hz*", "sensor.*", "exchange"]]))
    world.at(250.45, lambda: ports["network"].heal())
    world.at(260.35, lambda: ports["network"].partition([["agent", "hz0"], ["hz1", "hz2", "sensor.*", "exchange"]]))
    world.at(280.85, lambda: ports["network"].heal())
    world.at(300.65, lambda: ports["sensor.ob"].corrupt(True))
    world.at(305.05, lambda: ports["sensor.ob"].corrupt(False))
    world.at(320.95, lambda: ports["link.cluster<->agent"].set_loss(0.3))
    world.at(350.0, lambda: ports["link.cluster<->agent"].set_loss(0.0))
    return world


def test_a_batched_world_is_byte_identical_to_one_sending_one_by_one() -> None:
    cfg = WorldConfig.from_mapping({"network": {"links": {"cluster<->agent": {"latency_ms": 30.0, "jitter_ms": 20.0}}}},
                                   source="test")
    world = _faulted(World(cfg, "survival", 4))
    ob = world.sensors["ob"]
    batches = []
    emit_batch = ob._emit_batch
    ob._emit_batch = lambda times: batches.append(emit_batch(times)) or batches[-1]   # type: ignore[method-assign]
    batched = _bytes(world, 420.0)
    assert batched == _bytes(_faulted(_OneByOneWorld(cfg, "survival", 4)), 420.0)
    assert batches.count(True) > 300 and batches.count(False) > 30      # both paths ran, around re-plans
