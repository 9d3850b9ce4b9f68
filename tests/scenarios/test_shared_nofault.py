"""Cases of a suite whose ``nofault`` companion comes from the same world (same world config, controller config and
seed) share one simulation of it, read at each duration: each case's files are byte for byte those of a case that ran
its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from scenarios import load_scenarios
from scenarios.case import nofault_tables, run_case
from scenarios.cli import DEFAULT_SUITE
from scenarios.runner import _job, _run_pooled
from traceio import case_dir_name


class _CountingPool(ThreadPoolExecutor):
    """A real executor that remembers what it was asked to run."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.calls: list[str] = []

    def submit(self, fn, /, *args, **kwargs):
        self.calls.append(fn.__name__)
        return super().submit(fn, *args, **kwargs)


def _files(case_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(case_dir)): p.read_bytes() for p in sorted(case_dir.rglob("*.parquet"))}


def test_cases_with_the_same_nofault_run_share_it_and_write_the_same_bytes(tmp_path: Path) -> None:
    suite = {s.name: s for s in load_scenarios([DEFAULT_SUITE])}
    short = [replace(suite[n], duration_s=d, companions=("nofault",), seeds=(1,))
             for n, d in (("clock_skew", 1200.0), ("data_corruption", 900.0), ("exchange_outage", 900.0))]
    short.append(replace(short[1], name="shorter", duration_s=600.0))      # the same world, read at 10 min
    cases = [(s, 1) for s in short] + [(short[0], 2)]                      # another seed: a world of its own
    args = [(s, seed, str(tmp_path / "suite" / case_dir_name(s.name, seed)), case_dir_name(s.name, seed),
             ("nofault",)) for s, seed in cases]
    results = []
    with _CountingPool() as pool:
        _run_pooled(pool, args, 2, results.append)
    assert pool.calls.count(nofault_tables.__name__) == 1 and pool.calls.count(_job.__name__) == 5
    assert sorted(r.dir for r in results) == sorted(a[3] for a in args)
    by_dir = {a[3]: (a[0], a[1]) for a in args}
    for r in results:
        s, seed = by_dir[r.dir]
        alone = run_case(s, seed, tmp_path / "alone" / r.dir, r.dir, ("nofault",))
        assert (r.verdict, r.trace_sha256) == (alone.verdict, alone.trace_sha256)
        assert [c.check for c in r.checks] == [c.check for c in alone.checks]
        assert [(c.ok, c.message) for c in r.checks] == [(c.ok, c.message) for c in alone.checks]
        shared_files, own_files = _files(tmp_path / "suite" / r.dir), _files(tmp_path / "alone" / r.dir)
        assert any(k.startswith("companions/nofault/") for k in own_files)
        assert shared_files == own_files, f"{r.scenario}: files differ with a shared nofault run"
