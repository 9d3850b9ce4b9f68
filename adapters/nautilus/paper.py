"""A paper-trading ``TradingNode``: Binance market data, sandbox (simulated) fills, and the
survival Actor and posture guard wired in, with health read from Hazelcast.

Building the node touches no network; ``node.run()`` connects (Binance market data over
HTTP/WebSocket, the Hazelcast health grid at ``NOR_HZ_MEMBERS``). Orders never reach the
exchange: the sandbox execution client fills them against the live quotes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nautilus_trader.adapters.binance import (
    BINANCE,
    BinanceAccountType,
    BinanceDataClientConfig,
    BinanceLiveDataClientFactory,
)
from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.factory import SandboxLiveExecClientFactory
from nautilus_trader.config import InstrumentProviderConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import InstrumentId, TraderId
from nautilus_trader.trading.strategy import Strategy

from controller import ControllerConfig, SurvivalController

from .actor import SurvivalActor, SurvivalActorConfig
from .errors import PaperNodeError
from .gate import add_posture_gate
from .guard import GuardConfig, PostureGuard
from .sources import LiveSignalFeed

__all__ = ["PaperSettings", "StrategyFactory", "age_limits_s", "binance_credentials", "binance_node_config",
           "build_paper_node"]

StrategyFactory = Callable[[PostureGuard], Strategy]
"""Builds one DOLPHIN strategy around the guard it must send its orders through."""

_ACCOUNT_TYPES = {"SPOT": BinanceAccountType.SPOT, "USDT_FUTURES": BinanceAccountType.USDT_FUTURES}


@dataclass(frozen=True)
class PaperSettings:
    """Where and how to paper-trade (the controller config is passed separately).

    venue : market-data venue; ``BINANCE`` is the one supported.
    instrument_ids : instruments to load and trade, e.g. ``BTCUSDT.BINANCE``.
    binance_account_type : ``SPOT`` or ``USDT_FUTURES`` market data.
    starting_balances : sandbox account balances, e.g. ``"10000 USDT"``.
    """

    venue: str = BINANCE
    instrument_ids: tuple[str, ...] = ("BTCUSDT.BINANCE",)
    binance_account_type: str = "SPOT"
    testnet: bool = False
    starting_balances: tuple[str, ...] = ("10000 USDT",)
    sandbox_account_type: str = "MARGIN"
    oms_type: str = "NETTING"
    default_leverage: float = 1.0
    trader_id: str = "NOR-PAPER-001"
    interval_s: float = 1.0
    log_level: str = "INFO"

    def check(self) -> None:
        """Raise :class:`PaperNodeError` naming the first bad field."""
        if self.venue != BINANCE:
            raise PaperNodeError(f"PaperSettings.venue: expected {BINANCE!r} (the supported market-data venue), "
                                 f"got {self.venue!r}")
        if self.binance_account_type not in _ACCOUNT_TYPES:
            raise PaperNodeError(f"PaperSettings.binance_account_type: expected one of {sorted(_ACCOUNT_TYPES)}, "
                                 f"got {self.binance_account_type!r}")
        if not self.instrument_ids:
            raise PaperNodeError("PaperSettings.instrument_ids: expected at least one instrument id")
        for text in self.instrument_ids:
            try:
                venue = InstrumentId.from_str(text).venue.value
            except ValueError:
                raise PaperNodeError(f"PaperSettings.instrument_ids: {text!r} is not SYMBOL.VENUE") from None
            if venue != self.venue:
                raise PaperNodeError(f"PaperSettings.instrument_ids: {text!r} is not on venue {self.venue}")
        if not self.starting_balances:
            raise PaperNodeError("PaperSettings.starting_balances: expected at least one balance like '10000 USDT'")
        if not self.interval_s > 0.0:
            raise PaperNodeError(f"PaperSettings.interval_s: expected seconds > 0, got {self.interval_s!r}")


_BUILD_ONLY_KEY = "build-only-no-credentials"  # the node is built and disposed, never connected


def binance_credentials(settings: PaperSettings, env: Mapping[str, str], build_only: bool = False) -> tuple[str, str]:
    prefix = "BINANCE_TESTNET" if settings.testnet else "BINANCE"
    if settings.testnet and settings.binance_account_type != "SPOT":
        prefix = "BINANCE_FUTURES_TESTNET"
    key, secret = env.get(f"{prefix}_API_KEY"), env.get(f"{prefix}_API_SECRET")
    if build_only and not (key and secret):
        return _BUILD_ONLY_KEY, _BUILD_ONLY_KEY
    if not key or not secret:
        raise PaperNodeError(
            f"{prefix}_API_KEY and {prefix}_API_SECRET must be set: the Binance market-data client needs "
            "them (read-only keys suffice; orders go to the sandbox, never to Binance)"
        )
    return key, secret


def binance_node_config(settings: PaperSettings, key: str, secret: str) -> TradingNodeConfig:
    data = BinanceDataClientConfig(
        api_key=key, api_secret=secret, testnet=settings.testnet,
        account_type=_ACCOUNT_TYPES[settings.binance_account_type],
        instrument_provider=InstrumentProviderConfig(load_ids=frozenset(settings.instrument_ids)),
    )
    execution = SandboxExecutionClientConfig(
        venue=settings.venue, starting_balances=list(settings.starting_balances),
        account_type=settings.sandbox_account_type, oms_type=settings.oms_type,
        default_leverage=Decimal(str(settings.default_leverage)),
    )
    return TradingNodeConfig(
        trader_id=TraderId(settings.trader_id),
        logging=LoggingConfig(log_level=settings.log_level),
        data_clients={settings.venue: data},
        exec_clients={settings.venue: execution},
    )


class _NoGrid:
    """The health source of a node that is built only (never run): reads nothing."""

    def signals(self, now_s: float) -> dict[str, float]:
        return {}

    def on_invariant_change(self, callback: Any) -> None:
        pass


def age_limits_s(config: ControllerConfig) -> dict[str, float]:
    """Limits of the age invariants (``max_age`` inputs of invariant layers), for the watchdog."""
    return {inp.signal: inp.param("max") for layer in config.layers if layer.invariant
            for inp in layer.inputs if inp.transform == "max_age"}


def _health_service(env: Mapping[str, str], controller: SurvivalController) -> Any:
    """The Hazelcast health service at ``NOR_HZ_MEMBERS`` — built, not started (no network)."""
    if not env.get("NOR_HZ_MEMBERS"):
        raise PaperNodeError(
            "NOR_HZ_MEMBERS is not set: paper trading reads the controller's health signals from the "
            "Hazelcast grid (e.g. NOR_HZ_MEMBERS=10.0.0.5:5701,10.0.0.6:5701), or pass source=..."
        )
    from adapters.hazelcast import HazelcastAdapterError, HazelcastHealthService, load_hz_config

    try:
        hz_config = load_hz_config(env.get("NOR_HZ_CONFIG") or None, env)
    except HazelcastAdapterError as exc:
        raise PaperNodeError(f"Hazelcast settings: {exc}") from None
    return HazelcastHealthService(hz_config, controller.signal_names, controller.invariant_signals,
                                  age_limits_s=age_limits_s(controller.config), heartbeat="record")


def build_paper_node(
    config: ControllerConfig,
    *,
    settings: PaperSettings | None = None,
    source: Any = None,
    strategies: Sequence[StrategyFactory] = (),
    guard_config: GuardConfig | None = None,
    environ: Mapping[str, str] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    build_only: bool = False,
) -> TradingNode:
    """Build (not run) a sandbox ``TradingNode`` running ``config``'s survival controller.

    Parameters
    ----------
    config : the controller config (promoted; checking promotion is the caller's job).
    settings : venue, instruments, sandbox account; defaults to BTCUSDT on Binance spot.
    source : an ``adapters.source.SignalSource``; default: a ``HazelcastHealthService`` for
        ``NOR_HZ_MEMBERS`` (and ``NOR_HZ_*`` / ``NOR_HZ_CONFIG``), started when the Actor
        starts and stopped when it stops.
    strategies : factories; each gets its own :class:`PostureGuard` (early checks, sizing); the
        node-level :class:`~adapters.nautilus.gate.PostureGate` enforces the rules on every order.
    environ : where credentials and ``NOR_HZ_MEMBERS`` are read (default ``os.environ``).
    loop : the node's event loop; default a new one (``node.run()`` runs it).
    build_only : the node will be disposed without running: no credential and no
        ``NOR_HZ_MEMBERS`` needed (placeholders; nothing connects).

    Raises
    ------
    PaperNodeError : a missing credential or setting, named.
    """
    if not isinstance(config, ControllerConfig):
        raise PaperNodeError(f"build_paper_node: expected a ControllerConfig, got {type(config).__name__}")
    settings = settings or PaperSettings()
    settings.check()
    env = os.environ if environ is None else environ
    key, secret = binance_credentials(settings, env, build_only)
    controller = SurvivalController(config)
    if source is None and build_only and not env.get("NOR_HZ_MEMBERS"):
        source = _NoGrid()
    health = source if source is not None else _health_service(env, controller)
    node = TradingNode(config=binance_node_config(settings, key, secret), loop=loop or asyncio.new_event_loop())
    node.add_data_client_factory(settings.venue, BinanceLiveDataClientFactory)
    node.add_exec_client_factory(settings.venue, SandboxLiveExecClientFactory)
    add_posture_gate(node, guard_config)  # every order of every component passes the posture rules
    feed = LiveSignalFeed(health, loop=node.get_event_loop(), owns_source=source is None)
    actor_config = SurvivalActorConfig(interval_s=settings.interval_s)
    node.trader.add_actor(SurvivalActor(controller, feed, actor_config))
    for factory in strategies:  # the gate maps postures onto the RiskEngine; the guards advise and size
        node.trader.add_strategy(factory(PostureGuard(guard_config)))
    node.build()
    return node
