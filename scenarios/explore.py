"""``nor explore``: search random fault schedules with Hypothesis for safety or liveness violations,
shrink the first one found, and write it as a minimal scenario TOML file.

Schedules are drawn by :func:`faults.draw_count_schedule` within the default fault model through
a Hypothesis-backed chooser, so Hypothesis shrinks them towards fewer, earlier, shorter, milder
faults of the model's first kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from random import Random
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from controller.toml_io import toml_string
from faults import Fault, FaultModel, default_fault_model, draw_count_schedule, parse_seconds
from twin import WorldConfig

from .case import judge, simulate
from .checks import DEFAULT_LIVENESS_WITHIN_S, CheckResult, LivenessPolicy
from .errors import ScenarioFileError
from .loader import MAX_DURATION_S, load_scenario, resolve_controller
from .model import Scenario

__all__ = ["ExploreResult", "explore", "explore_cli", "scenario_toml"]


class _HypothesisChooser:
    """The Chooser protocol over Hypothesis draws (integers shrink towards their lower bound)."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi))

    def fraction(self) -> float:
        return self._draw(st.integers(0, 1000)) / 1000.0


@dataclass
class ExploreResult:
    """What the search found: the shrunk schedule and its failure, or nothing."""

    found: bool
    evaluations: int
    seed: int = 0
    faults: tuple[Fault, ...] = ()
    failure: CheckResult | None = None
    path: Path | None = None


def _model(horizon_s: float, kinds: list[str] | None) -> FaultModel:
    model = default_fault_model(horizon_s)
    if kinds:
        model = model.restricted(kinds)
    return replace(model, max_faults=4, enable_ratio=0.5)


def _duration_s(faults: tuple[Fault, ...], horizon_s: float, tail_s: float) -> float:
    """A schedule runs ``tail_s`` past its last heal (at least past the horizon): the liveness phase."""
    return max([horizon_s, *(f.end_s for f in faults)]) + tail_s


def first_violation(base: Scenario, horizon_s: float, tail_s: float, config: Any, world_seed: int,
                    faults: tuple[Fault, ...]) -> CheckResult | None:
    """Run one schedule (``tail_s`` past its last heal) and return its first safety or liveness failure."""
    case = replace(base, duration_s=_duration_s(faults, horizon_s, tail_s))
    results = judge(case, faults, simulate(case, world_seed, config, faults), {})
    return next((r for r in results if not r.ok and r.kind in ("safety", "liveness")), None)


def remote_violation(args: tuple, expected: dict) -> CheckResult | None:
    """:func:`first_violation` on a cluster worker, refused unless the worker is like the client."""
    from .cluster_task import WorkerMismatch, identity, worker_info

    if identity(worker_info()) != expected:
        raise WorkerMismatch(f"worker on {worker_info()['host']} differs from the client")
    return first_violation(*args)


def _prefill(cluster: str, strategy: Any, config_h: Any, seed: int, args: tuple,
             echo: Callable[[str], None]) -> dict[tuple, CheckResult | None]:
    """``--cluster``: the schedules the search will draw first (a dry generate pass with the same random
    seed), evaluated in parallel on the cluster. The search then reads them from its memo; what it draws
    beyond them (shrinking) runs here. The search and its result are the same as without the cluster."""
    from .cluster import cluster_session

    drawn: list[tuple] = []

    def collect(example: tuple) -> bool:
        drawn.append(example)
        return False

    try:
        find(strategy, collect, settings=settings(config_h, phases=[Phase.generate]), random=Random(seed))
    except NoSuchExample:
        pass
    todo = list(dict.fromkeys(drawn))
    with cluster_session(cluster, echo=echo) as session:
        futures = [session.client.submit(remote_violation, (*args, ws, faults), session.expected, pure=False,
                                         key=f"nor-explore-{seed}-{i}") for i, (ws, faults) in enumerate(todo)]
        found = {key: session.result(f) for key, f in zip(todo, futures)}
    echo(f"cluster {cluster}: {len(found)} schedules evaluated in parallel")
    return found


