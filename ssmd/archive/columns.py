"""The normalized archive's column contract and the record → Arrow column builders (pure).

Each record type has one Parquet dataset. Times are ``TIMESTAMP WITH TIME ZONE`` with
microsecond precision (UTC; DuckDB's plain TIMESTAMPTZ, so they compare with literals
without casts; the raw archive keeps the frames as received and the receive time in ns).
Trades and order-book updates, whose exchange time can come as RFC 3339 text finer than a
microsecond (older deltas, REST trades), also carry it exact as ``ts_ns`` (int64 ns); prices are ``DECIMAL(18,4)``
dollars, sizes ``DECIMAL(18,2)`` contracts, stored exactly (the scaled integers of ``ssmd.fixed`` become the decimals'
unscaled values, so "0.9990" stays 0.9990). Records are buffered as they come and
turned into columns and Arrow arrays in one go (``ColumnBuffer.to_table``).

Order book rows: a snapshot becomes one row per level (``kind='snapshot'``, ``size`` = the
level's size, ``level`` = its index within its side); an empty snapshot becomes one row
with ``side``/``price``/``size`` NULL so that the book reset is not lost. A delta is one
row (``kind='delta'``, ``size`` = the signed change).
"""

from __future__ import annotations

import array
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ssmd.records import OrderbookDelta, OrderbookSnapshot, Record

TS = pa.timestamp("us", tz="UTC")
PRICE = pa.decimal64(18, 4)
SIZE = pa.decimal64(18, 2)

# (column, arrow type, description) per record type: the data contract.
CONTRACT: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "trade": [
        ("ts", TS, "exchange time of the trade"),
        ("received_at", TS, "time the connector received the frame"),
        ("ticker", pa.string(), "market ticker"),
        ("trade_id", pa.string(), "exchange trade id"),
        ("price", PRICE, "YES price, dollars"),
        ("size", SIZE, "contracts"),
        ("side", pa.string(), "'yes' | 'no', the taker's side"),
        ("sid", pa.int64(), "subscription id"),
        ("seq", pa.int64(), "sequence number within the subscription"),
        ("is_block_trade", pa.bool_(), "block trade flag"),
        ("source", pa.string(), "'ws' (live WebSocket) | 'rest' (read from REST: gap heal, backfill)"),
        ("trade_id_derived", pa.bool_(), "trade_id derived from the trade's content (legacy frames without one)"),
        ("ts_ns", pa.int64(), "exchange time of the trade, ns since the epoch (ts to the nanosecond)"),
    ],
    "ticker": [
        ("ts", TS, "exchange time"),
        ("received_at", TS, "receive time"),
        ("ticker", pa.string(), "market ticker"),
        ("price", PRICE, "last trade price (NULL if never traded)"),
        ("yes_bid", PRICE, "best YES bid"),
        ("yes_ask", PRICE, "best YES ask"),
        ("yes_bid_size", SIZE, "size at the best bid"),
        ("yes_ask_size", SIZE, "size at the best ask"),
        ("last_trade_size", SIZE, "size of the last trade"),
        ("volume", SIZE, "contracts traded"),
        ("open_interest", SIZE, "open interest, contracts"),
        ("dollar_volume", pa.int64(), "dollar volume"),
        ("dollar_open_interest", pa.int64(), "dollar open interest"),
        ("sid", pa.int64(), "subscription id"),
        ("market_id", pa.string(), "Kalshi market UUID, when the frame carried it"),
        ("clock", pa.int64(), "Kalshi's global Clock counter (older tickers only)"),
    ],
    "orderbook": [
        ("ts", TS, "exchange time of the update"),
        ("received_at", TS, "receive time"),
        ("ticker", pa.string(), "market ticker"),
        ("kind", pa.string(), "'snapshot' (one row per level) | 'delta'"),
        ("side", pa.string(), "'yes' | 'no' bids (a NO bid at p is a YES ask at 1-p)"),
        ("price", PRICE, "level price in that side's outcome, dollars"),
        ("size", SIZE, "snapshot: level size; delta: signed change, contracts"),
        ("level", pa.int32(), "snapshot: index of the level within its side; delta: NULL"),
        ("sid", pa.int64(), "subscription id"),
        ("seq", pa.int64(), "sequence number"),
        ("market_id", pa.string(), "Kalshi market UUID, when the frame carried it"),
        ("ts_ns", pa.int64(), "exchange time of the update, ns since the epoch (ts to the nanosecond)"),
    ],
    "lifecycle": [
        ("ts", TS, "exchange time of the event"),
        ("received_at", TS, "receive time"),
        ("ticker", pa.string(), "market (or event) ticker"),
        ("kind", pa.string(), "wire message type"),
        ("event_type", pa.string(), "created, activated, determined, settled, ..."),
        ("open_ts", TS, "market open time"),
        ("close_ts", TS, "market close time"),
        ("determination_ts", TS, "determination time"),
        ("settled_ts", TS, "settlement time"),
        ("result", pa.string(), "result ('yes', 'no', ...)"),
        ("settlement_value", PRICE, "settlement value, dollars"),
        ("is_deactivated", pa.bool_(), "deactivation flag"),
        ("metadata", pa.string(), "other fields, compact JSON"),
        ("sid", pa.int64(), "subscription id"),
        ("seq", pa.int64(), "sequence number"),
    ],
}



