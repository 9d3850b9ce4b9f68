"""Fixtures for the fault proxy tests: a real TCP echo server and the proxy driven by toxiproxy-python."""

from __future__ import annotations

import socket
import threading

import pytest
from toxiproxy import Toxiproxy

from faults.proxy import FaultProxyServer


class EchoServer:
    """Threaded loopback TCP server: echoes, or sends ``greeting`` and closes when set."""

    def __init__(self, greeting: bytes | None = None) -> None:
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self.greeting is not None:
                conn.sendall(self.greeting)
                return
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def fault_server():
    server = FaultProxyServer(seed=7).start()
    yield server
    server.stop()


@pytest.fixture
def toxiproxy(fault_server):
    client = Toxiproxy()
    client.update_api_consumer(*fault_server.api_address)
    return client


@pytest.fixture
def echo_proxy(toxiproxy, echo):
    return toxiproxy.create(upstream=echo.address, name="echo")


def connect(proxy, timeout_s: float = 3.0) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout_s)


@pytest.fixture
def dial():
    opened: list[socket.socket] = []

    def _dial(proxy, timeout_s: float = 3.0) -> socket.socket:
        s = connect(proxy, timeout_s)
        opened.append(s)
        return s

    yield _dial
    for s in opened:
        s.close()


@pytest.fixture
def greeter():
    server = EchoServer(greeting=b"bye" * 10)
    yield server
    server.close()
