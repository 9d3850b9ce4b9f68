"""The real Toxiproxy server as a child process, and proxies on it (driven by ``toxiproxy-python``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .errors import InfraError

__all__ = ["ToxiproxyServer"]


class ToxiproxyServer:
    """``server -host 127.0.0.1 -port PORT``; :meth:`api` is a ``toxiproxy.Toxiproxy`` bound to it."""

    def __init__(self, binary: Path, port: int, workdir: Path) -> None:
        self.binary, self.port, self.workdir = binary, port, workdir
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout_s: float = 20.0, preexec: Callable[[], None] | None = None) -> "ToxiproxyServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "toxiproxy.log").open("ab")
        self.proc = subprocess.Popen([str(self.binary), "-host", "127.0.0.1", "-port", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=preexec)
        log.close()
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise InfraError(f"the Toxiproxy server did not come up on port {self.port} "
                                 f"(see {self.workdir / 'toxiproxy.log'})")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/version", timeout=1.0) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def api(self):
        """A ``toxiproxy.Toxiproxy`` client for this server. toxiproxy-python keeps the address in a class
        attribute: one server per process at a time."""
        from toxiproxy import Toxiproxy

        api = Toxiproxy()
        api.update_api_consumer(*self.address)
        return api

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
