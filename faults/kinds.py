"""The fault vocabulary (design §4): what each kind targets, its parameters, and how it acts.

Every kind acts only through one twin fault port (``world.ports[...]``, see :mod:`twin.ports`), and
says which parts of the twin's wiring that touches and how (:meth:`FaultKind.acts_on`: a ``timing``,
``value`` or ``integrity`` disturbance, see :mod:`twin.wiring`); the wiring then tells which
controller signals it can move.
Faults that set the same thing on the same port share a *channel*: the most recently started
active fault on a channel is in force, and when it ends the previous active one (or the
configured baseline) is restored, so overlapping faults never leave a port in a wrong state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from twin import INTEGRITY, LINK_NAMES, SENSOR_NAMES, TIMING, VALUE, WorldConfig

from .params import Param
from .spec import Fault

__all__ = ["FaultKind", "KINDS", "kind", "network_nodes"]

Touches = Callable[[Fault, Any], tuple[str, ...]]
"""touches(fault, wiring): the parts of the twin's wiring (:class:`twin.Wiring`) the fault acts on."""

Apply = Callable[[Any, "Fault | None", "Fault | None", WorldConfig], None]
"""apply(port, old, new, world_config): move a channel from fault ``old`` (None: baseline) to ``new``."""


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: its targets, typed parameters and its action through a port."""

    name: str
    doc: str
    targets: Callable[[WorldConfig], tuple[str, ...]]
    port: Callable[[str], str]
    apply: Apply
    params: tuple[Param, ...] = ()
    default_target: str | None = None
    instantaneous: bool = False
    default_for_s: float | None = None
    channel_of: Callable[[Fault], str] | None = None
    effect: str = TIMING
    touches: Touches | None = None

    def acts_on(self, fault: Fault, wiring: Any) -> tuple[tuple[str, ...], str]:
        """The wiring parts ``fault`` touches (default: its port) and the effect it has on them."""
        parts = self.touches(fault, wiring) if self.touches is not None else (self.port(fault.target),)
        return parts, self.effect

    def channel(self, fault: Fault) -> str:
        if self.channel_of is not None:
            return self.channel_of(fault)
        return f"{self.port(fault.target)}:{self.name}"


def network_nodes(cfg: WorldConfig) -> tuple[str, ...]:
    """The twin's network node names for ``cfg``."""
    members = tuple(f"hz{i}" for i in range(cfg.cluster.members))
    return tuple(f"sensor.{n}" for n in SENSOR_NAMES if n != "heartbeat") + members + ("agent", "exchange")


def _sensors(_cfg: WorldConfig) -> tuple[str, ...]:
    return SENSOR_NAMES


def _links(_cfg: WorldConfig) -> tuple[str, ...]:
    return LINK_NAMES


def _members(cfg: WorldConfig) -> tuple[str, ...]:
    return tuple(f"hz{i}" for i in range(cfg.cluster.members))


def _fixed(*names: str) -> Callable[[WorldConfig], tuple[str, ...]]:
    return lambda _cfg: names


def _clock_targets(_cfg: WorldConfig) -> tuple[str, ...]:
    return SENSOR_NAMES + ("agent",)


def _partition_targets(cfg: WorldConfig) -> tuple[str, ...]:
    return ("network",) + network_nodes(cfg)


# -- actions ------------------------------------------------------------------------------------
_RUN_STATE = ("sensor_stale", "heartbeat_loss", "sensor_down", "sensor_flap")


