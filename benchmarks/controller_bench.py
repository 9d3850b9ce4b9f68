"""Controller speed: µs per step through the public API, and batch throughput.

Prints median and p99 µs per ``SurvivalController.step`` with the full default layer set,
the same for a plain-Python port of the spec's seed template (4 layers), their ratio, and
batch throughput (controller-steps per second over configs × trace steps, all cores).
Targets: step median <= 5 µs (issue 2); batch >= 100 M controller-steps/s for a grid sweep on 2 cores
(issue 16). Wall time is printed beside CPU time (user+sys of all threads) and the load average: on a
shared machine, wall time is stretched by other work.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller import NOMINAL_SIGNALS, SurvivalController, apply_overrides, default_config, evaluate_batch  # noqa: E402
from seed_template_port import SeedTemplatePort  # noqa: E402

STEPS = 200_000
RANGES = ((300.0, 3000.0), (300.0, 1800.0), (10.0, 120.0), (8.0, 25.0))
"""Swept parameters: mc_forewarner half_life, exf deadband, ob.age_s half_life, drawdown sigmoid k."""


def sweep_config(base, mc_half_life: float, exf_deadband: float, ob_half_life: float, dd_k: float):
    """The default config with four parameters (in four layers) replaced."""
    return apply_overrides(base, {"layers": {
        "mc_forewarner": {"inputs": {"mc_forewarner.age_s": {"half_life": float(mc_half_life)}}},
        "exf": {"inputs": {"exf.age_s": {"deadband": float(exf_deadband)}}},
        "ob_streamer": {"inputs": {"ob.age_s": {"half_life": float(ob_half_life)}}},
        "portfolio_dd": {"inputs": {"portfolio.drawdown": {"k": float(dd_k)}}},
    }}, source="bench")


def signal_sequence(n: int, seed: int = 1) -> list[dict[str, float]]:
    """A realistic mix: mostly nominal, stretches of stale sensors, some drawdown."""
    rng = np.random.default_rng(seed)
    out = []
    mc_age = 30.0
    for i in range(n):
        s = dict(NOMINAL_SIGNALS)
        mc_age = mc_age + 1.0 if (i // 5000) % 4 == 3 else float(rng.uniform(0, 60))
        s["mc_forewarner.age_s"] = mc_age
        s["ob.latency_ms"] = float(rng.lognormal(3.7, 0.5))
        s["portfolio.drawdown"] = float(abs(rng.normal(0, 0.02)))
        out.append(s)
    return out


def time_steps(step, seq: list[dict[str, float]]) -> np.ndarray:
    clock = time.perf_counter_ns
    samples = np.empty(len(seq))
    for i, s in enumerate(seq):
        t0 = clock()
        step(float(i), s)
        samples[i] = clock() - t0
    return samples / 1000.0


def trace_day(steps: int = 86_400) -> dict[str, np.ndarray]:
    seq = signal_sequence(steps, seed=2)
    trace = {"t_s": np.arange(steps, dtype=float)}
    for name in NOMINAL_SIGNALS:
        trace[name] = np.array([s[name] for s in seq])
    return trace


def main() -> int:
    seq = signal_sequence(STEPS)
    ctl = SurvivalController(default_config())
    time_steps(ctl.step, seq[:2000])  # compile + warm
    ours = time_steps(SurvivalController(default_config()).step, seq)
    port = time_steps(SeedTemplatePort().step, seq)
    med, p99 = statistics.median(ours), float(np.percentile(ours, 99))
    pmed, pp99 = statistics.median(port), float(np.percentile(port, 99))
    n_layers = len(default_config().layers)
    print(f"step (public API, {n_layers} default layers): median {med:.2f} µs, p99 {p99:.2f} µs "
          f"[target median <= 5 µs: {'OK' if med <= 5 else 'MISSED'}]")
    print(f"seed template port (4 layers, plain Python): median {pmed:.2f} µs, p99 {pp99:.2f} µs")
    print(f"ratio ours/port: median {med / pmed:.2f}x, p99 {p99 / pp99:.2f}x")

    n_cfg = int(os.environ.get("NOR_BENCH_CONFIGS", "10000"))
    trace = trace_day()
    base = default_config()
    evaluate_batch([base], {k: v[:100] for k, v in trace.items()}, outputs="summary")  # compile
    # A grid sweep: 10 values each of four parameters in four different layers = 10,000 configs.
    grid = [sweep_config(base, *values) for values in itertools.product(*(np.linspace(lo, hi, 10) for lo, hi in RANGES))]
    configs = grid[:n_cfg]
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    result = evaluate_batch(configs, trace, outputs="summary")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = result.steps_evaluated / wall
    threads = numba.get_num_threads()
    print(f"batch, grid sweep (10 values x 4 parameters in 4 layers): {len(configs)} configs x {trace['t_s'].size} steps "
          f"(one day at 1 s) in {wall:.2f} s wall, {cpu:.2f} s CPU, on {threads} threads = {rate / 1e6:.1f} M "
          f"controller-steps/s [target >= 100 M/s: {'OK' if rate >= 100e6 else 'MISSED'}]; load average {load:.2f} "
          f"on {os.cpu_count()} cores")
    rng = np.random.default_rng(3)
    distinct = [sweep_config(base, *(rng.uniform(lo, hi) for lo, hi in RANGES)) for _ in range(max(1, n_cfg // 5))]
    t0, c0 = time.perf_counter(), time.process_time()
    worst = evaluate_batch(distinct, trace, outputs="summary")
    wall_d, cpu_d = time.perf_counter() - t0, time.process_time() - c0
    print(f"batch, every config distinct in all 4 parameters (worst case: no shared input work): {len(distinct)} configs "
          f"in {wall_d:.2f} s wall, {cpu_d:.2f} s CPU = {worst.steps_evaluated / wall_d / 1e6:.1f} M controller-steps/s "
          f"on {threads} threads")
    numba.set_num_threads(1)
    sub = configs[: max(1, n_cfg // 5)]
    t0, c0 = time.perf_counter(), time.process_time()
    single = evaluate_batch(sub, trace, outputs="summary")
    wall_1, cpu_1 = time.perf_counter() - t0, time.process_time() - c0
    rate_1 = single.steps_evaluated / wall_1
    print(f"batch, grid sweep on 1 thread: {len(sub)} configs in {wall_1:.2f} s wall, {cpu_1:.2f} s CPU = "
          f"{rate_1 / 1e6:.1f} M controller-steps/s per core; "
          f"scaling {rate / rate_1:.2f}x on {threads} threads "
          f"(load average now {os.getloadavg()[0]:.2f}: other work on the machine lowers the multi-thread figure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
