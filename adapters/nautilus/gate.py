"""The node-level posture gate: a pre-trade check every order of every component passes through.

:func:`add_posture_gate` registers a :class:`PostureGate` (an Actor) with a ``BacktestEngine``
or ``TradingNode`` and puts it in front of the two message-bus endpoints through which orders
reach a venue: ``ExecEngine.execute`` (the RiskEngine's output, emulator releases, execution
algorithms) and ``OrderEmulator.execute`` (emulated orders, which skip the RiskEngine). So a
strategy that calls ``submit_order``, ``submit_order_list`` or ``modify_order`` directly —
with or without a :class:`~adapters.nautilus.guard.PostureGuard` — is held to the same
:class:`~adapters.nautilus.rules.PostureRules`:

* a refused submission is denied (``OrderDenied``, for every order of a refused list or
  bracket); a refused modification is rejected (``OrderModifyRejected``);
* the exposure cap is the account's: every strategy's positions and working entries;
* on each decision, working entries the decision no longer allows are cancelled whatever their
  state — also orders submitted and not yet accepted, which Nautilus's ``cancel_all_orders``
  skips; an entry the venue accepts while the posture forbids it is cancelled on acceptance;
* reduce-only orders always pass and are never cancelled by the gate;
* posture changes set the RiskEngine's trading state (TURTLE/HIBERNATE → REDUCING).

The gate subscribes to decisions at a higher priority than strategies, so it adopts a decision
before any strategy reacts to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelOrder, ModifyOrder, SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.events import OrderAccepted, OrderDenied, OrderModifyRejected, OrderUpdated
from nautilus_trader.model.orders import Order

from .data import DECISION_DATA_TYPE, SurvivalDecisionData
from .errors import InterfaceError
from .limits import entry_type_refusal
from .rules import CapitalSource, GuardConfig, GuardVerdict, PostureRules
from .sizing import trading_state_for

__all__ = ["GateStats", "PostureGate", "add_posture_gate"]

_EXEC, _EMULATOR = "ExecEngine.execute", "OrderEmulator.execute"
DECISION_PRIORITY = 20  # above strategies (0); the RiskEngine's own order-event handler uses 10


@dataclass
class GateStats:
    """What the gate did (for reports and tests)."""

    passed: int = 0
    denied: dict[str, int] = field(default_factory=dict)
    modify_rejected: int = 0
    cancels: int = 0
    cancels_on_accept: int = 0


class PostureGate(Actor):
    """Posture limits for the whole node (see the module docstring). Use :func:`add_posture_gate`."""

    def __init__(self, config: GuardConfig | None = None, capital_source: CapitalSource | None = None,
                 trading_state_sink: Callable[[TradingState], None] | None = None) -> None:
        super().__init__(ActorConfig(component_id="PostureGate"))
        self.rules = PostureRules(config, capital_source)
        self.stats = GateStats()
        self._sink = trading_state_sink
        self._trader: Any = None
        self._forward: dict[str, Callable[[Any], None]] = {}

    def on_start(self) -> None:  # installed at registration (install), not at start
        pass

    def on_stop(self) -> None:
        pass

    # -- installation ----------------------------------------------------------------------

    def install(self, kernel: Any) -> None:
        """Intercept the order endpoints of ``kernel`` (after the gate is registered)."""
        if self.cache is None:
            raise InterfaceError("PostureGate.install: register the gate with the trader first (add_posture_gate)")
        if self._forward:
            raise InterfaceError("PostureGate.install: already installed")
        self.rules.context = self
        bus = kernel.msgbus
        for endpoint, handler in ((_EXEC, kernel.exec_engine.execute), (_EMULATOR, kernel.emulator.execute)):
            bus.deregister(endpoint, handler)
            self._forward[endpoint] = handler
            bus.register(endpoint, self._exec_gate if endpoint == _EXEC else self._emulator_gate)
        bus.subscribe(f"data.{DECISION_DATA_TYPE.topic}", self._on_decision_data, priority=DECISION_PRIORITY)
        bus.subscribe("events.order.*", self._on_order_event)
        self._trader = kernel.trader

    # -- the gate --------------------------------------------------------------------------

    def _exec_gate(self, command: Any) -> None:
        self._gate(command, self._forward[_EXEC])

    def _emulator_gate(self, command: Any) -> None:
        self._gate(command, self._forward[_EMULATOR])

    def _gate(self, command: Any, forward: Callable[[Any], None]) -> None:
        if isinstance(command, SubmitOrder):
            verdict = self.rules.check(command.order)
            orders = [command.order]
        elif isinstance(command, SubmitOrderList):
            orders = list(command.order_list.orders)
            verdict = self.rules.check_list(orders)
        elif isinstance(command, ModifyOrder):
            self._gate_modify(command, forward)
            return
        else:
            forward(command)
            return
        if verdict.allowed:
            self.stats.passed += 1
            forward(command)
            return
        self._count(verdict)
        for order in orders:
            self._deny(order, verdict.reason)

    def _gate_modify(self, command: ModifyOrder, forward: Callable[[Any], None]) -> None:
        order = self.cache.order(command.client_order_id)
        if order is None:
            forward(command)  # the engines report the unknown order
            return
        verdict = self.rules.check_modify(order, command.quantity, command.price)
        if verdict.allowed:
            forward(command)
            return
        self.stats.modify_rejected += 1
        now = self.clock.timestamp_ns()
        self.msgbus.send("ExecEngine.process", OrderModifyRejected(
            order.trader_id, order.strategy_id, order.instrument_id, order.client_order_id,
            order.venue_order_id, order.account_id, f"posture gate: {verdict.reason}", UUID4(), now, now))

    def _deny(self, order: Order, reason: str) -> None:
        if order.is_closed:
            return
        if not self.cache.order_exists(order.client_order_id):
            self.cache.add_order(order)
        self.log.warning(f"posture gate denied {order.client_order_id}: {reason}")
        self.msgbus.send("ExecEngine.process", OrderDenied(
            order.trader_id, order.strategy_id, order.instrument_id, order.client_order_id,
            f"posture gate: {reason}", UUID4(), self.clock.timestamp_ns()))

    def _count(self, verdict: GuardVerdict) -> None:
        key = verdict.reason.split(":")[0]
        self.stats.denied[key] = self.stats.denied.get(key, 0) + 1

    # -- decisions and order events --------------------------------------------------------

    def _on_decision_data(self, data: Any) -> None:
        if isinstance(data, SurvivalDecisionData):
            self.on_decision(data)

    def on_decision(self, data: SurvivalDecisionData) -> None:
        """Adopt ``data``; set the RiskEngine state; cancel entries it no longer allows."""
        previous, previous_decision = self.rules.adopt(data)
        posture = data.posture_level
        if posture != previous and self.rules.config.map_trading_state and self._sink is not None:
            self._sink(trading_state_for(posture, self.rules.config.hibernate_state))
        for order in self.rules.entries_to_cancel(previous, previous_decision):
            self._cancel(order)

    def _on_order_event(self, event: Any) -> None:
        if not isinstance(event, (OrderAccepted, OrderUpdated)):
            return
        order = self.cache.order(event.client_order_id)
        if order is None or order.is_reduce_only or order.is_closed or order.is_pending_cancel:
            return
        d, posture = self.rules.decision, self.rules.posture
        if d is None or posture is None or entry_type_refusal(order, posture, d) is not None:
            self.stats.cancels_on_accept += 1
            self._cancel(order)

    def _cancel(self, order: Order) -> None:
        """Cancel through the owning strategy (Nautilus's own path), else by a direct command."""
        self.stats.cancels += 1
        strategy = self._strategy(order.strategy_id)
        if strategy is not None:
            strategy.cancel_order(order)
            return
        command = CancelOrder(self.trader_id, order.strategy_id, order.instrument_id, order.client_order_id,
                              order.venue_order_id, UUID4(), self.clock.timestamp_ns())
        self._forward[_EMULATOR if order.is_emulated else _EXEC](command)

    def _strategy(self, strategy_id: Any) -> Any:
        if self._trader is None:
            return None
        for strategy in self._trader.strategies():
            if strategy.id == strategy_id:
                return strategy
        return None


def add_posture_gate(target: Any, config: GuardConfig | None = None, *,
                     capital_source: CapitalSource | None = None, map_trading_state: bool = True) -> PostureGate:
    """Register a :class:`PostureGate` with ``target`` (a ``BacktestEngine`` or ``TradingNode``,
    before it runs) and put it in front of every order endpoint; returns the gate."""
    kernel = getattr(target, "kernel", None)
    if kernel is None:
        raise InterfaceError(f"add_posture_gate: expected a BacktestEngine or TradingNode, got {type(target).__name__}")
    sink = kernel.risk_engine.set_trading_state if map_trading_state else None
    gate = PostureGate(config, capital_source, sink)
    kernel.trader.add_actor(gate)
    gate.install(kernel)
    return gate
