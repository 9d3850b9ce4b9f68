"""A named TCP proxy: a listener, an upstream, its toxics and its live connections."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from .errors import FaultProxyError
from .link import ProxiedConnection
from .toxics import ToxicSpec

__all__ = ["TcpProxy", "split_address", "ProxyConflict", "ProxyNotFound"]

_log = logging.getLogger(__name__)
_UPSTREAM_CONNECT_TIMEOUT_S = 5.0


class ProxyConflict(FaultProxyError):
    """A proxy or toxic with that name already exists (HTTP 409)."""


class ProxyNotFound(FaultProxyError):
    """No proxy or toxic with that name (HTTP 404)."""


def split_address(text: Any, field: str) -> tuple[str, int]:
    """Parse ``host:port`` (port 0 allowed for listen addresses)."""
    if not isinstance(text, str):
        raise FaultProxyError(f"proxy field {field!r}: expected 'host:port', got {text!r}")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise FaultProxyError(f"proxy field {field!r}: expected 'host:port', got {text!r}")
    return host.strip("[]"), int(port)


class TcpProxy:
    """One proxy. All methods run on the fault-proxy server's event loop."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.host, self.port = split_address(listen, "listen")
        self.upstream_host, self.upstream_port = split_address(upstream, "upstream")
        if self.upstream_port == 0:
            raise FaultProxyError(f"proxy field 'upstream': port 0 is not a valid upstream, got {upstream!r}")
        self.enabled = False
        self.toxics: dict[str, ToxicSpec] = {}
        self._rng = rng
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[ProxiedConnection] = set()
        self._pending: set[asyncio.Task] = set()

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxics.values()]}

    # ------------------------------------------------------------ enable / disable
    async def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.enabled:
            try:
                self._server = await asyncio.start_server(self._accept, self.host, self.port)
            except OSError as exc:
                raise FaultProxyError(f"proxy {self.name!r}: cannot listen on {self.listen}: {exc}") from None
            self.port = self._server.sockets[0].getsockname()[1]
            self.enabled = True
        elif not enabled and self.enabled:
            self.enabled = False
            server, self._server = self._server, None
            if server is not None:
                server.close()
            self.close_connections()
            if server is not None:
                await server.wait_closed()

    def close_connections(self) -> None:
        for conn in list(self._connections):
            conn.close()
        for task in list(self._pending):
            task.cancel()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # ------------------------------------------------------------ toxics
    def add_toxic(self, spec: ToxicSpec) -> None:
        if spec.name in self.toxics:
            raise ProxyConflict(f"toxic {spec.name!r} already exists on proxy {self.name!r}")
        self.toxics[spec.name] = spec
        self._sync()

    def replace_toxic(self, spec: ToxicSpec) -> None:
        self.toxics[spec.name] = spec
        self._sync()

    def remove_toxic(self, name: str) -> None:
        if self.toxics.pop(name, None) is None:
            raise ProxyNotFound(f"toxic {name!r} not found on proxy {self.name!r}")
        self._sync()

    def remove_all_toxics(self) -> None:
        self.toxics.clear()
        self._sync()

    def _sync(self) -> None:
        for conn in self._connections:
            conn.sync_toxics(self.toxics.values())

    # ------------------------------------------------------------ connections
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._pending.add(task)
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), _UPSTREAM_CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            _log.info("proxy %s: upstream %s unreachable: %s", self.name, self.upstream, exc)
            writer.close()
            return
        except asyncio.CancelledError:
            writer.close()
            return
        finally:
            self._pending.discard(task)
        if not self.enabled:
            writer.close()
            upstream[1].close()
            return
        conn = ProxiedConnection((reader, writer), upstream, self._rng, self._connections.discard)
        conn.sync_toxics(self.toxics.values())
        self._connections.add(conn)
        await conn.run()
