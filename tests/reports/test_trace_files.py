"""A real run's trace files open offline in pyarrow.dataset, polars and DuckDB (Hive partitions
``scenario=…/seed=…``), with the same rows, and carry their scenario, seed and units as metadata."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pytest

from traceio import read_meta, read_table, trace_path

COLUMNS = ("scenario", "seed", "step", "t_s", "r_total", "posture")


def _rows(records) -> list[tuple]:
    """Sorted (scenario, seed, step, t_s, r_total, posture) tuples, seeds as plain ints."""
    return sorted((str(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), str(r[5])) for r in records)


@pytest.fixture(scope="module")
def expected(run_dir: Path) -> list[tuple]:
    """What the manifest's cases hold, read file by file."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rows = []
    for s in manifest["scenarios"]:
        for r in s["runs"]:
            t = read_table(trace_path(run_dir / r["dir"], "decisions")).to_pydict()
            rows += [(s["name"], r["seed"], *v) for v in zip(t["step"], t["t_s"], t["r_total"], t["posture"])]
    assert {(s, n) for s, n, *_ in rows} == {(s["name"], r["seed"]) for s in manifest["scenarios"] for r in s["runs"]}
    return _rows(rows)


def test_pyarrow_dataset_reads_the_hive_partitions(run_dir: Path, expected: list[tuple]) -> None:
    files = sorted(str(p) for p in run_dir.glob("*/*/decisions.parquet"))
    table = ds.dataset(files, format="parquet", partitioning=ds.partitioning(flavor="hive"),
                       partition_base_dir=str(run_dir)).to_table(columns=list(COLUMNS))
    assert _rows(zip(*(table.column(c).to_pylist() for c in COLUMNS))) == expected


def test_polars_scans_the_hive_partitions(run_dir: Path, expected: list[tuple]) -> None:
    frame = pl.scan_parquet(str(run_dir / "*" / "*" / "decisions.parquet"), hive_partitioning=True) \
        .select(COLUMNS).collect()
    assert _rows(frame.iter_rows()) == expected


def test_duckdb_reads_the_hive_partitions_without_any_extension_download(run_dir: Path,
                                                                         expected: list[tuple]) -> None:
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    glob = str(run_dir / "*" / "*" / "decisions.parquet")
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM read_parquet(?, hive_partitioning = true)",
                       [glob]).fetchall()
    assert _rows(rows) == expected
    installed = con.execute("SELECT extension_name FROM duckdb_extensions() WHERE installed AND NOT "
                            "(install_mode = 'STATICALLY_LINKED')").fetchall()
    assert installed == [], installed


def test_every_file_names_its_scenario_seed_and_column_units(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    s, r = manifest["scenarios"][0], manifest["scenarios"][0]["runs"][1]
    for path in sorted((run_dir / r["dir"]).rglob("*.parquet")):
        meta = read_meta(path)
        assert (meta["scenario"], meta["seed"]) == (s["name"], r["seed"]), path
        assert meta["table"] == path.stem
        columns = read_table(path).column_names
        assert list(meta["units"]) == columns
        assert all(meta["units"].values()), f"{path}: columns without a unit: " \
                                            f"{[c for c, u in meta['units'].items() if not u]}"
    path = trace_path(run_dir / r["dir"], "signals_observed")
    units = read_meta(path)["units"]
    assert units["t_s"] == "s" and units["ob.latency_ms"] == "ms" and units["hz.quorum"] == "flag 1/0"
    polars_meta = pl.read_parquet_metadata(path)
    duck_meta = dict(duckdb.connect().execute("SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)",
                                              [str(path)]).fetchall())
    for other in (polars_meta, duck_meta):
        assert other["nor.scenario"] == s["name"] and other["nor.seed"] == str(r["seed"])
        assert json.loads(other["units"]) == units