def schema(record_type: str) -> pa.Schema:
    return pa.schema([(name, kind) for name, kind, _ in CONTRACT[record_type]])


def build_array(kind: pa.DataType, values: list[Any]) -> pa.Array:
    """Column list → Arrow array. Decimals (scaled ints) and timestamps (ns, stored as µs)
    are built as int64 and reinterpreted, so no value goes through a float or a Decimal."""
    if pa.types.is_timestamp(kind):
        ints = pa.array(values, pa.int64()) if None in values else pa.Array.from_buffers(
            pa.int64(), len(values), [None, pa.py_buffer(array.array("q", values))])
        return pc.divide(ints, 1000).view(kind)
    if pa.types.is_decimal(kind):
        if None in values:
            return pa.array(values, pa.int64()).view(kind)
        return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(array.array("q", values))])
    return pa.array(values, kind)


class ColumnBuffer:
    """Records of one type, turned into columns (one pass per column) by ``to_table``."""

    def __init__(self, record_type: str) -> None:
        self.type = record_type
        self.schema = schema(record_type)
        self.records: list[Any] = []
        self.rows = 0
        """Parquet rows the records make (a snapshot makes one per level)."""

    def __len__(self) -> int:
        return self.rows

    def append(self, record: Record) -> None:
        self.records.append(record)
        if isinstance(record, OrderbookSnapshot):
            self.rows += max(1, len(record.yes) + len(record.no))
        else:
            self.rows += 1

    def extend(self, records: list[Any]) -> None:
        if self.type != "orderbook":
            self.records.extend(records)
            self.rows += len(records)
            return
        for record in records:
            self.append(record)

    def columns(self) -> dict[str, list[Any]]:
        if self.type == "orderbook":
            return _book_columns(self.records)
        return {f.name: list(map(attrgetter(_ATTRS.get(f.name, f.name)), self.records)) for f in self.schema}

    def to_table(self) -> pa.Table:
        cols = self.columns()
        arrays = [build_array(field.type, cols[field.name]) for field in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def clear(self) -> None:
        self.records = []
        self.rows = 0


_ATTRS = {"ts_ns": "ts"}
"""Columns filled from a record attribute of another name."""
_BOOK = ("ts", "received_at", "ticker", "kind", "side", "price", "size", "level", "sid", "seq", "market_id", "ts_ns")


def _book_columns(records: list[OrderbookSnapshot | OrderbookDelta]) -> dict[str, list[Any]]:
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    for r in records:
        if isinstance(r, OrderbookDelta):
            add((r.ts, r.received_at, r.ticker, "delta", r.side, r.price, r.delta, None, r.sid, r.seq, r.market_id,
                 r.ts))
        elif not r.yes and not r.no:
            add((r.ts, r.received_at, r.ticker, "snapshot", None, None, None, None, r.sid, r.seq, r.market_id, r.ts))
        else:
            for side, levels in (("yes", r.yes), ("no", r.no)):
                for i, (price, size) in enumerate(levels):
                    add((r.ts, r.received_at, r.ticker, "snapshot", side, price, size, i, r.sid, r.seq,
                         r.market_id, r.ts))
    if not rows:
        return {name: [] for name in _BOOK}
    return {name: list(col) for name, col in zip(_BOOK, zip(*rows, strict=True), strict=True)}
