"""Round trips from a fills table: the strategy's win rate and profit factor.

A round trip of an asset runs from the fill that opens a position to the fill that brings it back
to flat; its result is the net cash flow of its fills minus their fees. Fills are taken in time
order (ties by fill id). A position still open at the end of the run is not a round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["TradeStats", "round_trips", "trade_stats", "FILL_TRADE_COLUMNS"]

FILL_TRADE_COLUMNS = ("id", "t_s", "asset", "side", "qty", "price", "fee")
_FLAT = 1e-9


@dataclass(frozen=True)
class TradeStats:
    """``trades`` closed round trips; ``win_rate`` share with a positive net result (NaN: none);
    ``profit_factor`` gross wins over gross losses (inf: no loss, NaN: no trade)."""

    trades: int
    win_rate: float
    profit_factor: float


def round_trips(fills: pa.Table) -> np.ndarray:
    """Net result (quote currency, after fees) of every closed round trip, in closing order."""
    if fills.num_rows == 0:
        return np.empty(0)
    cols = {c: fills.column(c).to_pylist() for c in FILL_TRADE_COLUMNS}
    order = sorted(range(fills.num_rows), key=lambda i: (cols["t_s"][i], cols["id"][i]))
    pos: dict[int, float] = {}
    flow: dict[int, float] = {}
    out = []
    for i in order:
        a = cols["asset"][i]
        signed = cols["qty"][i] * (1.0 if cols["side"][i] == "buy" else -1.0)
        before = pos.get(a, 0.0)
        after = before + signed
        flow[a] = flow.get(a, 0.0) - signed * cols["price"][i] - cols["fee"][i]
        pos[a] = after
        if abs(after) <= _FLAT * max(1.0, abs(before)):
            out.append(flow.pop(a))
            pos.pop(a)
    return np.asarray(out, dtype=np.float64)


def trade_stats(pnl: np.ndarray) -> TradeStats:
    """Win rate and profit factor of round-trip results ``pnl``."""
    if pnl.size == 0:
        return TradeStats(0, math.nan, math.nan)
    wins, losses = float(np.sum(pnl[pnl > 0])), float(-np.sum(pnl[pnl < 0]))
    pf = wins / losses if losses > 0 else math.inf
    return TradeStats(int(pnl.size), float(np.mean(pnl > 0)), pf)
