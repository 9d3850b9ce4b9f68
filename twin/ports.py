"""Fault ports: the only methods a fault may call on a twin component.

``world.ports`` maps port names to the component objects; each satisfies one protocol below.

=====================  ==========================================  ==========================================
fault kind (design §4)  port name                                   calls
=====================  ==========================================  ==========================================
sensor_stale           ``sensor.<name>``                           ``stall()`` … ``resume()``
sensor_down            ``sensor.<name>``                           ``crash()`` … ``restart()``
sensor_flap            ``sensor.<name>``                           ``set_flap(period_s)`` … ``set_flap(0)``
sensor_degraded        ``sensor.<name>``                           ``degrade(factor)`` … ``degrade(1.0)``
ob_latency             ``link.exchange->sensor.ob``                ``set_latency(ms)`` … restore
ob_depth_decay         ``exchange``                                ``set_depth_factor(f)`` … ``(1.0)``
node_loss              ``cluster``                                 ``kill_member(i)``
node_restart           ``cluster``                                 ``restart_member(i)``
network_partition      ``network``                                 ``partition(groups)`` … ``heal()``
link_latency           ``link.<name>``                             ``set_latency(ms, jitter)`` … restore
link_loss              ``link.<name>``                             ``set_loss(ratio)`` … ``set_loss(0)``
link_down              ``link.<name>``                             ``down()`` … ``up()``
clock_skew             ``clock``                                   ``skew(component, s)`` … ``skew(c, 0)``
data_corruption        ``sensor.<name>``                           ``corrupt(True)`` … ``corrupt(False)``
ledger_desync          ``ledger``                                  ``desync()`` … ``resync()``
heartbeat_loss         ``sensor.heartbeat``                        ``stall()`` … ``resume()``
exf_shock              ``market``                                  ``shock(magnitude)``
exchange_outage        ``exchange``                                ``outage(True)`` … ``outage(False)``
exchange_gateway_down  ``exchange``                                ``gateway_down(True)`` … ``(False)``
order_rejects          ``exchange``                                ``set_reject_ratio(r)`` … ``(0)``
fill_friction          ``exchange``                                ``set_friction_mode("hell")`` … ``("none")``
                                                                   or ``set_friction(entry, exit)``
=====================  ==========================================  ==========================================

Sensor names: scan, ob, mc_forewarner, exf, esof, ledger_checksum, heartbeat. Link names:
``sensor.<name>->cluster``, ``cluster<->agent``, ``agent<->exchange``, ``exchange->sensor.ob``.
Network nodes: ``sensor.<name>`` (the heartbeat runs on ``agent``), ``hz0`` … ``hz<n-1>``,
``agent``, ``exchange``. Clock components: the sensor names, ``agent``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent
    from .context import Context
    from .exchange import Exchange

__all__ = ["SensorPort", "LinkPort", "NetworkPort", "ClusterPort", "ClockPort", "LedgerPort", "MarketPort",
           "ExchangePort", "Ledger", "FAULT_PORTS"]


@runtime_checkable
class SensorPort(Protocol):
    def stall(self) -> None: ...
    def resume(self) -> None: ...
    def crash(self) -> None: ...
    def restart(self) -> None: ...
    def degrade(self, factor: float) -> None: ...
    def set_flap(self, period_s: float | None) -> None: ...
    def set_publish_delay(self, delay_s: float) -> None: ...
    def corrupt(self, on: bool = True) -> None: ...


@runtime_checkable
class LinkPort(Protocol):
    def set_latency(self, latency_ms: float, jitter_ms: float | None = None) -> None: ...
    def set_loss(self, ratio: float) -> None: ...
    def down(self) -> None: ...
    def up(self) -> None: ...


@runtime_checkable
class NetworkPort(Protocol):
    def partition(self, groups: Sequence[Sequence[str]]) -> None: ...
    def heal(self) -> None: ...


@runtime_checkable
class ClusterPort(Protocol):
    def kill_member(self, i: int) -> None: ...
    def restart_member(self, i: int) -> None: ...


@runtime_checkable
class ClockPort(Protocol):
    def skew(self, component: str, offset_s: float) -> None: ...


@runtime_checkable
class LedgerPort(Protocol):
    def desync(self) -> None: ...
    def resync(self) -> None: ...


@runtime_checkable
class MarketPort(Protocol):
    def shock(self, magnitude: float, duration_s: float | None = None) -> None: ...


@runtime_checkable
class ExchangePort(Protocol):
    def outage(self, on: bool = True) -> None: ...
    def gateway_down(self, on: bool = True) -> None: ...
    def set_reject_ratio(self, ratio: float) -> None: ...
    def set_friction(self, entry_fill: float, exit_fill: float) -> None: ...
    def set_friction_mode(self, mode: str) -> None: ...
    def set_depth_factor(self, factor: float) -> None: ...


class Ledger:
    """The ledger's fault port: the exchange account and the agent's ledger drift apart and back.

    ``desync()``: execution reports stop reaching the agent and the exchange books a cash
    adjustment the agent is not told about; the agent's next reconciliation fails.
    ``resync()``: the agent fetches the account and books what it missed, each item once.
    """

    def __init__(self, ctx: "Context", agent: "Agent", exchange: "Exchange") -> None:
        self._ctx = ctx
        self._agent = agent
        self._exchange = exchange

    def flows(self) -> list[Flow]:
        """For :mod:`twin.wiring`: a desync moves the account; the resync books the missed fills in the journal."""
        return [Flow("ledger", "exchange.account"), Flow("ledger", "agent.journal")]

    def desync(self) -> None:
        ex = self._exchange
        ex.drop_reports = True
        ex.adjust(-1e-4 * self._ctx.cfg.agent.capital)
        self._ctx.changed("ledger_desync", "ledger", {})

    def resync(self) -> None:
        """Book what the agent missed; nothing to do (and no message sent) when not desynchronised."""
        ex = self._exchange
        if not ex.drop_reports:
            self._ctx.record("ledger_resync", "ledger", {"fills": 0})
            return
        ex.drop_reports = False
        fills, ex.undelivered = ex.undelivered, []
        adjustments = list(ex.adjustments)
        ex.reports.send(lambda: self._agent.resync(fills, adjustments))
        self._ctx.changed("ledger_resync", "ledger", {"fills": len(fills)})


FAULT_PORTS: dict[str, tuple[str, str]] = {
    "sensor_stale": ("sensor.<name>", "stall/resume"),
    "sensor_down": ("sensor.<name>", "crash/restart"),
    "sensor_flap": ("sensor.<name>", "set_flap"),
    "sensor_degraded": ("sensor.<name>", "degrade"),
    "ob_latency": ("link.exchange->sensor.ob", "set_latency"),
    "ob_depth_decay": ("exchange", "set_depth_factor"),
    "node_loss": ("cluster", "kill_member"),
    "node_restart": ("cluster", "restart_member"),
    "network_partition": ("network", "partition/heal"),
    "link_latency": ("link.<name>", "set_latency"),
    "link_loss": ("link.<name>", "set_loss"),
    "link_down": ("link.<name>", "down/up"),
    "clock_skew": ("clock", "skew"),
    "data_corruption": ("sensor.<name>", "corrupt"),
    "ledger_desync": ("ledger", "desync/resync"),
    "heartbeat_loss": ("sensor.heartbeat", "stall/resume"),
    "exf_shock": ("market", "shock"),
    "exchange_outage": ("exchange", "outage"),
    "exchange_gateway_down": ("exchange", "gateway_down"),
    "order_rejects": ("exchange", "set_reject_ratio"),
    "fill_friction": ("exchange", "set_friction/set_friction_mode"),
}
"""Fault kind -> (port name, methods) — the table above, as data."""
