"""The unit of every trace column, written into each trace file's schema metadata (``units``).

Names follow the project's units-last rule (``age_s``, ``latency_ms``, ``depth_ratio``), so most units come
from the name's suffix; the rest are listed here. Strings are ``text`` and booleans ``bool``; a numeric
column this module does not know gets ``""`` (unknown) rather than a guess.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["unit_of", "units_of"]

_SUFFIXES = (("_ms", "ms"), ("_s", "s"), ("_ratio", "ratio"), ("_pnl", "quote"))
_NAMED = {
    # decisions
    "step": "count", "r_total": "fraction", "max_leverage": "x equity", "orders_before": "count",
    # signals (beyond the suffix rule); 1/0 invariant flags
    "hz.quorum": "flag 1/0", "ledger.consistent": "flag 1/0", "data.checksum_ok": "flag 1/0",
    "exf.shock": "fraction", "portfolio.drawdown": "fraction",
    # orders, fills
    "id": "id", "order_id": "id", "asset": "id", "qty": "base", "filled_qty": "base", "price": "quote/base",
    "avg_fill_price": "quote/base", "fee": "quote",
    # equity
    "equity": "quote", "cash": "quote", "gross_exposure": "quote", "drawdown": "fraction", "positions": "count",
    "fees": "quote", "exchange_equity": "quote",
    # events
    "seq": "count",
}
_PREFIXES = (("layer.", "fraction"),)


def unit_of(name: str, kind: pa.DataType) -> str:
    """The unit of column ``name`` of type ``kind`` (``""`` if unknown)."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_boolean(kind):
        return "bool"
    if name in _NAMED:
        return _NAMED[name]
    for prefix, unit in _PREFIXES:
        if name.startswith(prefix):
            return unit
    for suffix, unit in _SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def units_of(schema: pa.Schema) -> dict[str, str]:
    """Column name -> unit, in schema order."""
    return {f.name: unit_of(f.name, f.type) for f in schema}
