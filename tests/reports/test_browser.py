"""Render report.html in headless Chromium (Debian ``chromium``) over the DevTools protocol.

Set-up: ``tests/reports/ensure_chromium.sh`` installs the package (idempotent); the test runs it
when ``chromium`` is not on PATH. The page must load from ``file://`` without any console error,
uncaught exception or network request. Screenshots are kept under ``tests/reports/artifacts/``
(ignored by git) and their paths printed: the top of each page, and ``report_figure.png``, the
first case plot (the first open case; scrolled to and clipped to the figure; decoded and checked to show the posture ribbon,
the r_total line and a shaded fault window).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports import render_compare, render_run
from reports.plots import STYLES
from reports.svg import POSTURE_COLOURS

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


_FIRST_FIGURE = """(() => {
  const e = document.querySelector('details[open] svg');
  if (!e) return null;
  e.scrollIntoView();
  const r = e.getBoundingClientRect();
  return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
})()"""


def load_page(html: Path, profile: Path, screenshot: Path, figure: Path | None = None) -> list[str]:
    """Open ``html``; return every console error, uncaught exception and non-local request; save a PNG
    of the top of the page, and with ``figure`` one of the first plot (scrolled to, clipped to it)."""
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
        if figure is not None:
            box = browser.send("Runtime.evaluate", {"expression": _FIRST_FIGURE, "returnByValue": True},
                               session=session)["result"].get("value")
            assert box is not None, "the page has no figure"
            x, y, w, h = box
            shot = browser.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": x, "y": y, "width": w, "height": h, "scale": 1}}, session=session)
            figure.write_bytes(base64.b64decode(shot["data"]))
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


def png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to an (h, w, 3) uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * bpp)
    out = np.zeros((h, w * bpp), dtype=np.int32)
    prev = np.zeros(w * bpp, dtype=np.int32)
    for row in range(h):
        f, line = raw[row, 0], raw[row, 1:].astype(np.int32)
        cur = np.zeros_like(line)
        for i in range(line.size):  # filters 1, 3, 4 depend on the decoded left neighbour
            a = cur[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + pred) & 0xFF
        out[row], prev = cur, cur
    return out.reshape(h, w, bpp)[:, :, :3].astype(np.uint8)


def _share(pixels: np.ndarray, hex_colour: str, tol: int = 24) -> float:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int32)
    return float(np.mean(np.all(np.abs(pixels.astype(np.int32) - rgb) <= tol, axis=2)))


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def test_report_loads_in_chromium_without_console_errors(run_dir: Path, artifacts: Path, tmp_path: Path) -> None:
    html = render_run(run_dir)
    shot, figure = artifacts / "report.png", artifacts / "report_figure.png"
    problems = load_page(html, tmp_path / "profile", shot, figure)
    print(f"screenshots: {shot} (top of the page), {figure} (first plot)")
    assert problems == []
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the kept figure screenshot shows a drawn plot, not blank space
    pixels = png_pixels(figure.read_bytes())
    assert pixels.shape[0] > 300 and pixels.shape[1] > 600, pixels.shape
    assert np.mean(np.all(pixels >= 245, axis=2)) < 0.9                # not an empty white box
    assert _share(pixels, POSTURE_COLOURS[3]) > 0.003                  # APEX posture ribbon
    assert _share(pixels, STYLES["run"].colour, tol=40) > 0.001        # this run's r_total line
    assert _share(pixels, "#fef3c0", tol=12) > 0.005                   # shaded fault window


def test_compare_page_loads_in_chromium(run_dir: Path, run_dir_b: Path, artifacts: Path, tmp_path: Path) -> None:
    html = render_compare(run_dir, run_dir_b, tmp_path / "cmp")
    shot = artifacts / "compare.png"
    problems = load_page(html, tmp_path / "profile", shot)
    print(f"screenshot: {shot}")
    assert problems == []