def _sensor_run(port: Any, old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    """stall/resume, crash/restart, set_flap(p)/set_flap(0) — one run state per sensor."""
    if old is not None:
        if old.kind == "sensor_down":
            port.restart()
        elif old.kind == "sensor_flap":
            port.set_flap(0)
        else:
            port.resume()
    if new is not None:
        if new.kind == "sensor_down":
            port.crash()
        elif new.kind == "sensor_flap":
            port.set_flap(new.param("period_s"))
        else:
            port.stall()


def _degrade(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    port.degrade(new.param("factor") if new else 1.0)
    port.set_publish_delay(new.param("delay_s") if new else 0.0)


def _corrupt(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    port.corrupt(new is not None)


def _link_name(fault: Fault) -> str:
    return "exchange->sensor.ob" if fault.kind == "ob_latency" else fault.target


def _latency(port: Any, _old: Fault | None, new: Fault | None, cfg: WorldConfig) -> None:
    if new is None:
        base = cfg.network.link(port.name)
        port.set_latency(base.latency_ms, base.jitter_ms)
    else:
        jitter = new.param("jitter_ms")
        port.set_latency(new.param("latency_ms"), None if jitter < 0 else jitter)


def _loss(port: Any, _old: Fault | None, new: Fault | None, cfg: WorldConfig) -> None:
    port.set_loss(new.param("loss_ratio") if new else cfg.network.link(port.name).loss_ratio)


def _updown(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    if new is None:
        port.up()
    else:
        port.down()


def _partition(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    if new is None:
        port.heal()
        return
    groups = new.param("groups")
    if new.target != "network":
        groups = ((new.target,),) + tuple(groups)
    port.partition([list(g) for g in groups])


def _member(port: Any, old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    if new is not None:
        port.kill_member(int(new.target[2:]))
    elif old is not None:
        port.restart_member(int(old.target[2:]))


def _skew(port: Any, old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    target = (new or old).target  # type: ignore[union-attr]
    port.skew(target, new.param("offset_s") if new else 0.0)


def _ledger(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    if new is None:
        port.resync()
    else:
        port.desync()


def _shock(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    if new is not None:
        port.shock(new.param("magnitude"), new.for_s)


def _outage(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    port.outage(new is not None)


def _gateway(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    port.gateway_down(new is not None)


def _rejects(port: Any, _old: Fault | None, new: Fault | None, cfg: WorldConfig) -> None:
    port.set_reject_ratio(new.param("ratio") if new else cfg.exchange.reject_ratio)


def _friction(port: Any, _old: Fault | None, new: Fault | None, cfg: WorldConfig) -> None:
    if new is None:
        port.set_friction(*cfg.exchange.fill_ratios)  # the configured mode (e.g. friction = "hell") or ratios
    else:
        port.set_friction(new.param("entry_fill"), new.param("exit_fill"))


def _depth(port: Any, _old: Fault | None, new: Fault | None, _cfg: WorldConfig) -> None:
    port.set_depth_factor(new.param("factor") if new else 1.0)


# -- what each kind touches in the twin's wiring --------------------------------------------
def _member_part(fault: Fault, _wiring: Any) -> tuple[str, ...]:
    return (f"member.{fault.target}",)


def _clock_part(fault: Fault, _wiring: Any) -> tuple[str, ...]:
    return (f"clock.{fault.target}",)


def _cut_off(fault: Fault, wiring: Any) -> tuple[str, ...]:
    """The network nodes the partition separates from where the signals are read."""
    groups = [list(g) for g in fault.params_dict().get("groups", ())]
    if fault.target not in ("", "network"):
        groups = [[fault.target]] + groups
    return wiring.cut_off(groups)


def _part(name: str) -> Touches:
    return lambda _f, _w: (name,)


_BOOK, _ORDERS = _part("exchange.book"), _part("exchange.orders")


# -- the vocabulary -------------------------------------------------------------------------
def _sensor_port(target: str) -> str:
    return f"sensor.{target}"


def _run_channel(fault: Fault) -> str:
    return f"sensor.{fault.target}:run"


def _k(name: str, doc: str, targets: Callable[[WorldConfig], tuple[str, ...]], port: Callable[[str], str],
       apply: Apply, *params: Param, **kw: Any) -> FaultKind:
    return FaultKind(name, doc, targets, port, apply, tuple(params), **kw)


_FOREVER = 1e9
KINDS: dict[str, FaultKind] = {k.name: k for k in (
    _k("sensor_stale", "the service stays up but publishes nothing (stall … resume)", _sensors, _sensor_port,
       _sensor_run, channel_of=_run_channel),
    _k("sensor_down", "the service process dies and is restarted when the fault ends (crash … restart)",
       _sensors, _sensor_port, _sensor_run, channel_of=_run_channel),
    _k("sensor_flap", "the service crashes and restarts alternately every period_s", _sensors, _sensor_port,
       _sensor_run, Param("period_s", "seconds", 30.0, 0.01, _FOREVER,
             "half-period of the flap (at least the shortest publish period a sensor may have)"),
       channel_of=_run_channel),
    _k("sensor_degraded", "the service publishes at factor × its rate, delay_s late", _sensors, _sensor_port,
       _degrade, Param("factor", "float", 0.25, 0.0, 1.0, "publish-rate multiplier", lo_open=True),
       Param("delay_s", "seconds", 0.0, 0.0, _FOREVER, "extra publish delay")),
    _k("ob_latency", "the exchange book feed to the order-book streamer is slow", _fixed("ob"),
       lambda _t: "link.exchange->sensor.ob", _latency,
       Param("latency_ms", "float", 800.0, 0.0, 600000.0, "mean base latency"),
       Param("jitter_ms", "float", -1.0, -1.0, 600000.0, "jitter (-1: keep the link's)"),
       default_target="ob", channel_of=lambda f: "link.exchange->sensor.ob:latency"),
    _k("ob_depth_decay", "book depth decays to factor × nominal over ramp_s", _fixed("exchange"),
       lambda _t: "exchange", _depth,
       Param("factor", "float", 0.3, 0.0, 10.0, "final depth multiplier", lo_open=True),
       Param("ramp_s", "seconds", 0.0, 0.0, _FOREVER, "time to decay from 1 to factor"),
       default_target="exchange", effect=VALUE, touches=_BOOK),
    _k("node_loss", "a Hazelcast member dies; it restarts (empty) when the fault ends, if it ends",
       _members, lambda _t: "cluster", _member, channel_of=lambda f: f"cluster:{f.target}",
       touches=_member_part),
    _k("node_restart", "a Hazelcast member restarts: down now, back (empty) after `for` (default 30 s)",
       _members, lambda _t: "cluster", _member, default_for_s=30.0, channel_of=lambda f: f"cluster:{f.target}",
       touches=_member_part),
    _k("network_partition", "nodes in different groups cannot reach each other; a node target is isolated",
       _partition_targets, lambda _t: "network", _partition,
       Param("groups", "groups", ()), default_target="network", channel_of=lambda f: "network:partition",
       touches=_cut_off),
    _k("link_latency", "a link gets slower", _links, lambda t: f"link.{t}", _latency,
       Param("latency_ms", "float", 500.0, 0.0, 600000.0, "mean base latency"),
       Param("jitter_ms", "float", -1.0, -1.0, 600000.0, "jitter (-1: keep the link's)"),
       channel_of=lambda f: f"link.{f.target}:latency"),
    _k("link_loss", "a link drops a fraction of its messages", _links, lambda t: f"link.{t}", _loss,
       Param("loss_ratio", "float", 0.3, 0.0, 1.0, "probability a message is lost")),
    _k("link_down", "a link carries nothing", _links, lambda t: f"link.{t}", _updown),
    _k("clock_skew", "a component's clock runs offset_s ahead (negative: behind)", _clock_targets,
       lambda _t: "clock", _skew, Param("offset_s", "float", 5.0, -1e6, 1e6, "clock offset"),
       channel_of=lambda f: f"clock:{f.target}", touches=_clock_part),
    _k("data_corruption", "a service publishes values that fail their checksum", _sensors, _sensor_port,
       _corrupt, effect=INTEGRITY),
    _k("ledger_desync", "execution reports stop reaching the agent and the account drifts (desync … resync)",
       _fixed("ledger"), lambda _t: "ledger", _ledger, default_target="ledger",
       effect=VALUE),
    _k("heartbeat_loss", "the agent's keepalive stops (stall … resume)", _fixed("heartbeat"), _sensor_port,
       _sensor_run, default_target="heartbeat", channel_of=_run_channel),
    _k("exf_shock", "a market shock of this magnitude; `for` is its crash regime (default set by [market])",
       _fixed("market"), lambda _t: "market", _shock,
       Param("magnitude", "float", 1.0, 0.0, 1.0, "shock magnitude"), default_target="market", effect=VALUE,
       instantaneous=True),
    _k("exchange_outage", "matching halted: new orders rejected, no fills, cancels queued until it resumes, "
       "the book feed stops", _fixed("exchange"), lambda _t: "exchange", _outage, default_target="exchange",
       touches=_BOOK),
    _k("exchange_gateway_down", "the order gateway is down: orders and cancels cannot reach the venue (cancels "
       "fail, the agent retries) while resting orders keep filling", _fixed("exchange"), lambda _t: "exchange",
       _gateway, default_target="exchange", touches=_ORDERS),
    _k("order_rejects", "the exchange rejects this fraction of orders", _fixed("exchange"), lambda _t: "exchange",
       _rejects, Param("ratio", "float", 0.5, 0.0, 1.0, "reject probability"), default_target="exchange",
       effect=VALUE, touches=_ORDERS),
    _k("fill_friction", "only these fractions of maker entries / exits fill (defaults: the spec's HELL test)",
       _fixed("exchange"), lambda _t: "exchange", _friction,
       Param("entry_fill", "float", 0.48, 0.0, 1.0, "entry maker fill ratio"),
       Param("exit_fill", "float", 0.35, 0.0, 1.0, "exit maker fill ratio"), default_target="exchange",
       effect=VALUE, touches=_ORDERS),
)}
"""Every fault kind by name."""


def kind(name: str) -> FaultKind | None:
    return KINDS.get(name)
