"""Wall and CPU time of `nor promote` on a default-suite run, by stage (hashes, re-judged checks, replay sample).

    .venv/bin/python benchmarks/promote_bench.py RUN_DIR CONFIG   # a default-suite run of CONFIG (nor run --controller)
    .venv/bin/python benchmarks/promote_bench.py                  # runs the default suite first (~4 min on 2 cores)

Signs with a throwaway key in a temporary directory; the record goes there too. The evidence must come from a
clean git tree with the code running now (else the refusal is printed). Target: <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from controller import default_config, dump_config
from scenarios import load_scenarios
from scenarios.cli import DEFAULT_SUITE
from scenarios.codestate import code_state
from scenarios.promotion import PromotionError, promote
from scenarios.runner import RunOptions, run_suite
from scenarios.signing import init_key

TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("config", type=Path, nargs="?")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promote-bench-") as tmp:
        run_dir, config = args.run_dir, args.config
        if run_dir is None or config is None:
            config = Path(tmp) / "my.toml"
            config.write_text(dump_config(default_config()), encoding="utf-8")
            scenarios = load_scenarios([DEFAULT_SUITE], controller=str(config))
            before, load_s, t_s = os.times(), os.getloadavg()[0], time.perf_counter()
            run_dir = run_suite(scenarios, RunOptions(out=Path(tmp) / "runs", progress=False, report=False,
                                                      controller=str(config)), echo=lambda _line: None).run_dir
            after = os.times()
            cpu_s = sum(after[i] - before[i] for i in range(4))  # this process and its workers, user + sys
            print(f"the evidence (default suite, {len(scenarios)} scenarios, companions on, all cores): "
                  f"{time.perf_counter() - t_s:.1f} s wall, {cpu_s:.1f} CPU-s; load average {load_s:.1f} at the "
                  f"start, {os.getloadavg()[0]:.1f} at the end (suite target <= 300 s: benchmarks/suite_bench.py)")
        key = init_key({"XDG_CONFIG_HOME": tmp})[0]
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        try:
            result = promote(config, run_dir, key=key, code=code_state(), now_utc="bench", code_version="bench",
                             records_dir=Path(tmp) / "records", sample_seed=1)
        except PromotionError as exc:
            print(f"promotion refused: {exc}")
            return 1
        wall, load1 = time.perf_counter() - t0, os.getloadavg()[0]
    t = result.timings
    cpu = t["cpu_s"]
    print(f"nor promote {run_dir}: {result.cases} cases re-judged, {result.replayed} replayed; cores={os.cpu_count()}, "
          f"load average {load0:.1f} at the start, {load1:.1f} at the end")
    print(f"wall {wall:.1f} s (hashes {t['hash_s']:.1f} s, replay sample {t['replay_s']:.1f} s while the other cases' "
          f"checks took {t['rejudge_s']:.1f} s); "
          f"CPU {cpu:.1f} s, this process {t['own_cpu_s']:.1f} s and the replayed cases {cpu - t['own_cpu_s']:.1f} s "
          f"({cpu / wall:.2f} cores busy; on {os.cpu_count()} "
          f"otherwise idle cores at least {cpu / (os.cpu_count() or 1):.1f} s)")
    print(f"target <= {TARGET_S:.0f} s on 2 cores: {'met' if wall <= TARGET_S else 'MISSED'} "
          f"({wall / TARGET_S:.2f} of the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
