"""The trace file format (Parquet, Hive-style ``scenario=<name>/seed=<n>`` case directories): the one place
that writes, reads and lists trace files. Imports no other project package, so the twin, the scenarios, the
reports and the adapters all use it."""

from .format import (LEGACY_SUFFIX, SUFFIX, TraceFileError, TraceMeta, case_dir_name, read_meta,
                     read_table, table_files, trace_path, write_table)
from .units import unit_of, units_of

__all__ = ["SUFFIX", "LEGACY_SUFFIX", "TraceMeta", "TraceFileError", "case_dir_name", "trace_path", "write_table",
           "read_table", "read_meta", "table_files", "unit_of", "units_of"]
