"""What a paper session leaves behind: the twin's trace tables, recorded from the running node.

:class:`PaperRecorder` (an Actor) records every survival decision with the signals the Actor read
for it (through :class:`RecordingSource`), order fills, account equity every second and the
session's events (posture changes, invariant breaks and restorations, scripted faults); at the
end it reads every order from Nautilus's cache. :meth:`PaperRecorder.tables` returns the tables
in the twin's schemas (``decisions``, ``signals_observed``, ``signals_true``, ``orders``,
``fills``, ``equity``, ``events``); a paper node has no ground truth, so ``signals_true`` repeats
what was observed. Times are seconds since the session started (``origin_ns``); decision times are
the controller's own ``now_s`` less that origin, so their steps are exactly those it used. On every
posture change and invariant event it calls ``say`` with one decision-log line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderStatus
from nautilus_trader.model.events import OrderAccepted, OrderDenied, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import Venue

from traceio import TraceMeta, trace_path, write_table

from .data import DECISION_DATA_TYPE, SurvivalDecisionData

__all__ = ["PaperRecorder", "RecordingSource", "TABLES", "write_tables"]

TABLES = ("decisions", "signals_observed", "signals_true", "orders", "fills", "equity", "events")
_F, _I, _S, _B = pa.float64(), pa.int64(), pa.string(), pa.bool_()
_NAN = math.nan
_STATUS = {OrderStatus.FILLED: "filled", OrderStatus.PARTIALLY_FILLED: "partially_filled",
           OrderStatus.CANCELED: "cancelled", OrderStatus.EXPIRED: "cancelled", OrderStatus.REJECTED: "rejected",
           OrderStatus.DENIED: "rejected"}


class RecordingSource:
    """A ``SignalSource`` wrapper that keeps the last signals read (for the trace)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.last: dict[str, float] = {}

    def signals(self, now_s: float) -> Mapping[str, float]:
        self.last = dict(self.source.signals(now_s))
        return self.last

    def __getattr__(self, name: str) -> Any:  # start/stop/on_invariant_change … of the wrapped source
        return getattr(self.source, name)


def _table(names: Sequence[str], types: Sequence[pa.DataType], rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in names]
    return pa.table({n: pa.array(list(c), type=t) for n, t, c in zip(names, types, cols)})


def write_tables(tables: Mapping[str, pa.Table], directory: str | Path,
                 meta: TraceMeta = TraceMeta("paper", 1)) -> list[Path]:
    """``<directory>/<name>.parquet`` per table (the twin's trace format, :mod:`traceio`)."""
    paths = []
    for name, table in tables.items():
        path = trace_path(Path(directory), name)
        write_table(path, table, meta)
        paths.append(path)
    return paths


