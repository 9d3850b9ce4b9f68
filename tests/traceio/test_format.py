"""The trace file format: deterministic bytes, metadata, fixed row groups, clear errors for old and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scenarios.cli import main
from traceio import (TraceFileError, TraceMeta, case_dir_name, read_meta, read_table, table_files, trace_path,
                     unit_of, write_table)
from traceio.format import ROW_GROUP_ROWS

META = TraceMeta("tiny", 3)


def _table(n: int) -> pa.Table:
    step = np.arange(n, dtype=np.int64)
    return pa.table({"t_s": step * 1.0, "step": step,
                     "posture": pa.DictionaryArray.from_arrays(step % 2, ["APEX", "TURTLE"]).cast(pa.string()),
                     "layer.scan_loop": np.ones(n), "mystery": np.full(n, 0.5)})


def test_the_same_table_gives_the_same_bytes_and_row_groups_are_fixed(tmp_path: Path) -> None:
    n = ROW_GROUP_ROWS + 10
    write_table(tmp_path / "a" / "decisions.parquet", _table(n), META)
    write_table(tmp_path / "b" / "decisions.parquet", _table(n), META)
    a, b = (tmp_path / "a" / "decisions.parquet").read_bytes(), (tmp_path / "b" / "decisions.parquet").read_bytes()
    assert a == b
    meta = pq.ParquetFile(tmp_path / "a" / "decisions.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS, 10]
    columns = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i) for i in range(5)}
    assert {c.compression for c in columns.values()} == {"ZSTD"}
    assert "BYTE_STREAM_SPLIT" in columns["t_s"].encodings and "RLE_DICTIONARY" in columns["posture"].encodings
    write_table(tmp_path / "c" / "decisions.parquet", _table(n), TraceMeta("tiny", 4))
    assert (tmp_path / "c" / "decisions.parquet").read_bytes() != a     # the seed is part of the file


def test_metadata_and_units_round_trip(tmp_path: Path) -> None:
    path = trace_path(tmp_path / case_dir_name("tiny", 3), "decisions")
    assert path.relative_to(tmp_path).as_posix() == "scenario=tiny/seed=3/decisions.parquet"
    write_table(path, _table(4), META)
    assert read_table(path, ("t_s", "posture")).equals(_table(4))
    assert read_meta(path) == {"scenario": "tiny", "seed": 3, "table": "decisions",
                               "units": {"t_s": "s", "step": "count", "posture": "text", "layer.scan_loop": "fraction",
                                         "mystery": ""}}
    assert unit_of("ob.latency_ms", pa.float64()) == "ms" and unit_of("ok", pa.bool_()) == "bool"


def test_bad_files_are_named_with_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match=r"none\.parquet: missing trace file"):
        read_table(tmp_path / "none.parquet")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(TraceFileError, match=r"dir\.parquet: expected a regular trace file, found a directory"):
        read_table(tmp_path / "dir.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 junk PAR1")
    with pytest.raises(TraceFileError, match=r"junk\.parquet: not a readable Parquet trace file \(14 bytes"):
        read_table(tmp_path / "junk.parquet")
    write_table(tmp_path / "ok.parquet", _table(2), META)
    with pytest.raises(TraceFileError, match=r"ok\.parquet: missing column\(s\) r_total; has t_s, step"):
        read_table(tmp_path / "ok.parquet", ("t_s", "r_total"))


def test_an_old_arrow_ipc_case_directory_is_named_not_misread(tmp_path: Path) -> None:
    case = tmp_path / "tiny" / "1"
    case.mkdir(parents=True)
    (case / "decisions.arrow").write_bytes(b"ARROW1")
    (case / "checks.arrow").write_bytes(b"ARROW1")
    with pytest.raises(TraceFileError, match=r"checks\.arrow: an Arrow IPC trace of an older dolphin-nor .* this "
                                             r"version reads Parquet traces"):
        table_files(case)
    with pytest.raises(TraceFileError, match=r"decisions\.arrow: an Arrow IPC trace of an older dolphin-nor"):
        read_table(case / "decisions.parquet")


def _old_run(root: Path) -> Path:
    """A run directory as the Arrow IPC versions wrote it (manifest format run/1, <scenario>/<seed>/*.arrow)."""
    run = root / "old-run"
    (run / "tiny" / "1").mkdir(parents=True)
    (run / "tiny" / "1" / "decisions.arrow").write_bytes(b"ARROW1")
    (run / "manifest.json").write_text(json.dumps({"format": "dolphin-nor.run/1", "run_id": "old-run",
                                                   "scenarios": [{"name": "tiny", "runs": [{"seed": 1,
                                                                                            "dir": "tiny/1"}]}]}))
    return run


@pytest.mark.parametrize("command", [["report"], ["replay", "tiny", "--seed", "1"], ["sweep", "--grid", "g.toml"]])
def test_commands_refuse_an_old_run_directory_with_exit_2(tmp_path: Path, capsys, command: list[str]) -> None:
    run = _old_run(tmp_path)
    (tmp_path / "g.toml").write_text('[[param]]\npath = "postures.apex.enter"\nvalues = [0.9, 0.95]\n')
    args = [command[0], str(run), *[str(tmp_path / a) if a.endswith(".toml") else a for a in command[1:]]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{run / 'manifest.json'}: format: expected 'dolphin-nor.run/2' (run/1 directories hold Arrow IPC " \
           f"traces; this version reads Parquet ones: re-run the suite)" in err, err
