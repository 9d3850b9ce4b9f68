"""The ``TradingNode`` under a paper session, by feed: sandbox fills on the ``REPLAY`` venue for a
replay feed, or Nautilus's Binance data client with sandbox fills on ``BINANCE`` for live market
data. Building touches no network (``node.run()`` connects); a missing Binance key is a
:class:`PaperNodeError` naming it, unless the node is built only (placeholders, never connected).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal

from nautilus_trader.adapters.binance import BINANCE, BinanceLiveDataClientFactory
from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.factory import SandboxLiveExecClientFactory
from nautilus_trader.config import LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import InstrumentId, TraderId

from .paper import PaperSettings, binance_credentials, binance_node_config
from .prices import REPLAY_VENUE

__all__ = ["binance_node", "replay_node"]

_TIMEOUTS = dict(timeout_connection=5.0, timeout_reconciliation=1.0, timeout_portfolio=1.0,
                 timeout_disconnection=1.0, timeout_post_stop=0.0)


def replay_node(trader_id: str, log_level: str, starting_balance: str) -> TradingNode:
    """A node with sandbox execution on ``REPLAY`` and no data client (the replay feed is an Actor)."""
    execution = SandboxExecutionClientConfig(venue=REPLAY_VENUE, starting_balances=[starting_balance],
                                             account_type="MARGIN", oms_type="NETTING",
                                             default_leverage=Decimal(10))
    node = TradingNode(TradingNodeConfig(
        trader_id=TraderId(trader_id), logging=LoggingConfig(log_level=log_level),
        exec_clients={REPLAY_VENUE: execution}, **_TIMEOUTS), loop=asyncio.new_event_loop())
    node.add_exec_client_factory(REPLAY_VENUE, SandboxLiveExecClientFactory)
    return node


def binance_node(instrument_ids: Sequence[str], trader_id: str, log_level: str, starting_balance: str,
                 environ: Mapping[str, str], build_only: bool = False) -> tuple[TradingNode, list[InstrumentId]]:
    """A node with Binance market data for ``instrument_ids`` (loaded by the data client's instrument
    provider when it connects) and sandbox fills on ``BINANCE``; returns (node, instrument ids)."""
    settings = PaperSettings(instrument_ids=tuple(instrument_ids), starting_balances=(starting_balance,),
                             default_leverage=10.0, trader_id=trader_id, log_level=log_level)
    settings.check()
    key, secret = binance_credentials(settings, environ, build_only)
    config = binance_node_config(settings, key, secret)
    node = TradingNode(TradingNodeConfig(
        trader_id=config.trader_id, logging=config.logging, data_clients=config.data_clients,
        exec_clients=config.exec_clients, timeout_connection=30.0, timeout_reconciliation=5.0,
        timeout_portfolio=5.0, timeout_disconnection=5.0, timeout_post_stop=0.0), loop=asyncio.new_event_loop())
    node.add_data_client_factory(BINANCE, BinanceLiveDataClientFactory)
    node.add_exec_client_factory(BINANCE, SandboxLiveExecClientFactory)
    return node, [InstrumentId.from_str(i) for i in settings.instrument_ids]