class PaperRecorder(Actor):
    """Records a paper session in the twin's trace schemas (see the module docstring)."""

    def __init__(self, signal_names: Sequence[str], layer_names: Sequence[str], venue: str,
                 instrument_ids: Sequence[Any], recording: RecordingSource | None = None,
                 say: Callable[[str], None] | None = None, equity_interval_s: float = 1.0,
                 controller_origin_ns: int = 0) -> None:
        super().__init__(ActorConfig(component_id="PaperRecorder"))
        self.signal_names, self.layer_names = list(signal_names), list(layer_names)
        self.venue = Venue(venue)
        self.asset = {iid: i for i, iid in enumerate(instrument_ids)}
        self.recording, self.say = recording, say
        self.equity_interval_s = equity_interval_s
        self.controller_origin_ns = controller_origin_ns   # the Actor's feed origin: now_s = (ts - it) / 1e9
        self.origin_ns = 0
        self.decisions: list[tuple] = []
        self.observed: list[tuple] = []
        self.fills: list[tuple] = []
        self.equity_rows: list[tuple] = []
        self.events: list[tuple] = []
        self._last: SurvivalDecisionData | None = None
        self._peak = 0.0
        self._fees = 0.0
        self._order_ids: dict[str, int] = {}

    def t(self, ts_ns: int) -> float:
        return (ts_ns - self.origin_ns) / 1e9

    def on_start(self) -> None:
        self.origin_ns = self.clock.timestamp_ns()
        self.msgbus.subscribe(f"data.{DECISION_DATA_TYPE.topic}", self._on_decision)
        self.msgbus.subscribe("events.order.*", self._on_order_event)
        self.clock.set_timer("nor-recorder-equity", pd.Timedelta(timedelta(seconds=self.equity_interval_s)),
                             callback=lambda _e: self.record_equity())

    def on_stop(self) -> None:
        if "nor-recorder-equity" in self.clock.timer_names:
            self.clock.cancel_timer("nor-recorder-equity")
        self.record_equity()

    # -- decisions and the decision log ------------------------------------------------------

    def _on_decision(self, d: Any) -> None:
        if not isinstance(d, SurvivalDecisionData):
            return
        # the controller's own time: its float ``now_s`` (epoch seconds on a live node) less the origin —
        # an exact subtraction at that scale, so the trace's time steps are the ones the controller used
        t = d.t_s - (self.origin_ns - self.controller_origin_ns) / 1e9
        trigger = "tick" if d.trigger == "timer" else "invariant"
        layers = d.layers
        self.decisions.append((t, len(self.decisions), trigger, d.r_total, d.posture,
                               *[float(layers.get(n, _NAN)) for n in self.layer_names], d.entries_allowed,
                               d.taker_allowed, d.max_leverage, d.invariant_broken, "; ".join(d.reasons)))
        signals = self.recording.last if self.recording is not None else {}
        self.observed.append((t, len(self.observed), *[float(signals.get(n, _NAN)) for n in self.signal_names]))
        previous, self._last = self._last, d
        if previous is None or previous.posture != d.posture:
            self._log_line(t, "posture", d.posture, d, previous)
        if previous is not None and previous.invariant_broken != d.invariant_broken:
            self._log_line(t, "invariant", "broken" if d.invariant_broken else "restored", d, previous)

    def _log_line(self, t: float, kind: str, target: str, d: SurvivalDecisionData, previous: Any) -> None:
        was = previous.posture if previous is not None else "-"
        reasons = "; ".join(d.reasons) or "nominal"
        self.event(t, kind, target, {"from": was, "r_total": round(d.r_total, 6), "trigger": d.trigger,
                                     "reasons": list(d.reasons)})
        if self.say is not None:
            self.say(f"t={t:9.3f}s {kind:9s} {was} -> {d.posture} r_total={d.r_total:.4f} "
                     f"max_leverage={d.max_leverage:g} trigger={d.trigger} ({reasons})")

    def event(self, t_s: float | None, kind: str, target: str, detail: Mapping[str, Any] | None = None) -> None:
        """Add a row to ``events`` (``t_s`` None: now)."""
        t = self.t(self.clock.timestamp_ns()) if t_s is None else t_s
        self.events.append((float(t), len(self.events), kind, target, json.dumps(dict(detail or {}), sort_keys=True,
                                                                                   default=str)))

    # -- fills and equity ----------------------------------------------------------------------

    def _oid(self, client_order_id: Any) -> int:
        return self._order_ids.setdefault(client_order_id.value, len(self._order_ids) + 1)

    def _on_order_event(self, e: Any) -> None:
        if not isinstance(e, OrderFilled):
            return
        order = self.cache.order(e.client_order_id)
        fee = e.commission.as_double() if e.commission is not None else 0.0
        self._fees += fee
        t = self.t(e.ts_event)
        self.fills.append((len(self.fills) + 1, self._oid(e.client_order_id), t, self.t(e.ts_init),
                           self.asset.get(e.instrument_id, -1), "buy" if e.order_side == OrderSide.BUY else "sell",
                           e.last_qty.as_double(), e.last_px.as_double(), fee,
                           "maker" if e.liquidity_side == LiquiditySide.MAKER else "taker",
                           "exit" if order is not None and order.is_reduce_only else "entry"))

    def record_equity(self) -> None:
        account = self.portfolio.account(self.venue) if self.portfolio is not None else None
        if account is None:
            return
        cash = sum(m.as_double() for m in account.balances_total().values())
        unrealized = sum(m.as_double() for m in self.portfolio.unrealized_pnls(self.venue).values())
        realized = sum(m.as_double() for m in self.portfolio.realized_pnls(self.venue).values())
        equity = cash + unrealized
        self._peak = max(self._peak, equity)
        exposure = sum(abs(m.as_double()) for m in self.portfolio.net_exposures(self.venue).values())
        positions = len(self.cache.positions_open(venue=self.venue))
        self.equity_rows.append((self.t(self.clock.timestamp_ns()), equity, cash, exposure,
                                 1.0 - equity / self._peak if self._peak > 0 else 0.0, positions, realized,
                                 self._fees, equity, unrealized))

    # -- tables ------------------------------------------------------------------------------

    def _posture_at(self, t: float) -> tuple[str, float]:
        best = ("NONE", 0.0)
        for row in self.decisions:
            if row[0] > t:
                break
            best = (row[4], row[3])
        return best

    def _order_row(self, o: Any) -> tuple:
        t = self.t(o.ts_init)
        posture, r_total = self._posture_at(t)
        arrive = next((self.t(e.ts_event) for e in o.events if isinstance(e, OrderAccepted)), _NAN)
        done = self.t(o.ts_last) if o.is_closed else _NAN
        reason = next((e.reason for e in o.events if isinstance(e, (OrderDenied, OrderRejected))), "")
        fee = sum(e.commission.as_double() for e in o.events if isinstance(e, OrderFilled) and e.commission)
        price = o.price.as_double() if o.has_price else (o.avg_px if o.avg_px else _NAN)
        kind = "maker" if o.is_post_only else "taker"
        return (self._oid(o.client_order_id), t, self.asset.get(o.instrument_id, -1),
                "buy" if o.side == OrderSide.BUY else "sell", kind, "exit" if o.is_reduce_only else "entry",
                o.quantity.as_double(), float(price), _STATUS.get(o.status, "sent"), posture, r_total,
                o.filled_qty.as_double(), float(o.avg_px) if o.filled_qty.as_double() > 0 else _NAN, fee,
                reason or ",".join(o.tags or []), arrive, done)

    def tables(self) -> dict[str, pa.Table]:
        """The session so far in the twin's schemas."""
        layers = [f"layer.{n}" for n in self.layer_names]
        orders = sorted(self.cache.orders(), key=lambda o: (o.ts_init, o.client_order_id.value))
        for o in orders:
            self._oid(o.client_order_id)
        sig = ["t_s", "step", *self.signal_names]
        sig_types = [_F, _I] + [_F] * len(self.signal_names)
        return {
            "decisions": _table(["t_s", "step", "trigger", "r_total", "posture", *layers, "entries_allowed",
                                 "taker_allowed", "max_leverage", "invariant_broken", "reasons"],
                                [_F, _I, _S, _F, _S, *[_F] * len(layers), _B, _B, _F, _B, _S], self.decisions),
            "signals_observed": _table(sig, sig_types, self.observed),
            "signals_true": _table(sig, sig_types, self.observed),
            "orders": _table(["id", "t_s", "asset", "side", "kind", "intent", "qty", "price", "status", "posture",
                              "r_total", "filled_qty", "avg_fill_price", "fee", "reason", "t_arrive_s", "t_done_s"],
                             [_I, _F, _I, _S, _S, _S, _F, _F, _S, _S, _F, _F, _F, _F, _S, _F, _F],
                             [self._order_row(o) for o in orders]),
            "fills": _table(["id", "order_id", "t_s", "t_booked_s", "asset", "side", "qty", "price", "fee",
                             "liquidity", "intent"], [_I, _I, _F, _F, _I, _S, _F, _F, _F, _S, _S], self.fills),
            "equity": _table(["t_s", "equity", "cash", "gross_exposure", "drawdown", "positions", "realized_pnl",
                              "fees", "exchange_equity", "unrealized_pnl"], [_F, _F, _F, _F, _F, _I, _F, _F, _F, _F],
                             self.equity_rows),
            "events": _table(["t_s", "seq", "kind", "target", "detail"], [_F, _I, _S, _S, _S],
                             sorted(self.events, key=lambda e: (e[0], e[1]))),
        }
