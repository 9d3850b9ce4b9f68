"""Generate ``sample_prices.arrow``: a small replayable price file (50 assets, 2 h at 5 s).

Schema (Arrow IPC file, zstd-compressed): ``t_s`` float64 (seconds from 0, strictly increasing),
then one float64 column of positive prices per asset, named ``A00`` … ``A49``.
Run: ``python -m twin.data.make_sample [out_path]``. Deterministic (fixed seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["make_sample", "SAMPLE_PATH"]

SAMPLE_PATH = Path(__file__).with_name("sample_prices.arrow")


def make_sample(path: Path = SAMPLE_PATH, assets: int = 50, span_s: float = 7200.0, step_s: float = 5.0,
                seed: int = 20240601) -> Path:
    """Write a one-factor market with a sell-off in the second hour; returns the path."""
    rng = np.random.default_rng(seed)
    rows = int(span_s / step_s) + 1
    t = np.arange(rows) * step_s
    vol = 0.6 / np.sqrt(365 * 86400 / step_s) * rng.uniform(0.7, 1.5, assets)
    beta = rng.uniform(0.7, 1.3, assets)
    rho = np.where((t > 4200) & (t < 5400), 0.8, 0.3)[1:, None]
    market = rng.standard_normal(rows - 1)[:, None] * beta[None, :]
    noise = rng.standard_normal((rows - 1, assets))
    drift = np.where((t > 4200) & (t < 5400), -0.05, 0.0)[1:, None]
    rets = (np.sqrt(rho) * market + np.sqrt(1 - rho) * noise + drift) * vol[None, :]
    logp = np.vstack([np.zeros(assets), np.cumsum(rets, axis=0)]) + np.log(rng.uniform(5, 500, assets))
    prices = np.round(np.exp(logp), 6)
    table = pa.table({"t_s": t, **{f"A{i:02d}": prices[:, i] for i in range(assets)}})
    options = ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return path


if __name__ == "__main__":
    out = make_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_PATH)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
