"""A price file for offline paper trading: ``t_s`` (float64 seconds, from 0, increasing) plus one
float64 price column per asset — the twin's replay format (Arrow IPC file/stream or Parquet).

:func:`load_price_table` reads and checks it (errors name the file and the column);
:func:`replay_instruments` makes one spot instrument per asset on the replay venue, and
:func:`quote_at` the quote a feed publishes for a price. ``"sample"`` names the bundled sample
(read as a file: the adapters import no twin code).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair, Instrument
from nautilus_trader.model.objects import Currency, Price, Quantity
from nautilus_trader.model.enums import CurrencyType

from .errors import PaperNodeError

__all__ = ["REPLAY_VENUE", "SAMPLE_PRICES", "PriceTable", "load_price_table", "quote_at", "replay_instruments"]

REPLAY_VENUE = "REPLAY"
SAMPLE_PRICES = Path(__file__).resolve().parents[2] / "twin" / "data" / "sample_prices.arrow"
"""The bundled sample (50 assets × 2 h at 5 s), read as a data file."""

_DEPTH = "1000.000"  # quote size on each side


@dataclass(frozen=True)
class PriceTable:
    """``t_s`` (n,), asset ``names`` (k,), ``prices`` (n, k)."""

    path: str
    t_s: np.ndarray
    names: tuple[str, ...]
    prices: np.ndarray

    @property
    def step_s(self) -> float:
        return float(self.t_s[1] - self.t_s[0]) if len(self.t_s) > 1 else 1.0

    @property
    def span_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0


def _read(path: Path) -> pa.Table:
    if not path.is_file():
        raise PaperNodeError(f"{path}: price file not found (expected an Arrow IPC or Parquet file)")
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        with pa.OSFile(str(path), "rb") as source:
            try:
                return ipc.open_file(source).read_all()
            except pa.ArrowInvalid:
                source.seek(0)
                return ipc.open_stream(source).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise PaperNodeError(f"{path}: not an Arrow IPC or Parquet file: {str(exc).splitlines()[0][:80]}") from None


def _column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    col = table.column(name)
    if not pa.types.is_floating(col.type):
        raise PaperNodeError(f"{path}: column {name!r}: expected float64, got {col.type}")
    if col.null_count:
        raise PaperNodeError(f"{path}: column {name!r}: expected no null values")
    return col.to_numpy().astype(np.float64)


def load_price_table(path: str | Path) -> PriceTable:
    """Read and check a price file (``"sample"`` = the bundled one); raises PaperNodeError."""
    p = SAMPLE_PRICES if str(path) == "sample" else Path(path)
    table = _read(p)
    if "t_s" not in table.column_names:
        raise PaperNodeError(f"{p}: column 't_s': missing (expected float64 seconds from 0)")
    t = _column(table, "t_s", p)
    if len(t) < 2 or t[0] != 0.0 or not np.all(np.diff(t) > 0):
        raise PaperNodeError(f"{p}: column 't_s': expected at least two strictly increasing seconds from 0")
    names = tuple(n for n in table.column_names if n != "t_s")
    if not names:
        raise PaperNodeError(f"{p}: expected at least one asset price column besides 't_s'")
    prices = np.column_stack([_column(table, n, p) for n in names])
    bad = [n for j, n in enumerate(names) if not np.all(np.isfinite(prices[:, j]) & (prices[:, j] > 0))]
    if bad:
        raise PaperNodeError(f"{p}: column {bad[0]!r}: expected finite positive prices")
    return PriceTable(str(p), t, names, prices)


def replay_instruments(names: tuple[str, ...], venue: str = REPLAY_VENUE) -> list[Instrument]:
    """One spot pair ``<NAME>USDT.<venue>`` per asset (price precision 6, size precision 3)."""
    out = []
    for name in names:
        base = Currency(name.upper(), 8, 0, name, CurrencyType.CRYPTO)
        symbol = Symbol(f"{name.upper()}USDT")
        out.append(CurrencyPair(
            instrument_id=InstrumentId(symbol, Venue(venue)), raw_symbol=symbol, base_currency=base,
            quote_currency=USDT, price_precision=6, size_precision=3, price_increment=Price.from_str("0.000001"),
            size_increment=Quantity.from_str("0.001"), ts_event=0, ts_init=0, lot_size=None,
            max_quantity=Quantity.from_str("1000000.000"), min_quantity=Quantity.from_str("0.001"),
            min_notional=None, max_price=None, min_price=None,
            margin_init=Decimal(0), margin_maint=Decimal(0), maker_fee=Decimal("0.0002"),
            taker_fee=Decimal("0.0004")))
    return out


def quote_at(instrument: Instrument, price: float, ts_event_ns: int, ts_init_ns: int,
             spread_bps: float = 2.0) -> QuoteTick:
    """A quote around ``price`` with a ``spread_bps`` spread (at least one tick)."""
    half = max(price * spread_bps * 0.5e-4, 1e-6)
    bid = instrument.make_price(max(price - half, 1e-6))
    ask = instrument.make_price(price + half)
    if ask <= bid:
        ask = instrument.make_price(bid.as_double() + 1e-6)
    size = Quantity.from_str(_DEPTH)
    return QuoteTick(instrument.id, bid, ask, size, size, ts_event_ns, ts_init_ns)

