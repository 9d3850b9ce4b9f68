"""The agent's ledger: cash, positions, realised and unrealised PnL, equity, drawdown, and its
journal in the grid. Identity: equity = initial cash + realised + unrealised - fees.

Every fill is booked exactly once (by fill id). Each booked fill is also written to the grid as
a journal entry, whose checksum the ledger-checksum service publishes.
"""

from __future__ import annotations

import bisect
from typing import Callable

from .orders import Fill

__all__ = ["Portfolio", "entry_hash"]

_MASK = (1 << 61) - 1


def entry_hash(seq: int, fill_id: int, qty: float, price: float) -> int:
    """A deterministic 61-bit hash of one journal entry."""
    return hash((seq, fill_id, qty, price)) & _MASK


class Portfolio:
    """Cash, positions and PnL as the agent knows them."""

    def __init__(self, capital: float) -> None:
        self.initial_cash = capital
        self.cash = capital
        self.positions: dict[int, float] = {}
        self.avg_price: dict[int, float] = {}
        self.opened_t: dict[int, float] = {}
        self.realized = 0.0
        self.fees = 0.0
        self.booked: set[int] = set()
        self.fills: list[Fill] = []
        self.adjustments: set[int] = set()
        self.peak_equity = capital
        self.journal: list[tuple[int, str, int]] = []
        self.journal_t: list[float] = []
        self.prefix_digest: list[int] = [0]

    def book(self, fill: Fill, now: float) -> bool:
        """Book ``fill`` once; returns False if it was already booked."""
        if fill.id in self.booked:
            return False
        self.booked.add(fill.id)
        fill.t_booked_s = now
        self.fills.append(fill)
        a = fill.asset
        signed = fill.side * fill.qty
        pos = self.positions.get(a, 0.0)
        if pos == 0.0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self.avg_price[a] = (abs(pos) * self.avg_price.get(a, 0.0) + fill.qty * fill.price) / abs(new)
            if pos == 0.0:
                self.opened_t[a] = now
        else:
            closed = min(abs(signed), abs(pos))
            self.realized += closed * (fill.price - self.avg_price[a]) * (1 if pos > 0 else -1)
            new = pos + signed
            if abs(new) > 1e-12 and (new > 0) != (pos > 0):
                self.avg_price[a] = fill.price
                self.opened_t[a] = now
        self.cash += fill.cash_flow
        self.fees += fill.fee
        if abs(new) <= 1e-12:
            self.positions.pop(a, None)
            self.avg_price.pop(a, None)
            self.opened_t.pop(a, None)
        else:
            self.positions[a] = new
        seq = len(self.journal) + 1
        h = entry_hash(seq, fill.id, fill.qty, fill.price)
        self.journal.append((seq, f"ledger.fill.{seq}", h))
        self.journal_t.append(now)
        self.prefix_digest.append(self.prefix_digest[-1] ^ h)
        return True

    def book_adjustment(self, adj_id: int, amount: float) -> bool:
        if adj_id in self.adjustments:
            return False
        self.adjustments.add(adj_id)
        self.cash += amount
        self.realized += amount
        return True

    def equity(self, mark: Callable[[int], float]) -> float:
        return self.cash + sum(q * mark(a) for a, q in self.positions.items())

    def unrealized(self, mark: Callable[[int], float]) -> float:
        """Unrealised PnL of the open positions at ``mark`` (before exit fees)."""
        return sum(q * (mark(a) - self.avg_price[a]) for a, q in self.positions.items())

    def gross_exposure(self, mark: Callable[[int], float]) -> float:
        return sum(abs(q) * mark(a) for a, q in self.positions.items())

    def drawdown(self, equity: float) -> float:
        """Drawdown from the peak equity (updates the peak)."""
        if equity > self.peak_equity:
            self.peak_equity = equity
        return max(0.0, 1.0 - equity / self.peak_equity) if self.peak_equity > 0 else 1.0

    def entries_before(self, t: float) -> int:
        """Journal entries written at or before ``t`` (entries are written in time order)."""
        return bisect.bisect_right(self.journal_t, t)
