"""``--cluster`` options that need no scheduler: malformed or unreachable addresses are invalid input, and
the grid split for ``nor sweep --cluster`` follows the slowest axis. The cluster runs themselves are in
tests/cluster/ (``make test-cluster``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.cli import main


def test_bad_cluster_addresses_are_invalid_input(capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--cluster", "localhost:8786"])
    assert exc.value.code == 2 and "tcp://HOST:8786" in capsys.readouterr().err
    assert main(["run", "smoke", "--cluster", "tcp://127.0.0.1:9", "--cluster-shared-dir", str(tmp_path / "no"),
                 "--out", str(tmp_path)]) == 2
    assert "--cluster-shared-dir" in capsys.readouterr().err and not list(tmp_path.iterdir())



def test_split_follows_the_slowest_axis_then_the_next() -> None:
    import itertools

    import numpy as np

    from scenarios.sweep_dask import axis_blocks, split

    points = np.array(list(itertools.product([1, 2, 3], [10, 20], [5, 6])), dtype=float)
    assert axis_blocks(points) == [4, 2, 1]
    assert split(points, 2) == [(0, 8), (8, 12)]                 # whole values of the slowest axis
    assert split(points, 3) == [(0, 4), (4, 8), (8, 12)]
    assert split(points, 4) == [(0, 4), (4, 8), (8, 10), (10, 12)]   # 3 values < 4 threads: cut along the next axis
    assert split(points[:1], 8) == [(0, 1)]