def explore(controller: str = "survival", budget: int = 40, seed: int = 0, horizon_s: float = 1200.0,
            tail_s: float = DEFAULT_LIVENESS_WITHIN_S, kinds: list[str] | None = None, liveness: bool = True,
            out: Path = Path("runs/explore"), echo: Callable[[str], None] = print,
            cluster: str | None = None) -> ExploreResult:
    """Search up to ``budget`` schedules (plus bounded shrinking); write the minimal failing scenario to ``out``.

    Each schedule runs ``tail_s`` past its last heal, and ``tail_s`` is also the liveness bound. With
    ``cluster`` (a dask.distributed scheduler) the generated schedules are evaluated there (:func:`_prefill`).
    """
    spec, config = resolve_controller(controller, "command line", None, field="--controller")
    world = WorldConfig()
    model = _model(horizon_s, kinds)
    base = Scenario(name="explore", description="", file="<explore>", suite="explore", duration_s=horizon_s + tail_s,
                    seeds=(0,), world=world, controller_spec=spec, controller=config, companions=(),
                    liveness=LivenessPolicy(enabled=liveness, within_s=tail_s))
    memo: dict[tuple, CheckResult | None] = {}      # results known (prefilled by the cluster, or run here)
    seen: set[tuple] = set()                        # schedules the search asked for: its evaluations
    cap = budget * 4

    def evaluate(example: tuple[int, tuple[Fault, ...]]) -> CheckResult | None:
        key = (example[0], example[1])
        if key not in seen:
            if len(seen) >= cap:
                return None
            seen.add(key)
        if key not in memo:
            memo[key] = first_violation(base, horizon_s, tail_s, config, *key)
        return memo[key]

    @st.composite
    def schedules(draw: Callable[[Any], Any]) -> tuple[int, tuple[Fault, ...]]:
        return draw(st.integers(0, 1000)), draw_count_schedule(model, _HypothesisChooser(draw), world)

    echo(f"nor explore seed={seed} budget={budget} controller={config.name} ({config.config_id[:12]}) "
         f"horizon={horizon_s:g}s tail={tail_s:g}s kinds={','.join(k.kind for k in model.kinds)}")
    config_h = settings(max_examples=budget, deadline=None, database=None, derandomize=False,
                        phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    if cluster is not None:
        memo.update(_prefill(cluster, schedules(), config_h, seed, (base, horizon_s, tail_s, config), echo))
    remote = set(memo)
    try:
        world_seed, faults = find(schedules(), lambda ex: evaluate(ex) is not None, settings=config_h,
                                  random=Random(seed))
    except NoSuchExample:
        if remote:
            echo(f"{len(seen & remote)} of the {len(seen)} schedules searched ran on the cluster")
        echo(f"no safety or liveness violation in {len(seen)} schedules")
        return ExploreResult(False, len(seen))
    if remote:
        echo(f"{len(seen & remote)} of the {len(seen)} schedules searched ran on the cluster")
    failure = memo[(world_seed, faults)]
    assert failure is not None
    path = _write(out, seed, replace(base, duration_s=_duration_s(faults, horizon_s, tail_s)), world_seed, faults,
                  failure)
    echo(f"found after {len(seen)} evaluations: {failure.kind} {failure.check}: {failure.message}")
    echo(f"minimal schedule ({len(faults)} fault(s)) written to {path}; reproduce with: nor run {path}")
    return ExploreResult(True, len(seen), world_seed, faults, failure, path)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v).__name__)


def scenario_toml(name: str, description: str, duration_s: float, seed: int, controller_spec: str,
                  faults: tuple[Fault, ...], liveness: bool = True,
                  liveness_within_s: float = DEFAULT_LIVENESS_WITHIN_S) -> str:
    """A scenario file for a schedule (parameters at their kind's default are left out)."""
    from faults import KINDS

    lines = [f"name = {_toml_value(name)}", f"description = {_toml_value(description)}",
             f"duration = {_toml_value(float(duration_s))}", f"seeds = [{seed}]", "companions = []",
             f"controller = {_toml_value(controller_spec)}", ""]
    lines += ["[liveness]", "enabled = false" if not liveness else f"within = {_toml_value(float(liveness_within_s))}",
              ""]
    for f in faults:
        defaults = {p.name: p.default for p in KINDS[f.kind].params}
        lines += ["[[fault]]", f"kind = {_toml_value(f.kind)}", f"target = {_toml_value(f.target)}",
                  f"at = {_toml_value(float(f.at_s))}"]
        if f.for_s is not None:
            lines.append(f"for = {_toml_value(float(f.for_s))}")
        for key, value in f.params_dict().items():
            if value != defaults.get(key) and not (isinstance(value, list) and not value):
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _write(out: Path, seed: int, base: Scenario, world_seed: int, faults: tuple[Fault, ...],
           failure: CheckResult) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    name = f"explore_{seed}_{failure.check}"
    desc = f"nor explore (seed {seed}) found a {failure.kind} violation: {failure.check}: {failure.message}"[:300]
    spec = base.controller_spec
    if Path(spec).exists():
        spec = str(Path(spec).resolve())
    path = out / f"{name}.toml"
    path.write_text(scenario_toml(name, desc, base.duration_s, world_seed, spec, faults, base.liveness.enabled,
                                  base.liveness.within_s), encoding="utf-8")
    load_scenario(path)          # the written file must itself be valid
    return path


def explore_cli(args: Any) -> int:
    """``nor explore`` → exit 1 if a violation was found (and written), 0 if none."""
    horizon, tail = parse_seconds(args.horizon), parse_seconds(args.tail)
    if horizon is None or horizon <= 0 or tail is None or tail <= 0 or horizon + tail > MAX_DURATION_S / 2:
        raise ScenarioFileError("nor explore", "--horizon/--tail", f'durations > 0 like "20m" and "2h", together at '
                                f'most {MAX_DURATION_S / 2:g} s (a schedule\'s run may last twice that)',
                                f"{args.horizon} / {args.tail}")
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else None
    result = explore(args.controller, args.budget, args.seed, horizon, tail, kinds, not args.no_liveness, args.out,
                     cluster=args.cluster)
    return 1 if result.found else 0


