"""WireMember: an asyncio server speaking enough of the Hazelcast Open Client Protocol for tests.

THIS IS A TEST DOUBLE of the Hazelcast client protocol, NOT a Hazelcast replacement: one node,
no partitions to migrate, no persistence, no security beyond a cluster name and optional
username/password. It exists because no Hazelcast member can be installed on the CI machines; the
same adapter tests run unchanged against a real member when ``NOR_HZ_MEMBERS`` is set.

The real ``hazelcast-python-client`` connects to it, authenticates, receives member and partition
views, pings, uses maps (put/set/get/remove/put_all/get_all/...), entry listeners, a near cache
with invalidations, and compact schemas. Fault hooks: ``freeze``/``thaw``, ``drop_connections``,
``restart`` (optionally with a new cluster id), ``push_member_list``, ``advertise``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from typing import Any, Coroutine, Iterable

from hazelcast.core import MemberInfo

from .handlers import HANDLERS, push_member_view
from .protocol import CLIENT_PROTOCOL_MAGIC, FrameReader, ProtocolViolation, error_response, request_header
from .state import ClientConn, MemberCore, make_member_info

__all__ = ["WireMember", "make_member_info"]

_log = logging.getLogger(__name__)
_UNSUPPORTED_OPERATION = 61
_AUTH_TYPES = {0x000100, 0x000200}
_CALL_TIMEOUT_S = 10.0


class WireMember:
    """A single test member on 127.0.0.1, run on its own event-loop thread.

    Args:
        cluster_name: the cluster name clients must present.
        username, password: optional credentials clients must present.
        port: 0 picks a free loopback port.
    """

    def __init__(self, cluster_name: str = "dev", username: str | None = None,
                 password: str | None = None, port: int = 0) -> None:
        self._core = MemberCore(cluster_name=cluster_name, username=username, password=password, port=port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hz-wire-member", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._conns: dict[int, ClientConn] = {}
        self._ids = itertools.count(1)
        self._thawed = asyncio.Event()
        self._listen_port = port
        self.messages_handled = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "WireMember":
        self._thread.start()
        self._call(self._start_async())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._stop_async())
        self._call(_cancel_other_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CALL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> "WireMember":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def listen_address(self) -> tuple[str, int]:
        """Where the member listens (not necessarily what it advertises)."""
        return "127.0.0.1", self._listen_port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listen_port}"

    @property
    def member_uuid(self) -> uuid.UUID:
        return self._core.member_uuid

    @property
    def cluster_id(self) -> uuid.UUID:
        return self._core.cluster_id

    @property
    def connection_count(self) -> int:
        return self._call(self._count_async())

    # ------------------------------------------------------------ fault hooks
    def freeze(self) -> None:
        """Stop answering (a hung member): requests queue up, pings go unanswered."""
        self._loop.call_soon_threadsafe(self._thawed.clear)

    def thaw(self) -> None:
        self._loop.call_soon_threadsafe(self._thawed.set)

    def drop_connections(self) -> None:
        """Abort every client connection at once (the member stays up)."""
        self._call(self._drop_async())

    def restart(self, new_cluster_id: bool = True, downtime_s: float = 0.0) -> None:
        """Restart: drop connections, lose all data, schemas and listeners, take a new member uuid.

        With ``new_cluster_id`` the restarted member belongs to a new cluster, as after a full
        cluster restart; clients see the change on reconnect.
        """
        self._call(self._restart_async(new_cluster_id, downtime_s), timeout=_CALL_TIMEOUT_S + downtime_s)

    def push_member_list(self, extra_members: Iterable[MemberInfo]) -> None:
        """Advertise this member plus ``extra_members`` as the cluster (a new member-list version)."""
        members = list(extra_members)
        self._call(self._push_members_async(members))

    def advertise(self, host: str, port: int) -> None:
        """Advertise ``host:port`` (e.g. a fault proxy in front of this member) to clients."""
        self._call(self._advertise_async(host, port))

    def map_names(self) -> list[str]:
        """The maps that exist on the member now (created by any access, gone once destroyed)."""
        return self._call(self._names_async())

    def map_entries(self, name: str) -> dict[bytes, bytes]:
        """A copy of the raw serialised entries of one map (for assertions)."""
        return self._call(self._entries_async(name))

    # ------------------------------------------------------------ loop side
    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = _CALL_TIMEOUT_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start_async(self) -> None:
        self._thawed.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._listen_port)
        self._listen_port = self._server.sockets[0].getsockname()[1]
        if self._core.port == 0:
            self._core.port = self._listen_port

    async def _stop_async(self) -> None:
        await self._drop_async()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _count_async(self) -> int:
        return len(self._conns)

    async def _drop_async(self) -> None:
        for conn in list(self._conns.values()):
            conn.abort()
        self._conns.clear()

    async def _restart_async(self, new_cluster_id: bool, downtime_s: float) -> None:
        advertised = (self._core.host, self._core.port)
        await self._stop_async()
        self._core.wipe(new_cluster_id)
        self._core.host, self._core.port = advertised
        if downtime_s > 0:
            await asyncio.sleep(downtime_s)
        await self._listen()

    async def _push_members_async(self, members: list[MemberInfo]) -> None:
        self._core.extra_members = members
        self._core.member_list_version += 1
        for reg in self._core.registrations_of("cluster_view"):
            push_member_view(self._core, reg)

    async def _advertise_async(self, host: str, port: int) -> None:
        self._core.host, self._core.port = host, port
        await self._push_members_async(self._core.extra_members)

    async def _names_async(self) -> list[str]:
        return sorted(self._core.maps)

    async def _entries_async(self, name: str) -> dict[bytes, bytes]:
        return dict(self._core.maps.get(name, {}))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ClientConn(next(self._ids), writer.write, writer.transport.abort)
        self._conns[conn.conn_id] = conn
        try:
            if await reader.readexactly(len(CLIENT_PROTOCOL_MAGIC)) != CLIENT_PROTOCOL_MAGIC:
                raise ProtocolViolation("client did not open with the CP2 protocol header")
            frames = FrameReader()
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for msg in frames.feed(data):
                    await self._thawed.wait()
                    if conn.closed:
                        break
                    self._dispatch(conn, msg)
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolViolation) as exc:
            _log.debug("connection %s ended: %s", conn.conn_id, exc)
        finally:
            self._core.forget_connection(conn)
            self._conns.pop(conn.conn_id, None)
            conn.abort()

    def _dispatch(self, conn: ClientConn, msg) -> None:
        message_type, corr, frame = request_header(msg)
        self.messages_handled += 1
        if not conn.authenticated and message_type not in _AUTH_TYPES:
            conn.abort()
            return
        handler = HANDLERS.get(message_type)
        if handler is None:
            text = f"the wire-level test member does not implement message type 0x{message_type:06X}"
            conn.send(error_response(corr, _UNSUPPORTED_OPERATION, "java.lang.UnsupportedOperationException", text))
            return
        try:
            handler(self._core, conn, msg, corr, frame)
        except Exception:  # a bug in the double must not hang the client: close and log once
            _log.exception("test member failed on message type 0x%06X; closing connection", message_type)
            conn.abort()


async def _cancel_other_tasks() -> None:
    """Cancel and await every task left on this loop so closing it leaves nothing pending."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
