"""``--cluster tcp://HOST:8786``: cases as tasks on a ``dask.distributed`` cluster, refused unless every
worker computes exactly as the client does.

Before anything runs, :func:`cluster_session` connects to the scheduler and runs
:func:`scenarios.cluster_task.worker_info` on every worker; a worker whose Python, code state
(:mod:`.codestate`), package versions (:data:`~scenarios.cluster_task.VERSIONED`), determinism environment
(:data:`~scenarios.cluster_task.DETERMINISM_ENV`) or numeric fingerprint differs from the client's is
**refused**: :class:`ClusterRefused`, exit 2, nothing run. Each task checks its worker again (a worker that
joins later is held to the same identity).

Each case is one task (:func:`scenarios.cluster_task.run_remote`) that returns its files with their
SHA-256 — the bytes themselves, or a path on ``--cluster-shared-dir``. The client checks every file's hash
before writing it into the run directory, and the case's trace hash after; a mismatch makes the case ERROR.
The scheduler reschedules a task whose worker died (``distributed.scheduler.allowed-failures``, default 3);
the attempts of each case are read from the scheduler and retries are noted in the manifest's ``cluster``
entry, with the workers' CPU and versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Mapping, Sequence

from .case import CaseResult, trace_sha256
from .cluster_task import DETERMINISM_ENV, identity, run_remote, worker_info
from .errors import ScenarioError, ScenarioFileError

__all__ = ["ADDRESS_RULE", "add_cluster_options", "ClusterError", "ClusterRefused", "ClusterSession", "cluster_address", "cluster_session",
           "land_case"]

ADDRESS_RULE = "a dask.distributed scheduler address such as tcp://HOST:8786"
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$")
CONNECT_TIMEOUT_S = 15.0


class ClusterError(ScenarioError):
    """The cluster failed during a run (a task lost on more workers than the scheduler allows): exit 3."""


class ClusterRefused(ScenarioFileError):
    """The cluster named by ``--cluster`` cannot be used (unreachable, no workers, workers unlike the client):
    invalid input, exit 2, and nothing has run."""

    def __init__(self, expected: str, got: object = None) -> None:
        super().__init__("command line", "--cluster", expected, got)
        if got is not None:             # every worker's differences in full (the default shortens a long value)
            self.args = (f"command line: --cluster: expected {expected}, got {got}",)

    def __str__(self) -> str:
        return str(self.args[0])


def cluster_address(text: str) -> str:
    """argparse type: ``tcp://HOST:PORT`` (or ``tls://``)."""
    import argparse

    m = _ADDRESS.match(text)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise argparse.ArgumentTypeError(f"expected {ADDRESS_RULE}, got {text!r}")
    return text


def add_cluster_options(p: Any, shared: bool = True) -> None:
    """``--cluster`` (and ``--cluster-shared-dir``) on an argparse parser."""
    p.add_argument("--cluster", type=cluster_address, metavar="tcp://HOST:8786",
                   help="run on this dask.distributed scheduler's workers instead of local processes")
    if shared:
        p.add_argument("--cluster-shared-dir", type=Path, metavar="DIR",
                       help="with --cluster: workers write cases here (a directory every worker and this machine "
                            "see at the same path) instead of returning their bytes")


