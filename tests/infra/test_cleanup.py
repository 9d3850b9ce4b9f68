"""Member and Toxiproxy processes die with the process that started them, however it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, sys, time
from infra import LocalCluster
c = LocalCluster(1).start()
print(json.dumps([c.member(0).pid, c.toxiproxy.pid]), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is dead


def test_a_killed_test_process_takes_its_members_and_toxiproxy_with_it():
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(proc.stdout.readline())
        assert all(_alive(p) for p in pids), "the member and the proxy server run"
        proc.send_signal(signal.SIGKILL)  # no finalizer, no atexit: only the parent-death signal is left
        proc.wait(10)
        deadline = time.monotonic() + 20.0
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), f"left behind: {[p for p in pids if _alive(p)]}"
    finally:
        if proc.poll() is None:
            proc.kill()
