"""The world: builds every component from a WorldConfig, a controller and a seed, and runs it."""

from __future__ import annotations

import functools
import math
import numbers
from pathlib import Path
from typing import Any, Callable, Generator, Mapping

from controller import ConfigError, ControllerConfig, make_controller

from .agent import Agent
from .client import Client
from .clock import Clocks
from .cluster import Cluster, Record
from .config import LINK_NAMES, SENSOR_NAMES, WorldConfig
from .context import Context
from .errors import TwinConfigError, TwinError
from .exchange import Exchange
from .market import Market
from .network import Link, Network
from .ports import Ledger
from .sensor_base import Sensor
from .services import EsoF, ExF, Heartbeat, LedgerChecksum, MCForewarner, OrderBookStreamer, Scanner
from .trace import Recorder, Trace
from .watchdog import SIGNALS, Watchdog
from .wiring import Wiring

__all__ = ["World", "wiring_of"]


def _controller(spec: Any) -> Any:
    if hasattr(spec, "step") and not isinstance(spec, (str, Path, ControllerConfig)):
        return spec
    try:
        return make_controller(spec)
    except ConfigError as exc:
        raise TwinConfigError("<controller>", "controller", "survival, static_ladder, seed_template, a "
                              "ControllerConfig or a controller TOML path", f"{spec!r}: {exc}") from None


