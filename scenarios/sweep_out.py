"""``nor sweep`` outputs: ``sweep.parquet`` (one row per config), ``sweep_cases.parquet`` (config × case),
``sweep.html`` (the tax vs protection Pareto front, offline, script-free inline SVG) and the top K configs
as controller TOML files."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from controller import ControllerConfig, dump_config

from .sweep import SweepResult, feasible, pareto
from .sweep_grid import Grid

__all__ = ["SweepRun", "rank", "write_outputs"]


@dataclass(frozen=True)
class SweepRun:
    run_dir: Path
    grid: Grid
    configs: Sequence[ControllerConfig]
    points: np.ndarray
    result: SweepResult
    wall_s: float


def rank(run: SweepRun, top: int) -> tuple[np.ndarray, np.ndarray]:
    """(the Pareto front, the top ``top`` configs): the front by increasing tax, then other feasible configs."""
    cols = run.result.columns
    ok = feasible(cols, run.grid.metrics)
    front = pareto(cols["tax_mean"], cols["protection_depth"], ok)
    rest = np.flatnonzero(ok & ~np.isin(np.arange(ok.size), front))
    rest = rest[np.lexsort((-cols["protection_depth"][rest], cols["tax_mean"][rest]))]
    return front, np.concatenate([front, rest])[:top]


def _table(run: SweepRun, front: np.ndarray) -> pa.Table:
    cols = run.result.columns
    n = len(run.configs)
    data: dict[str, pa.Array] = {"config": pa.array(np.arange(n)),
                                 "config_id": pa.array([c.config_id for c in run.configs])}
    for j, path in enumerate(run.grid.paths):
        data[path] = pa.array(run.points[:, j]) if run.points.size else pa.array(np.zeros(n))
    for key, v in cols.items():
        data[key] = pa.array(v)
    data["feasible"] = pa.array(feasible(cols, run.grid.metrics))
    data["pareto"] = pa.array(np.isin(np.arange(n), front))
    meta = {"run_dir": str(run.run_dir), "grid": run.grid.file, "react_below": str(run.grid.metrics.react_below),
            "units": "tax_mean, protection_depth: fraction of r_total; react_s_mean: s; switches_per_hour: 1/h"}
    return pa.table(data).replace_schema_metadata(meta)


def _svg(run: SweepRun, front: np.ndarray) -> str:
    cols = run.result.columns
    x, y = cols["tax_mean"], cols["protection_depth"]
    ok = feasible(cols, run.grid.metrics)
    w, h, pad = 640, 420, 50
    x_hi = max(float(x.max()) if x.size else 0.0, 1e-6) * 1.05
    y_hi = max(float(y.max()) if y.size else 0.0, 1e-6) * 1.05

    def px(v: float) -> float:
        return pad + (w - 2 * pad) * v / x_hi

    def py(v: float) -> float:
        return h - pad - (h - 2 * pad) * v / y_hi

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">',
             f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#999"/>',
             f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle" font-size="12">tax: mean 1 − r_total '
             f'without faults (0 … {x_hi:.3g})</text>',
             f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle" font-size="12">'
             f'protection: mean 1 − min r_total in fault windows (0 … {y_hi:.3g})</text>']
    step = max(1, x.size // 5000)       # at most ~5,000 background points keep the page small
    for i in range(0, x.size, step):
        colour = "#90a4ae" if ok[i] else "#ef9a9a"
        parts.append(f'<circle cx="{px(x[i]):.1f}" cy="{py(y[i]):.1f}" r="1.6" fill="{colour}"/>')
    pts = " ".join(f"{px(x[i]):.1f},{py(y[i]):.1f}" for i in front)
    if pts:
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#2e7d32" stroke-width="2"/>')
    for i in front:
        parts.append(f'<circle cx="{px(x[i]):.1f}" cy="{py(y[i]):.1f}" r="3.5" fill="#2e7d32">'
                     f'<title>config {i}</title></circle>')
    parts.append("</svg>")
    return "\n".join(parts)


def _html(run: SweepRun, front: np.ndarray, top: np.ndarray) -> str:
    cols = run.result.columns
    head = "".join(f"<th>{html.escape(p)}</th>" for p in run.grid.paths)
    names = ("tax_mean", "tax_out_of_apex_frac", "protection_depth", "react_s_mean", "misses", "invariant_misses",
             "switches_per_hour", "worst_hour_switches")
    head += "".join(f"<th>{n}</th>" for n in names)
    rows = []
    for rank_no, i in enumerate(top, start=1):
        cells = "".join(f"<td>{v:g}</td>" for v in run.points[i]) if run.points.size else ""
        cells += "".join(f"<td>{float(cols[n][i]):.4g}</td>" for n in names)
        rows.append(f"<tr><td>{rank_no}</td><td>{i}</td><td><code>{run.configs[i].config_id[:12]}</code></td>{cells}</tr>")
    m = run.grid.metrics
    n_ok = int(feasible(cols, m).sum())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>nor sweep</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd;font-size:13px}}</style>
</head><body><h1>Sweep of {html.escape(str(run.run_dir))}</h1>
<p>{len(run.configs)} configs from {html.escape(run.grid.file)}, open loop over the run's recorded signals
({run.result.steps:,} controller steps, {run.wall_s:.1f} s). Feasible (no misses, no invariant miss,
at most {m.max_switches_per_hour} posture switches in any hour): {n_ok}. Pareto front: {len(front)} configs
(green); red points miss a required reaction or chatter.</p>
{_svg(run, front)}
<h2>Top {len(top)}</h2><table><tr><th>rank</th><th>config</th><th>config id</th>{head}</tr>
{''.join(rows)}</table>
<p>Open loop: replaying recorded signals cannot show feedback through drawdown, orders and fills; run
<code>nor sweep … --validate</code> to run the top configs through the twin.</p></body></html>
"""


def write_outputs(run: SweepRun, out: Path, top: int) -> tuple[np.ndarray, list[Path]]:
    """Write every output under ``out``; returns the top configs and their TOML files."""
    out.mkdir(parents=True, exist_ok=True)
    front, best = rank(run, top)
    pq.write_table(_table(run, front), out / "sweep.parquet", compression="zstd")
    pc = run.result.per_case
    pq.write_table(pa.table({"case": pa.array(list(pc["case"]), type=pa.string()), "config": pa.array(pc["config"]),
                             "tax": pa.array(pc["tax"]), "protection_depth": pa.array(pc["depth"]),
                             "misses": pa.array(pc["misses"]), "switches": pa.array(pc["switches"])}),
                   out / "sweep_cases.parquet", compression="zstd")
    (out / "sweep.html").write_text(_html(run, front, best), encoding="utf-8")
    files = []
    for rank_no, i in enumerate(best, start=1):
        path = out / f"top{rank_no:02d}_config{i}.toml"
        path.write_text(dump_config(run.configs[i]) + "\n", encoding="utf-8")
        files.append(path)
    return best, files


def timed(fn, *args):
    """``fn(*args)`` and its wall seconds (perf counter: measuring, not deciding)."""
    t0 = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t0

