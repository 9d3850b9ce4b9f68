"""The trace file format: where a case's tables live, how they are written, read and listed.

Every trace table is one Parquet file (zstd), in a Hive-style layout that pyarrow.dataset, polars and DuckDB
read with no extension or download::

    <run>/scenario=<name>/seed=<n>/<table>.parquet            the case's own trace, checks.parquet
    <run>/scenario=<name>/seed=<n>/companions/<name>/<table>.parquet

Writing is deterministic (same table, same metadata -> same bytes, in any process): fixed row-group and page
sizes, fixed compression level, encodings fixed by the schema alone (dictionary for text columns,
BYTE_STREAM_SPLIT for floats: a 6 h case is ~1.0 MB against 1.5 MB as zstd Arrow IPC), and no timestamps
(Parquet's ``created_by`` names the pinned pyarrow version only). Each file's schema metadata carries
``nor.scenario``, ``nor.seed``, ``nor.table`` and ``units`` (JSON: column -> unit). Not the run id: two runs
of the same case (another run, a ``--resume``, another executor) must write the same bytes; the run id is
in ``manifest.json`` beside them.

Run directories written before this format (Arrow IPC ``<table>.arrow`` files) are not read: every reader
names the ``.arrow`` file found and says what is expected instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from .units import units_of

__all__ = ["SUFFIX", "LEGACY_SUFFIX", "TraceMeta", "TraceFileError", "case_dir_name", "trace_path", "write_table",
           "read_table", "read_meta", "table_files"]

SUFFIX = ".parquet"
LEGACY_SUFFIX = ".arrow"
ROW_GROUP_ROWS = 65_536
_WRITE_OPTIONS = dict(row_group_size=ROW_GROUP_ROWS, version="2.6", compression="zstd",
                      compression_level=3, write_statistics=True, data_page_size=1 << 20,
                      dictionary_pagesize_limit=1 << 20, data_page_version="1.0",
                      store_schema=True, write_page_index=False, write_page_checksum=False,
                      use_content_defined_chunking=False)


class TraceFileError(Exception):
    """A trace file is missing, unreadable, of the old format, or lacks a column: names the file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


@dataclass(frozen=True)
class TraceMeta:
    """What every trace file of a case says about itself (its schema metadata)."""

    scenario: str
    seed: int


def case_dir_name(scenario: str, seed: int) -> str:
    """A case's directory relative to its run: ``scenario=<name>/seed=<n>`` (Hive-style partitions)."""
    return f"scenario={scenario}/seed={seed}"


def trace_path(directory: Path, table: str) -> Path:
    """``<directory>/<table>.parquet``."""
    return Path(directory) / f"{table}{SUFFIX}"


def write_table(path: Path, table: pa.Table, meta: TraceMeta) -> None:
    """Write ``table`` to ``path`` (parents made) with ``meta`` and the columns' units as schema metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"nor.scenario": meta.scenario, "nor.seed": str(meta.seed),
                "nor.table": path.stem,
                "units": json.dumps(units_of(table.schema), separators=(",", ":"))}
    text = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
    pq.write_table(table.replace_schema_metadata(metadata), str(path), use_dictionary=text,
                   use_byte_stream_split=floats, **_WRITE_OPTIONS)


def _legacy_error(path: Path) -> TraceFileError | None:
    """The error for a case directory of the old format, if ``path``'s ``.arrow`` sibling exists."""
    old = path.with_suffix(LEGACY_SUFFIX)
    if old.is_file():
        return TraceFileError(old, f"an Arrow IPC trace of an older dolphin-nor (run format dolphin-nor.run/1); "
                                   f"this version reads Parquet traces ({path.name} in a scenario=<name>/seed=<n> "
                                   f"directory): re-run the case with this version")
    return None


def read_table(path: Path, columns: tuple[str, ...] = ()) -> pa.Table:
    """Read one trace file (the whole table) and check that ``columns`` exist; raises :class:`TraceFileError`."""
    path = Path(path)
    if not path.is_file():
        raise _legacy_error(path) or TraceFileError(path, "missing trace file" if not path.exists() else
                                                    "expected a regular trace file, found a directory or device")
    try:
        table = pq.ParquetFile(str(path)).read(use_threads=False)
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        size = path.stat().st_size
        raise TraceFileError(path, f"not a readable Parquet trace file ({size} bytes; truncated or corrupt?): "
                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise TraceFileError(path, f"missing column(s) {', '.join(missing)}; has {', '.join(table.column_names)}")
    return table


def read_meta(path: Path) -> dict[str, object]:
    """A trace file's own metadata: scenario, seed, table and units (column -> unit)."""
    try:
        raw: Mapping[bytes, bytes] = pq.read_schema(str(path)).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise TraceFileError(Path(path), f"not a readable Parquet trace file: {exc}") from None
    text = {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}
    return {"scenario": text.get("nor.scenario", ""),
            "seed": int(text["nor.seed"]) if text.get("nor.seed", "").isdigit() else None,
            "table": text.get("nor.table", ""), "units": json.loads(text.get("units", "{}"))}


def table_files(directory: Path) -> list[Path]:
    """The trace files directly in ``directory`` (not companions), in name order; a directory holding only
    old-format ``.arrow`` traces raises :class:`TraceFileError` naming one."""
    directory = Path(directory)
    files = sorted((p for p in directory.glob(f"*{SUFFIX}")), key=lambda q: q.name)
    if not files:
        legacy = sorted(directory.glob(f"*{LEGACY_SUFFIX}"), key=lambda q: q.name)
        if legacy:
            raise _legacy_error(legacy[0].with_suffix(SUFFIX))  # type: ignore[misc]
    return files