class World:
    """A deterministic discrete-event world around one controller.

    ``World(world_config, controller, seed)``; ``run(until_s)`` returns the :class:`Trace`.
    ``ports`` maps port names to fault ports (see :mod:`twin.ports`); ``at(t_s, fn)`` schedules a
    callback; ``record_event(kind, target, **detail)`` adds a row to the ``events`` table; ``wiring`` is
    the graph of what every signal derives from (:mod:`twin.wiring`).

    The component classes are class attributes, the one extension point for variants (the planted-defect
    catalogue in ``tests/planted/`` subclasses ``World`` and replaces one of them): each is built with the
    same arguments as the original.
    """

    client_cls: type[Client] = Client
    cluster_cls: type[Cluster] = Cluster
    agent_cls: type[Agent] = Agent
    exchange_cls: type[Exchange] = Exchange
    ledger_cls: type[Ledger] = Ledger

    def __init__(self, world_config: WorldConfig | None = None, controller: Any = "survival", seed: int = 0) -> None:
        cfg = WorldConfig() if world_config is None else world_config
        if not isinstance(cfg, WorldConfig):
            raise TwinConfigError("<world>", "world_config", "a twin.WorldConfig", type(cfg).__name__)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise TwinConfigError("<world>", "seed", "a non-negative integer", seed)
        self.config = cfg
        self.seed = seed
        self.controller = _controller(controller)
        self._check_signals()
        self.recorder = Recorder(SIGNALS)
        ctx = self.ctx = Context(cfg, seed, self._record)
        self._build_infrastructure(ctx)
        self.sensors = self._build_sensors(ctx)
        self.client = self.client_cls(ctx)
        self.watchdog = Watchdog(ctx, self.sensors)
        self.agent = self.agent_cls(ctx, self.controller, self.watchdog, self.client, ctx.exchange, self.recorder)
        self.ledger = self.ledger_cls(ctx, self.agent, ctx.exchange)
        self._wire(ctx)
        self.ports: dict[str, Any] = self._ports(ctx)
        self._start(ctx)

    def _check_signals(self) -> None:
        names = tuple(getattr(self.controller, "signal_names", ()))
        unknown = [n for n in names if n not in SIGNALS]
        if unknown:
            raise TwinConfigError("<controller>", "signals", f"signals the twin produces ({', '.join(SIGNALS)})",
                                  ", ".join(unknown))

    def _build_infrastructure(self, ctx: Context) -> None:
        cfg = self.config
        members = tuple(f"hz{i}" for i in range(cfg.cluster.members))
        nodes = tuple(f"sensor.{n}" for n in SENSOR_NAMES if n != "heartbeat") + members + ("agent", "exchange")
        ctx.network = Network(nodes, ctx.changed)
        for name in LINK_NAMES:
            ctx.links[name] = Link(name, cfg.network.link(name), ctx.streams.buffer(f"link.{name}"), ctx.changed)
        ctx.clocks = Clocks(SENSOR_NAMES + ("agent",), self._record)
        ctx.market = Market(cfg.market, ctx.streams, ctx.now, self._record)
        ctx.cluster = self.cluster_cls(cfg.cluster, ctx.network, ctx.links["cluster<->agent"], ctx.now,
                                       ctx.call_later, self._record, ctx.streams)
        ctx.exchange = self.exchange_cls(ctx)

    def _build_sensors(self, ctx: Context) -> dict[str, Sensor]:
        kinds = (Scanner, OrderBookStreamer, MCForewarner, ExF, EsoF, LedgerChecksum, Heartbeat)
        sensors = {s.name: s for s in (k(ctx) for k in kinds)}
        for s in sensors.values():
            payload = s.capture(0.0)
            s.last_capture_t = 0.0
            ctx.cluster.preload(s.key, Record(s.stamp(0.0), payload, s.name))
        return sensors

    def _wire(self, ctx: Context) -> None:
        agent = self.agent
        self.sensors["ledger_checksum"].journal = agent.portfolio.journal  # type: ignore[attr-defined]
        ctx.cluster.membership_hooks.append(self.client.membership_changed)
        self.client.on_change = agent.on_invariant_event
        ctx.cluster.entry_listeners[self.sensors["ledger_checksum"].key] = agent.on_invariant_event
        for name, sensor in self.sensors.items():
            if name != "ledger_checksum":   # a corrupt record flips data.checksum_ok: step at once
                ctx.cluster.integrity_listeners[sensor.key] = agent.on_invariant_event

        def on_change(kind: str) -> None:
            if kind == "network_partition":
                ctx.cluster.schedule_detection()
            elif kind == "network_heal":
                ctx.cluster.schedule_merge()

        ctx.change_hooks.append(on_change)
        ctx.cluster.state_hooks.append(lambda: [replan() for replan in ctx.replanners])

        def on_loss(keys: list[str]) -> None:
            if any(k.startswith("ledger.fill.") for k in keys):
                agent.journal_damaged = True

        ctx.cluster.loss_hooks.append(on_loss)

    def _ports(self, ctx: Context) -> dict[str, Any]:
        ports: dict[str, Any] = {f"sensor.{n}": s for n, s in self.sensors.items()}
        ports.update({f"link.{n}": link for n, link in ctx.links.items()})
        ports.update({"network": ctx.network, "cluster": ctx.cluster, "exchange": ctx.exchange,
                      "market": ctx.market, "ledger": self.ledger, "clock": ctx.clocks})
        return dict(sorted(ports.items()))

    @functools.cached_property
    def wiring(self) -> Wiring:
        """The graph of what each signal derives from, as every component built here declares it
        (:mod:`twin.wiring`), built on first use: read it before :meth:`run` (the grid entries' holders are
        the partition table's at that moment)."""
        ctx = self.ctx
        flows = [f for s in self.sensors.values() for f in s.flows()]
        for part in (self.watchdog, self.client, self.agent, self.ledger, ctx.cluster, ctx.exchange):
            flows += part.flows()
        parts = ([f"node.{n}" for n in ctx.network.nodes] + [f"link.{n}" for n in ctx.links]
                 + [f"clock.{c}" for c in ctx.clocks.components] + list(ctx.exchange.PARTS) + ["market", "ledger"])
        return Wiring(flows, SIGNALS, parts=parts, network_nodes=ctx.network.nodes, observer=self.watchdog.node)

    def _start(self, ctx: Context) -> None:
        env = ctx.env
        for s in self.sensors.values():
            env.process(s.process())
        env.process(self.agent.process())
        env.process(self.agent.reconcile_process())
        env.process(self.agent.equity_process())
        if self.config.market.shock_rate_per_day > 0:
            env.process(self._random_shocks())

    def _random_shocks(self) -> Generator:
        rng = self.ctx.streams.buffer("market.shocks")
        mean_s = 86400.0 / self.config.market.shock_rate_per_day
        while True:
            yield self.ctx.env.timeout(rng.exponential() * mean_s)
            self.ctx.market.shock(self.config.market.shock_magnitude * (0.5 + 0.5 * rng.uniform()))

    # -- public API ---------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.ctx.env.now

    def _record(self, kind: str, target: str, detail: Mapping[str, Any], at_s: float | None = None) -> None:
        self.recorder.event(self.ctx.env.now if at_s is None else at_s, kind, target, detail)

    def record_event(self, kind: str, target: str, /, **detail: Any) -> None:
        """Add a component or fault event to the trace's ``events`` table, at the current time."""
        self._record(kind, target, detail)

    def at(self, t_s: float, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` at simulated time ``t_s`` (not in the past)."""
        if isinstance(t_s, bool) or not isinstance(t_s, numbers.Real) or not math.isfinite(t_s) or t_s < self.now:
            raise TwinError(f"world.at: t_s={t_s!r} is before now ({self.now:g} s) or not a finite number")
        if not callable(fn):
            raise TwinError(f"world.at: fn must be a callable taking no arguments, got {fn!r}")
        self.ctx.call_later(t_s - self.now, fn)

    def run(self, until_s: float) -> Trace:
        """Run up to (not including) ``until_s`` seconds; returns the trace so far."""
        if not isinstance(until_s, (int, float)) or isinstance(until_s, bool) or not math.isfinite(until_s):
            raise TwinError(f"world.run: until_s must be a finite number of seconds, got {until_s!r}")
        replay = self.ctx.market._replay
        if replay is not None and until_s > replay.span_s:
            raise TwinError(f"{replay.path}: replay covers {replay.span_s:g} s; run(until_s={until_s:g}) asks for more")
        if until_s > self.now:
            self.ctx.env.run(until=until_s)
        return self.trace()

    def trace(self) -> Trace:
        """The trace of everything so far."""
        return self.recorder.build(self.now, self.agent.orders, self.ctx.exchange.fills)


@functools.lru_cache(maxsize=16)
def wiring_of(world_config: WorldConfig) -> Wiring:
    """The wiring of a world built from ``world_config`` (:attr:`World.wiring`; it depends on the
    configuration only, not on the seed or the controller)."""
    return World(world_config, "survival", seed=0).wiring
