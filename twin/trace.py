"""The trace recorder: row buffers during the run, Arrow tables and trace files at the end.

Tables (one ``<table>.parquet`` file each, written by :mod:`traceio`):

* ``decisions``: t_s, step, trigger (tick|invariant), r_total, posture, ``layer.<name>`` per layer,
  entries_allowed, taker_allowed, max_leverage, invariant_broken, reasons ("; "-joined), orders_before
  (how many orders the agent had sent when this decision was made: orders table rows ``< orders_before``
  were sent before it, the rest after — the order of events at one instant, which timestamps cannot give)
* ``signals_observed`` / ``signals_true``: t_s, step, then one float64 column per signal
* ``orders``: id, t_s, asset, side, kind, intent, qty, price, status, posture, r_total, filled_qty,
  avg_fill_price, fee, reason, t_arrive_s, t_done_s, t_cancel_s (first cancel sent; NaN: none)
* ``fills``: id, order_id, t_s, t_booked_s, asset, side, qty, price, fee, liquidity, intent
* ``equity``: t_s, equity, cash, gross_exposure, drawdown, positions, realized_pnl, fees, exchange_equity,
  unrealized_pnl (equity = starting cash + realized_pnl + unrealized_pnl - fees)
* ``events``: t_s, seq, kind, target, detail (JSON, sorted keys)
"""

from __future__ import annotations

import json
import math
import operator
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pyarrow as pa

from controller import Decision, Posture
from traceio import TraceMeta, trace_path, write_table

from .orders import Fill, Order

__all__ = ["Recorder", "Trace", "TABLES"]

TABLES = ("decisions", "signals_observed", "signals_true", "orders", "fills", "equity", "events")
_F, _I, _S, _B = pa.float64(), pa.int64(), pa.string(), pa.bool_()
_POSTURE_NAMES = {p: p.name for p in Posture}      # (an enum's .name is a descriptor call: ~1 µs a step)


def _table(names: Iterable[str], types: Iterable[pa.DataType], rows: list[tuple]) -> pa.Table:
    names, types = list(names), list(types)
    schema = pa.schema([pa.field(n, t) for n, t in zip(names, types)])
    if rows and all(t in (_F, _I) for t in types):      # all numbers: one float64 matrix (ints < 2**53 exact)
        m = np.array(rows, dtype=np.float64)
        return pa.table([pa.array(m[:, j].astype(np.int64) if t == _I else np.ascontiguousarray(m[:, j]), type=t)
                         for j, t in enumerate(types)], schema=schema)
    cols = list(zip(*rows)) if rows else [() for _ in names]
    return pa.table([pa.array(list(c), type=t) for c, t in zip(cols, types)], schema=schema)


