"""One proxied TCP connection: two pipes (upstream, downstream) that apply the active toxics.

Each pipe has a reader task that timestamps chunks as they arrive and a writer task that passes
them through the toxics in the order they were added, so latency is pipelined (relative to the
arrival time of each chunk, as in Toxiproxy) rather than cumulative.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Iterable

from .toxics import ToxicSpec

__all__ = ["ProxiedConnection"]

_log = logging.getLogger(__name__)
_READ_BYTES = 32 * 1024
_EOF = b""


@dataclass
class _Active:
    """A toxic's state on one connection (``enabled`` is the per-connection toxicity draw)."""

    spec: ToxicSpec
    enabled: bool
    passed_bytes: int = 0
    triggered: bool = False
    timer: asyncio.Task | None = None


class ProxiedConnection:
    """A client connection and its upstream connection, joined through toxics."""

    def __init__(self, client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 rng: random.Random, on_closed: Callable[["ProxiedConnection"], None]) -> None:
        self._client = client
        self._upstream = upstream
        self._rng = rng
        self._on_closed = on_closed
        self._toxics: dict[str, _Active] = {}
        self._tasks: list[asyncio.Task] = []
        self.closed = False
        self.bytes_by_stream = {"upstream": 0, "downstream": 0}

    # ------------------------------------------------------------ toxics
    def sync_toxics(self, specs: Iterable[ToxicSpec]) -> None:
        """Bring this connection's toxics in line with the proxy's (same order, same specs)."""
        wanted = {s.name: s for s in specs}
        for name in [n for n in self._toxics if n not in wanted]:
            self._cancel_timer(self._toxics.pop(name))
        updated: dict[str, _Active] = {}
        for name, spec in wanted.items():
            active = self._toxics.get(name)
            if active is None:
                active = _Active(spec, enabled=self._rng.random() < spec.toxicity)
                self._arm_timeout(active)
            else:
                active.spec = spec
            updated[name] = active
        self._toxics = updated

    def _arm_timeout(self, active: _Active) -> None:
        if active.enabled and active.spec.type == "timeout" and active.spec.attr("timeout") > 0:
            active.timer = asyncio.ensure_future(self._close_after(active.spec.attr("timeout") / 1000.0, False))

    @staticmethod
    def _cancel_timer(active: _Active) -> None:
        if active.timer is not None:
            active.timer.cancel()

    def _active(self, stream: str) -> list[_Active]:
        return [a for a in self._toxics.values() if a.enabled and a.spec.stream == stream]

    # ------------------------------------------------------------ running
    async def run(self) -> None:
        pipes = (("upstream", self._client[0], self._upstream[1]), ("downstream", self._upstream[0], self._client[1]))
        for stream, reader, writer in pipes:
            queue: asyncio.Queue = asyncio.Queue()
            self._tasks.append(asyncio.ensure_future(self._read(reader, queue)))
            self._tasks.append(asyncio.ensure_future(self._write(stream, writer, queue)))
        try:
            await asyncio.gather(*self._tasks)
        except asyncio.CancelledError:
            pass
        finally:
            self.close()

    async def _read(self, reader: asyncio.StreamReader, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(_READ_BYTES)
                queue.put_nowait((data, loop.time()))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((_EOF, loop.time()))

    async def _write(self, stream: str, writer: asyncio.StreamWriter, queue: asyncio.Queue) -> None:
        while True:
            data, arrived = await queue.get()
            if not data:
                await self._slow_close(stream)
                self.close()
                return
            await self._deliver(stream, writer, data, arrived)

    async def _slow_close(self, stream: str) -> None:
        for active in self._active(stream):
            if active.spec.type == "slow_close":
                await asyncio.sleep(active.spec.attr("delay") / 1000.0)

    async def _deliver(self, stream: str, writer: asyncio.StreamWriter, data: bytes, arrived: float) -> None:
        loop = asyncio.get_running_loop()
        slicer: ToxicSpec | None = None
        close_after = False
        for active in self._active(stream):
            spec = active.spec
            if spec.type == "timeout":
                return  # swallowed
            if spec.type == "reset_peer" and not active.triggered:
                active.triggered = True
                active.timer = asyncio.ensure_future(self._close_after(spec.attr("timeout") / 1000.0, True))
            elif spec.type == "latency":
                jitter = spec.attr("jitter")
                delay_s = (spec.attr("latency") + self._rng.uniform(-jitter, jitter)) / 1000.0
                await asyncio.sleep(max(0.0, arrived + delay_s - loop.time()))
            elif spec.type == "bandwidth" and spec.attr("rate") > 0:
                await asyncio.sleep(len(data) / (spec.attr("rate") * 1000.0))
            elif spec.type == "limit_data":
                remaining = spec.attr("bytes") - active.passed_bytes
                if len(data) >= remaining:
                    data, close_after = data[: max(0, remaining)], True
                active.passed_bytes += len(data)
            elif spec.type == "slicer":
                slicer = spec
        await self._write_out(stream, writer, data, slicer)
        if close_after:
            self.close()

    async def _write_out(self, stream: str, writer: asyncio.StreamWriter, data: bytes, slicer: ToxicSpec | None) -> None:
        if self.closed or not data:
            return
        pieces = [data] if slicer is None else self._slices(data, slicer)
        for i, piece in enumerate(pieces):
            if self.closed:
                return
            writer.write(piece)
            self.bytes_by_stream[stream] += len(piece)
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                self.close()
                return
            if slicer is not None and slicer.attr("delay") > 0 and i + 1 < len(pieces):
                await asyncio.sleep(slicer.attr("delay") / 1e6)

    def _slices(self, data: bytes, spec: ToxicSpec) -> list[bytes]:
        avg, var = spec.attr("average_size"), spec.attr("size_variation")
        out, pos = [], 0
        while pos < len(data):
            size = max(1, avg + (self._rng.randint(-var, var) if var else 0))
            out.append(data[pos : pos + size])
            pos += size
        return out

    # ------------------------------------------------------------ closing
    async def _close_after(self, delay_s: float, reset: bool) -> None:
        await asyncio.sleep(delay_s)
        self.close(reset=reset)

    def close(self, reset: bool = False) -> None:
        """Close both sides (FIN), or reset them (RST) with ``reset``."""
        if self.closed:
            return
        self.closed = True
        for active in self._toxics.values():
            self._cancel_timer(active)
        for _, writer in (self._client, self._upstream):
            if reset:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                writer.transport.abort()
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._on_closed(self)
