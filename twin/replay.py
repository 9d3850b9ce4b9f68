"""Replay of a price file (Arrow IPC/Feather or Parquet).

Schema: a ``t_s`` float64 column (seconds from the start, strictly increasing, first value 0)
and one float64 column per asset holding positive prices (column name = asset name). Prices are
interpolated linearly in log space onto the market's step grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .errors import TwinConfigError, TwinError

__all__ = ["Replay", "load_replay", "read_price_table", "SAMPLE_NAME"]


_MAX_STEPS = 20_000_000
SAMPLE_NAME = "sample"
"""``replay_path = "sample"`` names the bundled ``twin/data/sample_prices.arrow``."""


def resolve(path: str) -> Path:
    if path == SAMPLE_NAME:
        return Path(__file__).parent / "data" / "sample_prices.arrow"
    return Path(path)


def read_price_table(path: str) -> pa.Table:
    """The table in ``path`` (``.parquet`` or Arrow IPC file/stream); raises TwinConfigError."""
    p = resolve(path)
    if not p.is_file():
        raise TwinConfigError(path, "market.replay_path", "an existing Arrow IPC or Parquet file")
    try:
        if p.suffix == ".parquet":
            return pq.read_table(p)
        try:
            with ipc.open_file(p) as reader:
                return reader.read_all()
        except pa.ArrowInvalid:
            with ipc.open_stream(p) as reader:
                return reader.read_all()
    except (pa.ArrowException, OSError) as exc:
        raise TwinConfigError(path, "<file>", "an Arrow IPC or Parquet file", str(exc)[:80]) from None


class Replay:
    """Log prices on a step grid, read from a price table."""

    def __init__(self, path: str, table: pa.Table, step_s: float) -> None:
        self.path = path
        names = table.column_names
        if "t_s" not in names:
            raise TwinConfigError(path, "t_s", "a float64 column of seconds")
        self.assets = tuple(n for n in names if n != "t_s")
        if len(self.assets) < 2:
            raise TwinConfigError(path, "<columns>", "at least two asset price columns besides t_s")
        t = _float_column(table, "t_s", path)
        if t[0] != 0.0 or not np.all(np.diff(t) > 0):
            raise TwinConfigError(path, "t_s", "strictly increasing seconds starting at 0")
        prices = np.column_stack([_float_column(table, a, path) for a in self.assets])
        if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
            bad = self.assets[int(np.argwhere(~(prices > 0) | ~np.isfinite(prices))[0][1])]
            raise TwinConfigError(path, bad, "finite positive prices")
        self.span_s = float(t[-1])
        steps = int(self.span_s / step_s + 1e-9) + 1
        if steps > _MAX_STEPS:
            raise TwinConfigError(path, "t_s", f"a span of at most {_MAX_STEPS} market steps", f"{steps} steps")
        grid = np.arange(steps) * step_s
        logp = np.log(prices)
        self._grid = np.column_stack([np.interp(grid, t, logp[:, i]) for i in range(len(self.assets))])
        self.step_s = step_s

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def rows(self, s0: int, count: int) -> np.ndarray:
        if s0 + count > len(self._grid):
            have = len(self._grid)
            if s0 >= have:
                raise TwinError(f"{self.path}: replay covers {self.span_s:g} s; the run went past its end")
            pad = np.repeat(self._grid[-1:], s0 + count - have, axis=0)
            return np.concatenate([self._grid[s0:], pad])
        return self._grid[s0:s0 + count]


def _float_column(table: pa.Table, name: str, path: str) -> np.ndarray:
    col = table.column(name)
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise TwinConfigError(path, name, "a float64 column", str(col.type))
    if col.null_count:
        raise TwinConfigError(path, name, "no null values")
    return col.to_numpy().astype(np.float64)


def load_replay(path: str, step_s: float) -> Replay:
    return Replay(path, read_price_table(path), step_s)
