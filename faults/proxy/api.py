"""The Toxiproxy HTTP API (the subset ``toxiproxy-python`` and the Toxiproxy CLI use).

Routes: ``GET /version``, ``GET|POST /proxies``, ``POST /populate``, ``GET|POST|DELETE
/proxies/{proxy}``, ``GET|POST /proxies/{proxy}/toxics``, ``GET|POST|DELETE
/proxies/{proxy}/toxics/{toxic}``, ``POST /reset``. Errors are ``{"error": ..., "status": ...}``
with 400 (invalid), 404 (not found) or 409 (already exists), as Toxiproxy answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import FaultProxyError
from .proxy import ProxyConflict, ProxyNotFound, TcpProxy
from .toxics import parse_toxic, update_toxic

__all__ = ["ToxiproxyApi", "API_VERSION"]

_log = logging.getLogger(__name__)
API_VERSION = "2.12.0-nor"  # the Toxiproxy API level it mirrors, suffixed: this is not Toxiproxy
_MAX_BODY_BYTES = 1 << 20
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error"}


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ToxiproxyApi:
    """Proxies by name plus the request router. Runs on one event loop."""

    def __init__(self, rng: random.Random) -> None:
        self.proxies: dict[str, TcpProxy] = {}
        self._rng = rng

    # ------------------------------------------------------------ HTTP plumbing
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, body = await self._read_request(reader)
            status, payload = await self._route(method, path, body)
        except _HttpError as exc:
            status, payload = exc.status, {"error": str(exc), "status": exc.status}
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        except Exception as exc:  # never leave a client hanging on a bug
            _log.exception("fault proxy API failure")
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}", "status": 500}
        raw = b"" if status == 204 else json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n")
        writer.write(head.encode() + raw)
        try:
            await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, Any]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _HttpError(400, f"malformed request line {lines[0]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(headers.get("content-length", "0") or 0)
        if length > _MAX_BODY_BYTES:
            raise _HttpError(400, f"request body of {length} bytes is too large")
        raw = await reader.readexactly(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as exc:
            raise _HttpError(400, f"request body is not valid JSON: {exc}") from None
        return parts[0].upper(), unquote(urlsplit(parts[1]).path).rstrip("/") or "/", body

    # ------------------------------------------------------------ routing
    async def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        seg = [s for s in path.split("/") if s]
        try:
            if seg == ["version"] and method == "GET":
                return 200, {"version": API_VERSION}
            if seg == ["reset"] and method == "POST":
                await self.reset()
                return 204, None
            if seg == ["populate"] and method == "POST":
                return 201, {"proxies": [p.to_json() for p in await self.populate(body)]}
            if seg == ["proxies"]:
                if method == "GET":
                    return 200, {name: p.to_json() for name, p in self.proxies.items()}
                if method == "POST":
                    return 201, (await self.create(body)).to_json()
            if len(seg) >= 2 and seg[0] == "proxies":
                return await self._route_proxy(method, self._proxy(seg[1]), seg[2:], body)
        except (ProxyNotFound, ProxyConflict) as exc:
            raise _HttpError(404 if isinstance(exc, ProxyNotFound) else 409, str(exc)) from None
        except FaultProxyError as exc:
            raise _HttpError(400, str(exc)) from None
        raise _HttpError(404 if method in ("GET", "POST", "DELETE", "PATCH") else 405, f"no route {method} {path}")

    async def _route_proxy(self, method: str, proxy: TcpProxy, rest: list[str], body: Any) -> tuple[int, Any]:
        if not rest:
            if method == "GET":
                return 200, proxy.to_json()
            if method in ("POST", "PATCH"):
                await self.update(proxy, body)
                return 200, proxy.to_json()
            if method == "DELETE":
                await proxy.set_enabled(False)
                del self.proxies[proxy.name]
                return 204, None
        elif rest == ["toxics"]:
            if method == "GET":
                return 200, [t.to_json() for t in proxy.toxics.values()]
            if method == "POST":
                spec = parse_toxic(body)
                proxy.add_toxic(spec)
                return 200, spec.to_json()
        elif len(rest) == 2 and rest[0] == "toxics":
            spec = proxy.toxics.get(rest[1])
            if spec is None:
                raise ProxyNotFound(f"toxic {rest[1]!r} not found on proxy {proxy.name!r}")
            if method == "GET":
                return 200, spec.to_json()
            if method in ("POST", "PATCH"):
                new = update_toxic(spec, body)
                proxy.replace_toxic(new)
                return 200, new.to_json()
            if method == "DELETE":
                proxy.remove_toxic(spec.name)
                return 204, None
        raise _HttpError(405, f"method {method} not allowed here")

    def _proxy(self, name: str) -> TcpProxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ProxyNotFound(f"proxy {name!r} not found")
        return proxy

    # ------------------------------------------------------------ operations
    async def create(self, body: Any) -> TcpProxy:
        if not isinstance(body, dict):
            raise FaultProxyError(f"proxy: expected a JSON object with name/upstream/listen, got {body!r}")
        unknown = set(body) - {"name", "listen", "upstream", "enabled"}
        if unknown:
            raise FaultProxyError(f"proxy: unknown field(s) {sorted(unknown)}")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise FaultProxyError(f"proxy field 'name': expected a non-empty string, got {name!r}")
        if name in self.proxies:
            raise ProxyConflict(f"proxy {name!r} already exists")
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise FaultProxyError(f"proxy field 'enabled': expected a boolean, got {enabled!r}")
        proxy = TcpProxy(name, body.get("listen", "127.0.0.1:0"), body.get("upstream"), self._rng)
        if enabled:
            await proxy.set_enabled(True)
        self.proxies[name] = proxy
        return proxy

    async def update(self, proxy: TcpProxy, body: Any) -> None:
        if not isinstance(body, dict):
            raise FaultProxyError(f"proxy update: expected a JSON object, got {body!r}")
        unknown = set(body) - {"name", "listen", "upstream", "enabled"}
        if unknown:
            raise FaultProxyError(f"proxy update: unknown field(s) {sorted(unknown)}")
        if "enabled" in body and not isinstance(body["enabled"], bool):
            raise FaultProxyError(f"proxy field 'enabled': expected a boolean, got {body['enabled']!r}")
        restart = ("listen" in body and body["listen"] != proxy.listen) or (
            "upstream" in body and body["upstream"] != proxy.upstream)
        enabled = body.get("enabled", proxy.enabled)
        if restart:
            fresh = TcpProxy(proxy.name, body.get("listen", proxy.listen), body.get("upstream", proxy.upstream), self._rng)
            await proxy.set_enabled(False)
            proxy.host, proxy.port = fresh.host, fresh.port
            proxy.upstream_host, proxy.upstream_port = fresh.upstream_host, fresh.upstream_port
        await proxy.set_enabled(enabled)

    async def populate(self, body: Any) -> list[TcpProxy]:
        if not isinstance(body, list):
            raise FaultProxyError(f"populate: expected a JSON list of proxies, got {body!r}")
        out = []
        for item in body:
            existing = self.proxies.get(item.get("name")) if isinstance(item, dict) else None
            if existing is not None:
                await existing.set_enabled(False)
                del self.proxies[existing.name]
            out.append(await self.create(item))
        return out

    async def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        for proxy in self.proxies.values():
            proxy.remove_all_toxics()
            await proxy.set_enabled(True)

    async def shutdown(self) -> None:
        for proxy in self.proxies.values():
            await proxy.set_enabled(False)
