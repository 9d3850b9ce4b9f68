"""FaultProxyServer: the embedded Toxiproxy-compatible server, on its own event-loop thread.

Drive it only through ``toxiproxy-python`` (or any Toxiproxy client) at :attr:`api_address`; a real
Toxiproxy server can replace it by changing that address.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any, Coroutine

from .api import ToxiproxyApi

__all__ = ["FaultProxyServer"]

_CALL_TIMEOUT_S = 10.0


class FaultProxyServer:
    """Serve the Toxiproxy HTTP API on ``host:port`` (port 0 picks a free one).

    Args:
        host: API listen host (loopback by default).
        port: API listen port (Toxiproxy's default is 8474; 0 picks a free port).
        seed: seeds the toxicity draws, jitter and slice sizes, so a fault run can be replayed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nor-fault-proxy", daemon=True)
        self._api = ToxiproxyApi(random.Random(seed))
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> "FaultProxyServer":
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CALL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> "FaultProxyServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_address(self) -> tuple[str, int]:
        return self.host, self.port

    def connection_count(self, proxy_name: str) -> int:
        """Live proxied connections of one proxy (for assertions; not part of the Toxiproxy API)."""
        async def count() -> int:
            proxy = self._api.proxies.get(proxy_name)
            return 0 if proxy is None else proxy.connection_count
        return self._call(count())

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_CALL_TIMEOUT_S)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._api.handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._api.shutdown()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await _cancel_other_tasks()


async def _cancel_other_tasks() -> None:
    """Cancel and await every task left on this loop so closing it leaves nothing pending."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
