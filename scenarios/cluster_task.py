"""What runs on a ``dask.distributed`` worker for ``nor run --cluster``: its identity and one case.

A worker's identity (:func:`worker_info`) is what must match the client before anything runs: the Python
version, the bound code's content hash (:mod:`.codestate`), the versions of the packages that compute
traces, the determinism environment (:data:`DETERMINISM_ENV`, read as numba and the process see it) and a
numeric fingerprint (:func:`numeric_probe`: libm, BLAS/LAPACK, the numba-compiled scanner and controller on
fixed inputs), so that a CPU whose arithmetic differs is refused even when every version matches.

:func:`run_remote` runs one case with the suite's own :func:`scenarios.case.run_case` into a directory of
the worker (a temporary one, or a staging directory on a shared file system) and returns every file of the
case directory with its SHA-256 — and its bytes, unless they stay on the shared file system.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

__all__ = ["DETERMINISM_ENV", "VERSIONED", "worker_info", "numeric_probe", "identity", "run_remote",
           "case_files", "WorkerMismatch"]

DETERMINISM_ENV = {"NUMBA_CPU_NAME": "generic", "OPENBLAS_NUM_THREADS": "1"}
"""Set on every cluster worker before it starts (so before numba and numpy load in it): numba compiles for a
generic x86-64 CPU (no host-specific vector width in its fast-math reductions), and OpenBLAS runs one thread
per worker process."""

VERSIONED = ("numpy", "numba", "llvmlite", "pyarrow", "simpy", "distributed")
"""Packages whose version must be the client's on every worker (with Python and the code state)."""


class WorkerMismatch(RuntimeError):
    """A task landed on a worker whose identity differs from the client's (raised on the worker)."""


def numeric_probe() -> str:
    """SHA-256 of results that depend on the CPU's arithmetic paths: libm through numpy, a BLAS product and a
    LAPACK eigensolver, the numba-compiled rolling λ_max and the survival controller on fixed inputs."""
    import numpy as np

    from controller import NOMINAL_SIGNALS, SurvivalController, default_config
    from trading.eigen import RollingLambda

    rng = np.random.default_rng(20261129)
    x = rng.standard_normal((96, 50))
    h = hashlib.sha256()
    for arr in (np.exp(x), np.log1p(np.abs(x)), np.sin(x), np.tanh(x), x.T @ x,
                np.linalg.eigvalsh(np.corrcoef(x, rowvar=False))):
        h.update(np.ascontiguousarray(arr).tobytes())
    lam = RollingLambda(50, 64)
    for row in x:
        lam.push(row)
        h.update(np.float64(lam.lambda_max()).tobytes())
    ctl = SurvivalController(default_config())
    for i, age in enumerate(np.linspace(0.0, 9000.0, 40)):
        signals = dict(NOMINAL_SIGNALS, **{"mc_forewarner.age_s": float(age), "scan.age_s": float(age) / 7.0,
                                           "portfolio.drawdown": float(age) / 60000.0})
        d = ctl.step(float(i * 60), signals)
        h.update(np.float64(d.r_total).tobytes())
    return h.hexdigest()


def _cpu() -> dict[str, Any]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine()):
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = sorted(v for v in value.split() if v.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "count": os.cpu_count() or 0, "flags": flags}


@lru_cache(maxsize=1)
def worker_info() -> dict[str, Any]:
    """This process's identity (computed once per process): host, CPU, versions, code state, determinism
    environment and numeric fingerprint."""
    import numba

    from .codestate import code_state

    return {
        "host": socket.gethostname(), "pid": os.getpid(), "cpu": _cpu(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "code_sha256": code_state().sha256,
        "versions": {name: metadata.version(name) for name in VERSIONED},
        "env": {"NUMBA_CPU_NAME": str(numba.config.CPU_NAME or ""),
                "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "")},
        "numeric_probe": numeric_probe(),
    }


def identity(info: Mapping[str, Any]) -> dict[str, Any]:
    """The part of :func:`worker_info` that must be equal everywhere."""
    return {"python": info["python"], "code_sha256": info["code_sha256"], "versions": dict(info["versions"]),
            "env": dict(info["env"]), "numeric_probe": info["numeric_probe"]}


def case_files(case_dir: Path, with_bytes: bool) -> list[tuple[str, str, bytes | None]]:
    """Every file under ``case_dir`` as ``(relative posix path, sha256, bytes or None)``, in path order."""
    out = []
    for p in sorted(case_dir.rglob("*"), key=lambda q: q.relative_to(case_dir).as_posix()):
        if p.is_file():
            data = p.read_bytes()
            out.append((p.relative_to(case_dir).as_posix(), hashlib.sha256(data).hexdigest(),
                        data if with_bytes else None))
    return out


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return ""


def run_remote(job: tuple, layout: tuple[str, str], expected: Mapping[str, Any],
               staging: str | None = None) -> dict[str, Any]:
    """Run one case (``job`` = :func:`scenarios.case.run_case`'s first five arguments) on this worker.

    ``layout`` is (run directory name, case directory relative to it): the case is written under the same
    names in a temporary directory (or ``staging``, a directory on a shared file system). Refuses (raises
    :class:`WorkerMismatch`) when this worker's :func:`identity` is not ``expected``.
    """
    from .case import run_case

    info = worker_info()
    if identity(info) != dict(expected):
        raise WorkerMismatch(f"worker {_worker_address()} on {info['host']} differs from the client: "
                             f"{identity(info)} != {dict(expected)}")
    scenario, seed, _case_dir, rel, companions = job
    run_name, case_rel = layout
    if staging is not None:
        parent = Path(staging) / run_name
        parent.mkdir(parents=True, exist_ok=True)
        attempt = Path(tempfile.mkdtemp(prefix=".attempt-", dir=parent))      # a retry never mixes with it
        case_dir = attempt / case_rel
        result = run_case(scenario, seed, case_dir, rel, companions)
        files = case_files(case_dir, with_bytes=False)
    else:
        with tempfile.TemporaryDirectory(prefix="nor-case-") as tmp:
            case_dir = Path(tmp) / run_name / case_rel
            result = run_case(scenario, seed, case_dir, rel, companions)
            files = case_files(case_dir, with_bytes=True)
    return {"result": result, "files": files, "worker": _worker_address(), "host": info["host"],
            "pid": os.getpid(), "staged": str(case_dir) if staging is not None else None,
            "attempt_dir": str(attempt) if staging is not None else None}