class Recorder:
    """Row buffers of one run."""

    def __init__(self, signals: tuple[str, ...]) -> None:
        self.signals = signals
        self.keep_signals = True      # False: no signals_observed/signals_true rows (and no ground truth computed)
        self._pick = (operator.itemgetter(*signals) if len(signals) > 1 else
                      lambda m: tuple(m[n] for n in signals))          # (itemgetter of one name gives no tuple)
        self.layer_names: tuple[str, ...] | None = None
        self._aligned: tuple[str, ...] | None = None      # a compiled config's layer names seen in our order
        self.decisions: list[tuple] = []
        self.observed: list[tuple] = []
        self.true: list[tuple] = []
        self.equity_rows: list[tuple] = []
        self.events: list[tuple] = []
        self._orders: list[Order] = []

    def bind_orders(self, orders: list[Order]) -> None:
        """The agent's list of sent orders (in send order), so each decision row records how many preceded it."""
        self._orders = orders

    def step(self, now: float, trigger: str, d: Any, signals: Mapping[str, float],
             truth: Mapping[str, float] | None) -> None:
        step = len(self.decisions)
        posture = d.posture
        self.decisions.append((now, step, trigger, d.r_total,
                               _POSTURE_NAMES[posture] if type(posture) is Posture else posture.name,
                               *self._layer_row(d),
                               bool(d.entries_allowed), bool(d.taker_allowed), d.max_leverage,
                               bool(getattr(d, "invariant_broken", False)), "; ".join(d.reasons),
                               len(self._orders)))
        if not self.keep_signals:
            return
        pick = self._pick
        self.observed.append((now, step) + pick(signals))     # numbers: the tables are built as float64
        self.true.append((now, step) + pick(truth))

    def _layer_row(self, d: Any) -> list[float]:
        """The decision's layer values in ``layer_names`` order (NaN for a layer it lacks). A survival
        controller's decision gives them in its compiled order: once that order is seen to be ours, it is read
        without building the name -> value mapping (the same floats)."""
        if type(d) is Decision and d.detail.compiled.layer_names is self._aligned:
            return d.detail.layer_values()
        layers = d.layers
        if self.layer_names is None:
            self.layer_names = tuple(layers)
        if type(d) is Decision and tuple(layers) == self.layer_names:
            self._aligned = d.detail.compiled.layer_names
        return [layers.get(n, math.nan) for n in self.layer_names]

    def equity(self, now: float, *values: float) -> None:
        self.equity_rows.append((now, *values))

    def event(self, t_s: float, kind: str, target: str, detail: Mapping[str, Any]) -> None:
        self.events.append((float(t_s), len(self.events), kind, target,
                            json.dumps(detail, sort_keys=True, default=_json_default)))

    def build(self, now: float, orders: list[Order], fills: list[Fill]) -> "Trace":
        layer_names = self.layer_names or ()
        sig_names = ["t_s", "step", *self.signals]
        sig_types = [_F, _I] + [_F] * len(self.signals)
        tables = {
            "decisions": _table(
                ["t_s", "step", "trigger", "r_total", "posture", *[f"layer.{n}" for n in layer_names],
                 "entries_allowed", "taker_allowed", "max_leverage", "invariant_broken", "reasons", "orders_before"],
                [_F, _I, _S, _F, _S, *[_F] * len(layer_names), _B, _B, _F, _B, _S, _I], self.decisions),
            "signals_observed": _table(sig_names, sig_types, self.observed),
            "signals_true": _table(sig_names, sig_types, self.true),
            "orders": _orders_table(orders),
            "fills": _fills_table(fills),
            "equity": _table(["t_s", "equity", "cash", "gross_exposure", "drawdown", "positions", "realized_pnl",
                              "fees", "exchange_equity", "unrealized_pnl"], [_F, _F, _F, _F, _F, _I, _F, _F, _F, _F],
                             self.equity_rows),
            "events": _table(["t_s", "seq", "kind", "target", "detail"], [_F, _I, _S, _S, _S],
                             sorted((e for e in self.events if e[0] <= now), key=lambda e: (e[0], e[1]))),
        }
        return Trace(tables)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _orders_table(orders: list[Order]) -> pa.Table:
    rows = [(o.id, o.t_s, o.asset, "buy" if o.side > 0 else "sell", o.kind, o.intent, o.qty, o.price, o.status,
             o.posture, o.r_total, o.filled_qty, (o.fill_notional / o.filled_qty) if o.filled_qty else math.nan,
             o.fee, o.reason, o.t_arrive_s, o.t_done_s, o.t_cancel_s) for o in orders]
    return _table(["id", "t_s", "asset", "side", "kind", "intent", "qty", "price", "status", "posture", "r_total",
                   "filled_qty", "avg_fill_price", "fee", "reason", "t_arrive_s", "t_done_s", "t_cancel_s"],
                  [_I, _F, _I, _S, _S, _S, _F, _F, _S, _S, _F, _F, _F, _F, _S, _F, _F, _F], rows)


def _fills_table(fills: list[Fill]) -> pa.Table:
    rows = [(f.id, f.order_id, f.t_s, f.t_booked_s, f.asset, "buy" if f.side > 0 else "sell", f.qty, f.price, f.fee,
             f.liquidity, f.intent) for f in fills]
    return _table(["id", "order_id", "t_s", "t_booked_s", "asset", "side", "qty", "price", "fee", "liquidity",
                   "intent"], [_I, _I, _F, _F, _I, _S, _F, _F, _F, _S, _S], rows)


class Trace:
    """The tables of one run (``tables``: name -> pyarrow.Table), writable as trace files."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.tables = tables

    def __getitem__(self, name: str) -> pa.Table:
        return self.tables[name]

    def write(self, directory: str | Path, meta: TraceMeta = TraceMeta("", 0)) -> list[Path]:
        """Write ``<directory>/<table>.parquet`` for every table (``meta``: the scenario and seed they
        belong to, recorded in each file); returns the paths."""
        paths = []
        for name in TABLES:
            path = trace_path(Path(directory), name)
            write_table(path, self.tables[name], meta)
            paths.append(path)
        return paths
