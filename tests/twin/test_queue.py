"""The post-only maker queue model on known price paths (replayed files): queue position, traded
volume at the level, fills only when the price touches or crosses the level, partial fills,
adverse selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from twin import World, WorldConfig
from twin.orders import BUY, SELL, Order

SPAN_S = 1200


def _world(tmp_path: Path, prices: dict[str, np.ndarray], **exchange: float) -> World:
    """A world replaying ``prices`` (one per second); the agent sends no entries of its own."""
    path = tmp_path / "prices.arrow"
    n = len(next(iter(prices.values())))
    table = pa.table({"t_s": np.arange(n, dtype=float), **prices})
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    cfg = {"market": {"replay_path": str(path)}, "agent": {"max_positions": 0},
           "exchange": {"depth_notional": 100000.0, "maker_mean_fill_s": 20.0, "partial_fill_ratio": 0.0,
                        **exchange}}
    return World(WorldConfig.from_mapping(cfg, source="test"), "survival", 1)


def _place(w: World, orders: list[Order], asset: int, side: int, qty: float, at_s: float) -> None:
    """A post-only order at our side's touch (bid for a buy, ask for a sell), sent at ``at_s``."""
    def send() -> None:
        ex = w.ports["exchange"]
        bid, ask = ex.touch(asset, w.now)
        order = Order(90_000 + len(orders), w.now, asset, side, "maker", "entry", qty,
                      bid if side == BUY else ask, "APEX", 1.0, "test")
        orders.append(order)
        ex.receive(order)
    w.at(at_s, send)


def _fills(w: World, order: Order) -> list:
    return [f for f in w.ctx.exchange.fills if f.order_id == order.id]


def test_a_still_market_drains_the_queue_ahead_then_fills_in_parts_at_the_limit(tmp_path: Path) -> None:
    flat = np.full(SPAN_S, 100.0)
    w = _world(tmp_path, {"A": flat, "B": flat * 2})
    orders: list[Order] = []
    _place(w, orders, 0, BUY, 100.0, 0.5)
    w.run(300.0)
    (order,) = orders
    fills = _fills(w, order)
    depth = 100000.0 / order.price                       # the level's depth in units at the limit
    volume = depth * 1.0 / 20.0 * 0.5                    # traded per 1 s step, still market (z = 0)
    assert order.status == "filled" and sum(f.qty for f in fills) == pytest.approx(100.0)
    assert len(fills) >= 4                                # 100 units at ~25 per step: partial fills
    assert all(f.price == order.price and f.liquidity == "maker" for f in fills)
    assert all(f.qty <= volume * (1 + 1e-9) for f in fills)
    times = [f.t_s for f in fills]
    assert times == [times[0] + k for k in range(len(times))]          # one print per market step
    steps = times[-1]                                     # steps 1 .. last all traded at the level
    ahead_lo, ahead_hi = volume * steps - 100.0 - volume, volume * steps - 100.0
    assert 0.5 * depth - 1e-6 <= ahead_hi and ahead_lo <= 1.5 * depth   # queue ahead: the level's depth
    assert times[0] >= 0.5 * depth / volume               # nothing before the queue ahead has traded


def test_no_fill_while_the_price_is_away_and_a_move_through_fills_at_once_at_the_limit(tmp_path: Path) -> None:
    up = np.full(SPAN_S, 100.0)
    up[100:] = 100.05                                     # +5 bps at t = 100 s, and stays there
    down = np.full(SPAN_S, 100.0)
    down[100:] = 99.97                                    # -3 bps at t = 100 s
    w = _world(tmp_path, {"UP": up, "DOWN": down})
    orders: list[Order] = []
    # sent 4.5 s before the move: the queue ahead (>= 500 units, 25 traded per still step) stands
    _place(w, orders, 0, BUY, 1.0, 95.5)                  # left behind by the rise
    _place(w, orders, 0, SELL, 1.0, 95.5)                 # run over by the rise
    _place(w, orders, 1, BUY, 1.0, 95.5)                  # run over by the fall
    w.run(1000.0)
    left, run_up, run_down = orders
    assert not _fills(w, left) and left.status == "working"
    for order in (run_up, run_down):
        (fill,) = _fills(w, order)
        assert fill.t_s == 100.0 and fill.qty == 1.0 and fill.price == order.price
    assert w.ctx.exchange.queue.crossed == 2


def test_a_pulled_level_leaves_the_order_alone_at_the_touch_filled_by_the_steps_volume(tmp_path: Path) -> None:
    down = np.full(SPAN_S, 100.0)
    down[100:] = 99.99                                    # -1 bps: the bid falls through, the ask stays above
    w = _world(tmp_path, {"DOWN": down, "B": np.full(SPAN_S, 50.0)}, partial_fill_ratio=1.0)
    orders: list[Order] = []
    _place(w, orders, 0, BUY, 2000.0, 95.5)               # bigger than a step's volume
    w.run(400.0)
    fills = _fills(w, orders[0])
    assert fills[0].t_s == 100.0 and fills[0].qty < 2000.0               # partial, not a cross
    assert len(fills) > 1 and orders[0].status == "filled"
    assert all(f.price == orders[0].price for f in fills)


def test_fills_come_only_at_or_through_the_level_and_adverse_selection_follows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n_assets = 6
    log_p = np.log(100.0) + np.cumsum(rng.standard_normal((SPAN_S, n_assets)) * 1.2e-4, axis=0)
    mids = np.exp(log_p)
    w = _world(tmp_path, {f"A{i}": mids[:, i] for i in range(n_assets)})
    orders: list[Order] = []
    for k in range(55):
        for a in range(n_assets):
            _place(w, orders, a, BUY if (k + a) % 2 else SELL, 1.0, 5.5 + 20.0 * k)
    w.run(SPAN_S - 1.0)
    half, tol = 1e-4, 0.5e-4                              # half spread, half tick (2 bps, 1 bps)
    markout_bps = []
    placed_bps = []
    for order in orders:
        placed_bps.append(order.side * (mids[int(order.t_s), order.asset] - order.price) / order.price * 1e4)
        for fill in _fills(w, order):
            mid = mids[int(fill.t_s), fill.asset]
            near = mid * (1.0 - fill.side * half)        # our side's touch when it filled
            assert (near - fill.price) * fill.side <= fill.price * tol + 1e-12, "filled while away"
            markout_bps.append(fill.side * (mid - fill.price) / fill.price * 1e4)
    assert sum(o.filled_qty > 0 for o in orders) > 0.8 * len(orders)
    assert np.mean(placed_bps) == pytest.approx(1.0)      # posted at the touch: half a spread of edge
    assert np.mean(markout_bps) < 0.0                     # filled when the price came through: edge lost
