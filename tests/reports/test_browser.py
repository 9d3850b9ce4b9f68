"""Render report.html in headless Chromium (Debian ``chromium``) over the DevTools protocol.

Set-up: ``tests/reports/ensure_chromium.sh`` installs the package (idempotent); the test runs it
when ``chromium`` is not on PATH. The page must load from ``file://`` without any console error,
uncaught exception or network request; a screenshot is kept under
``tests/reports/artifacts/`` (ignored by git) and its path printed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from reports import render_compare, render_run

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        subprocess.run(["bash", str(HERE / "ensure_chromium.sh")], check=True, timeout=900)
        exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed and tests/reports/ensure_chromium.sh could not install it")
    return exe


class Browser:
    """A headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON)."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        cmd = " ".join([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"])
        self.proc = subprocess.Popen(["bash", "-c", f'exec {cmd} 3<&"$R" 4>&"$W"'], pass_fds=(to_r, from_w),
                                     env={**os.environ, "R": str(to_r), "W": str(from_w)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe: "
                                   + self.proc.stderr.read().decode(errors="replace")[-2000:])
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout_s: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            e = self._read(deadline)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)


def load_page(html: Path, profile: Path, screenshot: Path) -> list[str]:
    """Open ``html``; return every console error, uncaught exception and non-local request; save a PNG."""
    browser = Browser(_chromium(), profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1800, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", timeout_s=60)
        title = browser.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                             session=session)["result"]["value"]
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        problems = []
        for e in browser.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                problems.append(f"console.{p['type']}: {p.get('args')}")
            elif method == "Runtime.exceptionThrown":
                problems.append(f"exception: {p.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                problems.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:")):
                    problems.append(f"network request: {url}")
        assert title.startswith("nor "), title
        return problems
    finally:
        browser.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def test_report_loads_in_chromium_without_console_errors(run_dir: Path, artifacts: Path, tmp_path: Path) -> None:
    html = render_run(run_dir)
    shot = artifacts / "report.png"
    problems = load_page(html, tmp_path / "profile", shot)
    print(f"screenshot: {shot}")
    assert problems == []
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_page_loads_in_chromium(run_dir: Path, run_dir_b: Path, artifacts: Path, tmp_path: Path) -> None:
    html = render_compare(run_dir, run_dir_b, tmp_path / "cmp")
    shot = artifacts / "compare.png"
    problems = load_page(html, tmp_path / "profile", shot)
    print(f"screenshot: {shot}")
    assert problems == []
