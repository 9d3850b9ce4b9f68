"""Suite workers run with one BLAS thread each (set before numpy loads in them); the caller's environment is
left as it was."""

from __future__ import annotations

import os

from scenarios.runner import WORKER_ENV, _pool


def test_workers_get_one_blas_thread_and_the_parent_env_is_untouched() -> None:
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    with _pool(1) as pool:
        seen = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
    assert seen == (before if before is not None else WORKER_ENV["OPENBLAS_NUM_THREADS"]) == (before or "1")
    assert os.environ.get("OPENBLAS_NUM_THREADS") == before
