"""DOLPHIN's trading logic, pure (no SimPy, no Nautilus, no I/O): one source for the twin's agent
and the NautilusTrader ``DolphinStrategy``.

* :mod:`trading.logic` — vel_div plunge entries, asset ranking use, exits, bet sizing.
* :mod:`trading.scanner` / :mod:`trading.eigen` — the incremental eigenvalue scanner (v50, v750,
  vel_div, ranked assets).
"""

from .eigen import RollingLambda, full_lambda_max
from .logic import BUY, SELL, OrderIntent, TradingParams, bet_size, entry_intents, exit_intent, exit_reason, plunge
from .scanner import RANKED_ASSETS, EigenScanner, Scan

__all__ = ["BUY", "EigenScanner", "OrderIntent", "RANKED_ASSETS", "RollingLambda", "SELL", "Scan", "TradingParams",
           "bet_size", "entry_intents", "exit_intent", "exit_reason", "full_lambda_max", "plunge"]
