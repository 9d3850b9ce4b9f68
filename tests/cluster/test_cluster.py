"""``nor run --cluster``: the same cases on the local process pool and on a real ``distributed.LocalCluster``
(2 worker processes, started like ``dask worker`` with the determinism environment) give byte-identical case
directories; a worker killed mid-task is survived (the task is retried, the manifest says so, the bytes
are unchanged); workers unlike the client are refused before anything runs; a file altered in transit
makes the case ERROR. One cluster for the module; short cases.

Run by `make test-cluster` (in `.ci/run` after `make test`): the cold numba compile of the workers' generic
build alone takes minutes, over `make test`'s 10-minute budget. The cheap option checks are in
tests/scenarios/test_cluster_options.py."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import distributed
import pytest

from scenarios.cli import main
from scenarios.cluster import ClusterRefused, check_workers, cluster_session, land_case
from scenarios.cluster_task import DETERMINISM_ENV, identity, run_remote, worker_info
from scenarios.loader import load_scenarios
from scenarios.runner import RunOptions, run_suite

SHORT = """name = "cl_short"
duration = "12m"
seeds = [3]
companions = ["nofault"]
[liveness]
enabled = false
[[fault]]
kind = "sensor_stale"
target = "mc_forewarner"
at = "3m"
for = "4m"
"""
LONG = """name = "cl_long"
duration = "6h"             # long enough (~4 s) to be killed mid-task on a quiet machine
seeds = [1]
companions = []
[liveness]
within = "20m"
[[fault]]
kind = "node_loss"
target = "hz1"
at = "5m"
for = "2m"
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> list:
    d = tmp_path_factory.mktemp("suite")
    (d / "cl_short.toml").write_text(SHORT, encoding="utf-8")
    (d / "cl_long.toml").write_text(LONG, encoding="utf-8")
    return load_scenarios([d])


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes (one thread each) behind nannies, as `dask worker` would start them."""
    saved = dict(os.environ)
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=dict(DETERMINISM_ENV), silence_logs=50)
    try:
        yield lc
    finally:
        lc.close()
        os.environ.clear()               # the nannies set their pre-spawn environment in this process
        os.environ.update(saved)


def _files(run_dir: Path) -> dict[str, bytes]:
    skip = {"manifest.json", "junit.xml", "summary.md", "metrics.json", "report.html"}
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name not in skip}


def _opts(out: Path, **kw) -> RunOptions:
    return RunOptions(out=out, progress=False, report=False, **kw)


@pytest.fixture(scope="module")
def pool_run(suite, tmp_path_factory):
    return run_suite(suite, _opts(tmp_path_factory.mktemp("pool"), jobs=2), echo=lambda _: None)


def test_pool_and_cluster_give_byte_identical_cases(suite, cluster, pool_run, tmp_path: Path) -> None:
    result = run_suite(suite, _opts(tmp_path, cluster=cluster.scheduler_address), echo=lambda _: None)
    want = _files(pool_run.run_dir)
    assert any("/companions/nofault/" in k for k in want) and len(want) > 10
    assert _files(result.run_dir) == want
    assert sorted(r.verdict for r in result.results) == ["PASS", "PASS"]
    entry = result.manifest["cluster"]
    assert entry["scheduler"] == cluster.scheduler_address and entry["retries"] == [] and entry["shared_dir"] is None
    assert len(entry["workers"]) == 2 and all(w["cpu"]["model"] and w["versions"]["numba"] == "0.68.1"
                                              and w["env"] == DETERMINISM_ENV for w in entry["workers"])
    assert set(entry["tasks"]) == {"cl_short/3", "cl_long/1"}
    assert result.manifest["timings"]["jobs"] == 2


def test_a_worker_killed_mid_task_is_retried_and_noted(suite, cluster, pool_run, tmp_path: Path) -> None:
    """In --cluster-shared-dir mode: the workers write the cases to a shared directory, not through the scheduler."""
    shared = tmp_path / "shared"
    shared.mkdir()
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    killed: list[str] = []

    def kill_when_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for addr, keys in client.processing().items():
                if any("cl_long" in str(k) for k in keys):
                    time.sleep(0.5)                              # mid-task
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(addr)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_when_running, daemon=True)
    watcher.start()
    try:
        result = run_suite(suite, _opts(tmp_path / "run", cluster=cluster.scheduler_address,
                                        cluster_shared_dir=shared), echo=lambda _: None)
    finally:
        watcher.join(5)
    assert killed, "the watcher never saw the long case running"
    retries = result.manifest["cluster"]["retries"]
    assert [r["case"] for r in retries] == ["cl_long/1"] and retries[0]["attempts"] >= 2
    assert retries[0]["ran_on"] != killed[0]
    assert _files(result.run_dir) == _files(pool_run.run_dir)
    assert result.manifest["cluster"]["shared_dir"] == str(shared.resolve())
    assert not [p for p in shared.rglob("*") if p.is_file()]       # staged files were moved in, none left
    client.wait_for_workers(2, timeout=60)
    client.close()


def test_workers_unlike_the_client_are_refused_before_anything_runs(cluster, tmp_path: Path) -> None:
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        expected = dict(identity(worker_info()), env=dict(DETERMINISM_ENV))
        assert len(check_workers(client, expected)) == 2               # the real workers match
        other = dict(expected, versions=dict(expected["versions"], numpy="0.0.1"),
                     env=dict(expected["env"], NUMBA_CPU_NAME=""))
        with pytest.raises(ClusterRefused) as info:
            check_workers(client, other)
    text = str(info.value)
    assert "--cluster" in text and "numpy '2." in text and "NUMBA_CPU_NAME 'generic'" in text
    assert "nothing was run" in text and text.count("tcp://") == 2


def test_a_file_altered_in_transit_makes_the_case_error(suite, cluster, tmp_path: Path) -> None:
    short = next(s for s in suite if s.name == "cl_short")
    with cluster_session(cluster.scheduler_address, echo=lambda _: None) as session:
        job = (short, 3, str(tmp_path / "w" / "cl_short" / "3"), "cl_short/3", ())
        payload = session.submit(run_remote, job, ("w", "cl_short/3"), session.expected, None,
                                 key="nor-test-transit").result()
    good = land_case(payload, tmp_path / "good")
    assert good.verdict == "PASS"
    rel, sha, data = payload["files"][0]
    payload["files"][0] = (rel, sha, data[:-1] + bytes([data[-1] ^ 1]))
    bad = land_case(payload, tmp_path / "bad")
    assert bad.verdict == "ERROR" and rel in bad.error and "sha256" in bad.error
    assert rel in (tmp_path / "bad" / "error.txt").read_text(encoding="utf-8")


GRID = """
[[param]]
path = "layers.mc_forewarner.inputs.mc_forewarner.age_s.deadband"
values = [90.0, 600.0, 3600.0]
[[param]]
path = "postures.apex.enter"
range = [0.9, 0.92, 2]
"""


def test_sweep_on_the_cluster_equals_the_local_sweep(cluster, pool_run, tmp_path: Path, capsys) -> None:
    import numpy as np

    from scenarios.sweep_cli import run_sweep

    grid = tmp_path / "grid.toml"
    grid.write_text(GRID, encoding="utf-8")
    local = run_sweep(pool_run.run_dir, grid)
    remote = run_sweep(pool_run.run_dir, grid, cluster.scheduler_address)
    assert "2 tasks on tcp://" in capsys.readouterr().out
    assert local.result.columns.keys() == remote.result.columns.keys() and local.result.steps == remote.result.steps
    for k, v in local.result.columns.items():
        np.testing.assert_array_equal(remote.result.columns[k], v, err_msg=k)
    for k, v in local.result.per_case.items():
        np.testing.assert_array_equal(remote.result.per_case[k], v, err_msg=k)


def test_explore_on_the_cluster_finds_what_the_local_search_finds(cluster, tmp_path: Path) -> None:
    from controller import apply_overrides, default_config, dump_config
    from scenarios.explore import explore

    slow = apply_overrides(default_config(), {"name": "slow-integrity",
                                              "layers": {"data_integrity": {"recovery_per_min": 1e-6}}}, "test")
    path = tmp_path / "slow.toml"
    path.write_text(dump_config(slow), encoding="utf-8")
    said: list[str] = []
    kw = dict(budget=3, seed=0, horizon_s=300.0, tail_s=300.0, kinds=["data_corruption"])
    local = explore(str(path), out=tmp_path / "a", echo=lambda _: None, **kw)
    remote = explore(str(path), out=tmp_path / "b", echo=said.append, cluster=cluster.scheduler_address, **kw)
    assert local.found and remote.found
    assert (remote.seed, remote.faults, remote.failure, remote.evaluations) == \
        (local.seed, local.faults, local.failure, local.evaluations)
    assert any("schedules evaluated in parallel" in s for s in said)
    used = next(s for s in said if "schedules searched ran on the cluster" in s)
    assert int(used.split()[0]) >= 1, said
    assert remote.path.read_text(encoding="utf-8") == local.path.read_text(encoding="utf-8").replace(
        str(tmp_path / "a"), str(tmp_path / "b"))
