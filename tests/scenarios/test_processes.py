"""Real `nor run --jobs 2` subprocesses: workers die with nor (kill -9), SIGTERM stops it like Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for descendants")

LONG = """
name = "long"
duration = "5h"
seeds = 4
companions = []
[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "2m"
for = "1m"
[liveness]
within = "5m"
"""


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


def _start(tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG, encoding="utf-8")
    nor = Path(sys.executable).parent / "nor"
    proc = subprocess.Popen([str(nor), "run", str(scenario), "--jobs", "2", "--out", str(tmp_path / "runs"),
                             "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    kids: set[int] = set()
    while time.monotonic() < deadline:          # resource tracker + forkserver + 2 workers
        kids = _descendants(proc.pid)
        if len(kids) >= 4:
            break
        time.sleep(0.2)
    assert len(kids) >= 4, f"workers did not start: {kids}"
    time.sleep(1.0)
    return proc, kids


def _wait_gone(pids: set[int], timeout_s: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pids):
        time.sleep(0.1)
    return _alive(pids)


def test_kill_9_of_nor_leaves_no_worker_or_forkserver_running(tmp_path: Path) -> None:
    proc, kids = _start(tmp_path)
    proc.kill()
    proc.wait(10)
    left = _wait_gone(kids)
    for p in left:                               # do not leak them into the rest of the test session
        os.kill(p, signal.SIGKILL)
    assert not left, f"still running after kill -9 of nor: {sorted(left)}"


def test_sigterm_stops_like_ctrl_c(tmp_path: Path) -> None:
    proc, kids = _start(tmp_path)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10.0, "nor waited for the running cases instead of stopping them"
    left = _wait_gone(kids)
    assert proc.returncode == 130, err
    assert "nor: interrupted" in err
    assert "leaked semaphore" not in err and "Traceback" not in err, err
    assert not left, f"still running after SIGTERM: {sorted(left)}"


def test_a_reader_that_leaves_early_is_not_an_internal_error(tmp_path: Path) -> None:
    nor = Path(sys.executable).parent / "nor"
    proc = subprocess.Popen([str(nor), "validate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NOR_CRASH_DIR": str(tmp_path)})
    proc.stdout.close()                       # like `nor validate | head -0`: nobody reads
    err = proc.stderr.read()
    assert proc.wait(60) == 141, err
    assert "internal error" not in err and "Traceback" not in err and not list(tmp_path.iterdir())
