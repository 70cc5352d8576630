"""The history datasets ``candles`` and ``settlements``: records and column contract (pure).

Same conventions as the normalized archive (``ssmd.archive.columns``): times are
microsecond ``TIMESTAMPTZ``, prices exact ``DECIMAL(18,4)`` dollars, sizes ``DECIMAL(18,2)``
contracts, built from the scaled integers of ``ssmd.fixed`` without a float. Each dataset
lives under ``{normalized bucket}/{env}/{feed}/v1/{type}/date=YYYY-MM-DD/`` like the others.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, ClassVar

import msgspec
import pyarrow as pa

from ssmd.archive.columns import PRICE, SIZE, TS, build_array


class Candle(msgspec.Struct, frozen=True, kw_only=True):
    """One candlestick of one market. Prices are 1e-4 dollars, sizes 1e-2 contracts, times ns."""

    TYPE: ClassVar[str] = "candles"
    ticker: str
    period: str
    """``1m``, ``1h`` or ``1d``."""
    end_period_ts: int
    """End of the period (the candle covers the ``period`` before it)."""
    open: int | None
    """Trade prices (None when nothing traded in the period)."""
    high: int | None
    low: int | None
    close: int | None
    yes_bid_open: int | None
    yes_bid_high: int | None
    yes_bid_low: int | None
    yes_bid_close: int | None
    yes_ask_open: int | None
    yes_ask_high: int | None
    yes_ask_low: int | None
    yes_ask_close: int | None
    volume: int | None
    open_interest: int | None
    received_at: int
    """When the candle was fetched."""
    source: str = "rest"


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """How a market settled, with the market facts a research query joins on."""

    TYPE: ClassVar[str] = "settlements"
    ticker: str
    event_ticker: str
    series_ticker: str
    market_type: str
    title: str
    status: str
    result: str
    """``yes``, ``no`` or ``scalar``."""
    settlement_value: int | None
    """Payout per YES contract, 1e-4 dollars."""
    determination_ts: int | None
    settled_ts: int | None
    open_ts: int | None
    close_ts: int | None
    expiration_value: str | None
    volume: int | None
    open_interest: int | None
    received_at: int
    source: str = "rest"


_OHLC = ("open", "high", "low", "close")
CONTRACT: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "candles": [
        ("ticker", pa.string(), "market ticker"),
        ("period", pa.string(), "'1m' | '1h' | '1d'"),
        ("end_period_ts", TS, "end of the period"),
        *[(n, PRICE, f"trade price {n} in the period, dollars (NULL: no trade)") for n in _OHLC],
        *[(f"yes_bid_{n}", PRICE, f"best YES bid, {n}") for n in _OHLC],
        *[(f"yes_ask_{n}", PRICE, f"best YES ask, {n}") for n in _OHLC],
        ("volume", SIZE, "contracts traded in the period"),
        ("open_interest", SIZE, "open interest at the end of the period, contracts"),
        ("received_at", TS, "time the candle was fetched"),
        ("source", pa.string(), "'rest'"),
    ],
    "settlements": [
        ("ticker", pa.string(), "market ticker"),
        ("event_ticker", pa.string(), "parent event"),
        ("series_ticker", pa.string(), "series (empty when the market object does not say)"),
        ("market_type", pa.string(), "'binary' | 'scalar'"),
        ("title", pa.string(), "market question"),
        ("status", pa.string(), "market status when fetched ('finalized')"),
        ("result", pa.string(), "'yes' | 'no' | 'scalar'"),
        ("settlement_value", PRICE, "payout per YES contract, dollars"),
        ("determination_ts", TS, "when the result was determined"),
        ("settled_ts", TS, "when the market settled"),
        ("open_ts", TS, "trading opened"),
        ("close_ts", TS, "trading closed"),
        ("expiration_value", pa.string(), "value of the underlying used to settle"),
        ("volume", SIZE, "contracts traded over the market's life"),
        ("open_interest", SIZE, "open interest when fetched, contracts"),
        ("received_at", TS, "time the market object was fetched"),
        ("source", pa.string(), "'rest'"),
    ],
}
TYPES: tuple[str, ...] = tuple(CONTRACT)


def schema(dataset: str) -> pa.Schema:
    return pa.schema([(name, kind) for name, kind, _ in CONTRACT[dataset]])


def to_table(dataset: str, records: list[Any]) -> pa.Table:
    """Records of one dataset → an Arrow table of its contract (one pass per column)."""
    target = schema(dataset)
    arrays = [build_array(f.type, list(map(attrgetter(f.name), records))) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)
