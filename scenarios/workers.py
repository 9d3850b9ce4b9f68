"""Worker processes that never outlive ``nor``.

``nor run --jobs N`` runs cases in a forkserver process pool. Each worker, in its initializer:

* ignores SIGINT — Ctrl-C is the parent's to handle (it then stops the pool with :func:`stop_pool`);
* asks the kernel to SIGKILL it when its parent (the forkserver) dies (``prctl(PR_SET_PDEATHSIG)``);
* watches the ``nor`` process itself through a pidfd (a race-free handle on that process) in a daemon
  thread and exits at once when it is gone — so ``kill -9`` of ``nor`` leaves no worker running and
  nothing writing into the abandoned run directory.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["bind_to_parent", "stop_pool"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent_process() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):      # not Linux: the pidfd/poll watcher below still applies
        pass


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])            # readable when the process has exited
        os._exit(1)
    while True:                                 # fallback: poll (pid reuse is possible but harmless here)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(0.5)


def bind_to_parent(nor_pid: int) -> None:
    """Pool initializer: this worker dies with ``nor`` (process ``nor_pid``) and its own parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent_process()
    if os.getppid() == 1:                       # the parent died before the prctl took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(nor_pid,), name="nor-parent-watch", daemon=True).start()


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 3.0) -> None:
    """Cancel what has not started and terminate the running workers (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