def _differences(worker: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    out = []
    for key in ("python", "code_sha256", "numeric_probe"):
        if worker[key] != expected[key]:
            out.append(f"{key} {str(worker[key])[:16]} (client {str(expected[key])[:16]})")
    for group, whose in (("versions", "client"), ("env", "required")):
        for name in sorted(set(worker[group]) | set(expected[group])):
            if worker[group].get(name) != expected[group].get(name):
                out.append(f"{name} {worker[group].get(name)!r} ({whose} {expected[group].get(name)!r})")
    return out


def _scheduler_attempts_fn() -> Callable[..., dict[str, int]]:
    """A function for ``Client.run_on_scheduler`` (nested, so it is pickled by value: the scheduler's machine
    needs no dolphin-nor): how many times each task's worker died under it."""
    def attempts(keys: Sequence[str], dask_scheduler: Any = None) -> dict[str, int]:
        tasks = dask_scheduler.tasks
        return {k: int(getattr(tasks.get(k), "suspicious", 0) or 0) for k in keys}
    return attempts


def _safe_rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise ClusterError(f"a worker returned a file outside its case directory: {rel!r}")
    return p


def land_case(payload: Mapping[str, Any], case_dir: Path) -> CaseResult:
    """Write a task's files into ``case_dir`` after checking each one's SHA-256, then the case's trace hash.

    A mismatch makes the case ERROR (``error.txt`` says which file); the files stay for inspection.
    """
    result: CaseResult = payload["result"]
    staged = Path(payload["staged"]) if payload.get("staged") else None
    case_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for rel, sha, data in payload["files"]:
        path = _safe_rel(rel)
        if data is None:
            if staged is None:
                raise ClusterError(f"{result.dir}: {rel}: neither bytes nor a staged copy returned")
            data = (staged / path).read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            problems.append(f"{rel}: sha256 {got} received, the worker wrote {sha}")
        (case_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (case_dir / path).write_bytes(data)
    if staged is not None:
        shutil.rmtree(payload["attempt_dir"], ignore_errors=True)
    if not problems and result.verdict != "ERROR" and trace_sha256(case_dir) != result.trace_sha256:
        problems.append(f"trace sha256 {trace_sha256(case_dir)} of the files written, the worker's case "
                        f"recorded {result.trace_sha256}")
    if problems:
        result.verdict = "ERROR"
        result.error = f"cluster transfer: {problems[0]}"[:400]
        (case_dir / "error.txt").write_text("cluster transfer failed:\n" + "\n".join(problems) + "\n",
                                            encoding="utf-8")
    return result


class ClusterSession:
    """A connected, checked cluster: runs cases and describes itself for the manifest."""

    def __init__(self, client: Any, address: str, shared_dir: Path | None, client_info: Mapping[str, Any],
                 workers: Mapping[str, Mapping[str, Any]]) -> None:
        self.client = client
        self.address = address
        self.shared_dir = shared_dir
        self.client_info = dict(client_info)
        self.expected = dict(identity(client_info), env=dict(DETERMINISM_ENV))
        self.workers = {a: dict(w) for a, w in workers.items()}
        self.tasks: dict[str, dict[str, Any]] = {}

    @property
    def nthreads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False)

    def attempts(self, keys: Sequence[str]) -> dict[str, int]:
        """1 + how many workers died while running each task (read from the scheduler)."""
        lost = self.client.run_on_scheduler(_scheduler_attempts_fn(), keys=list(keys))
        return {k: 1 + int(lost.get(k, 0)) for k in keys}

    def run_cases(self, args: Sequence[tuple], run_dir: Path, done: Callable[[CaseResult], None]) -> None:
        """Run ``(scenario, seed, case_dir, rel, companions)`` cases as tasks; ``done(result)`` as each lands."""
        from distributed import as_completed

        staging = str(self.shared_dir) if self.shared_dir is not None else None
        token = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]
        futures = {}
        for a in args:
            layout = (run_dir.name, Path(a[2]).relative_to(run_dir).as_posix())
            case = f"{a[0].name}/{a[1]}"             # SCENARIO/SEED, as in the manifest's not_run
            fut = self.submit(run_remote, a, layout, self.expected, staging, key=f"nor-case-{token}-{case}")
            futures[fut.key] = (fut, a)
        try:
            for fut in as_completed([f for f, _ in futures.values()], loop=self.client.loop):
                payload = self.result(fut)
                n = self.attempts([fut.key])[fut.key]
                a = futures[fut.key][1]
                self._note(f"{a[0].name}/{a[1]}", payload, n)
                fut.release()
                done(land_case(payload, Path(a[2])))
        except BaseException:            # Ctrl-C, SIGTERM, --fail-fast or a refused worker: nothing more runs
            self.client.cancel([f for f, _ in futures.values()], force=True)
            raise

    def result(self, fut: Any) -> Any:
        """A task's result; a worker unlike the client is :class:`ClusterRefused`, a task lost with every worker
        that tried it :class:`ClusterError`."""
        from distributed import KilledWorker

        from .cluster_task import WorkerMismatch

        try:
            return fut.result()
        except WorkerMismatch as exc:
            raise ClusterRefused("every worker that runs a task to match the client (versions, code state, "
                                 "determinism environment, numeric probe)", str(exc)) from None
        except KilledWorker as exc:
            raise ClusterError(f"cluster {self.address}: a task was lost with every worker that ran it ({exc}); "
                               "the cases finished so far are in the run directory") from None

    def _note(self, case: str, payload: Mapping[str, Any], attempts: int) -> None:
        worker = payload.get("worker", "")
        self.tasks[case] = {"worker": worker, "attempts": attempts}
        if worker and worker not in self.workers:
            self.workers[worker] = {"host": payload.get("host", ""), "pid": payload.get("pid"), "joined_late": True}

    def manifest_entry(self) -> dict[str, Any]:
        """The manifest's ``cluster``: scheduler, client and workers (CPU, versions), tasks and retries."""
        def public(info: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in info.items() if k != "pid"}

        retries = [{"case": c, "attempts": t["attempts"], "workers_lost": t["attempts"] - 1, "ran_on": t["worker"]}
                   for c, t in sorted(self.tasks.items()) if t["attempts"] > 1]
        return {"scheduler": self.address, "shared_dir": str(self.shared_dir) if self.shared_dir else None,
                "required_env": dict(DETERMINISM_ENV), "client": public(self.client_info),
                "workers": [dict(public(w), address=a) for a, w in sorted(self.workers.items())],
                "tasks": dict(sorted(self.tasks.items())), "retries": retries}


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterRefused(f"a reachable dask.distributed scheduler ({type(exc).__name__}: {exc})"[:300],
                             address) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except (TimeoutError, OSError):
        client.close()
        raise ClusterRefused(f"a scheduler with at least one worker (none joined within {CONNECT_TIMEOUT_S:g} s)",
                             address) from None
    return client


def check_workers(client: Any, expected: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every connected worker's :func:`worker_info`; :class:`ClusterRefused` naming each worker that differs."""
    addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
    futures = {a: client.submit(worker_info, key=f"nor-identity-{a}", workers=[a], allow_other_workers=False,
                                pure=False) for a in addresses}
    infos, bad = {}, []
    for a, fut in futures.items():
        try:
            infos[a] = fut.result(timeout=600)
        except Exception as exc:  # ImportError (dolphin-nor missing there), a dead worker, ...
            bad.append(f"{a}: cannot report its identity ({type(exc).__name__}: {exc})"[:300])
            continue
        diff = _differences(identity(infos[a]), expected)
        if diff:
            bad.append(f"{a} ({infos[a]['host']}): " + "; ".join(diff))
    if bad:
        raise ClusterRefused("every worker to match this client: same Python, dolphin-nor code state (the same "
                             "commit, installed with `make venv`), " + ", ".join(expected["versions"]) + " versions, "
                             "started with " + " ".join(f"{k}={v}" for k, v in DETERMINISM_ENV.items()) +
                             " (README: Runs on a cluster); nothing was run", " | ".join(bad))
    return infos


@contextlib.contextmanager
def cluster_session(address: str, shared_dir: Path | None = None,
                    echo: Callable[[str], None] = print) -> Iterator[ClusterSession]:
    """Connect, check every worker, yield the session; the client is closed on exit."""
    if shared_dir is not None and not shared_dir.is_dir():
        raise ScenarioFileError("command line", "--cluster-shared-dir",
                                "an existing directory that every worker sees at the same path", str(shared_dir))
    client_info = worker_info()
    client = _connect(address)
    try:
        session = ClusterSession(client, address, shared_dir.resolve() if shared_dir else None, client_info, {})
        session.workers = check_workers(client, session.expected)
        echo(f"cluster {address}: {len(session.workers)} workers, {session.nthreads} threads, identical to this "
             f"client (code {client_info['code_sha256'][:12]}, numeric probe {client_info['numeric_probe'][:12]})")
        yield session
    finally:
        client.close()
