"""Replay a day from the archive, in timestamp order (one path for CLI, gateway, simulator).

* ``replay_records(catalog, ReplayQuery)`` → ``ssmd.records`` objects (order books as
  ``OrderbookSnapshot``/``OrderbookDelta``), merged across types by (ts, received_at).
* ``replay_lines(catalog, query)`` → NDJSON lines in the gateway's client shapes
  (``ssmd.client_messages``) with ``"replay": true``. Trades and tickers are rendered by
  DuckDB (vectorised, the fast path); order books are rebuilt with ``ssmd.book.OrderBook``.
* ``replay_raw(env, storage, query)`` → the original frames from the raw archive.
* ``paced(items, speed, ...)`` spaces items out in exchange time divided by ``speed``.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import msgspec
import pyarrow as pa

from ssmd import client_messages as cm
from ssmd.book import OrderBook
from ssmd.catalog.sqlgen import ORDERBOOK_SQL, RECORD_SQL, line_sql, where_clause
from ssmd.records import RECORD_TYPES, Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade

T = TypeVar("T")
_BATCH = 65_536


class ReplayQuery(msgspec.Struct, kw_only=True):
    date: str
    symbols: list[str] | None = None
    types: list[str] = msgspec.field(default_factory=lambda: list(RECORD_TYPES))
    start_ns: int | None = None
    end_ns: int | None = None
    """Exclusive."""


def _reader(catalog: Any, sql: str, params: list[Any]) -> Iterator[pa.RecordBatch]:
    """Arrow batches of a query on its own cursor, closed however the caller stops."""
    cursor = catalog.con.cursor()
    reader = cursor.sql(sql, params=params).to_arrow_reader(_BATCH)
    try:
        yield from reader
    finally:
        reader.close()
        cursor.close()


def _batches(catalog: Any, sql: str, params: list[Any]) -> Iterator[dict[str, list[Any]]]:
    for batch in _reader(catalog, sql, params):
        yield batch.to_pydict()


def _rows(catalog: Any, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    for cols in _batches(catalog, sql, params):
        yield from zip(*cols.values(), strict=True)


def _records(catalog: Any, record_type: str, q: ReplayQuery) -> Iterator[tuple[int, int, Record]]:
    where, params = where_clause(None, q.symbols, q.start_ns, q.end_ns)
    source = catalog.day_source(record_type, q.date)
    if record_type == "orderbook":
        yield from _orderbook_records(catalog, source, where, params)
        return
    sql = RECORD_SQL[record_type].format(source=source, where=where)
    if record_type == "trade":
        for ts, rec, tk, tid, px, sz, side, sid, seq, blk, src, derived in _rows(catalog, sql, params):
            yield ts, rec, Trade(ts=ts, received_at=rec, ticker=tk, trade_id=tid, price=px, size=sz, side=side,
                                 sid=sid, seq=seq, is_block_trade=bool(blk), source=src, trade_id_derived=derived)
    elif record_type == "ticker":
        for row in _rows(catalog, sql, params):
            yield row[0], row[1], Ticker(ts=row[0], received_at=row[1], ticker=row[2], price=row[3], yes_bid=row[4],
                                         yes_ask=row[5], yes_bid_size=row[6], yes_ask_size=row[7],
                                         last_trade_size=row[8], volume=row[9], open_interest=row[10],
                                         dollar_volume=row[11], dollar_open_interest=row[12], sid=row[13],
                                         market_id=row[14], clock=row[15])
    else:
        for row in _rows(catalog, sql, params):
            yield row[0], row[1], Lifecycle(
                ts=row[0], received_at=row[1], ticker=row[2], kind=row[3], event_type=row[4], open_ts=row[5],
                close_ts=row[6], determination_ts=row[7], settled_ts=row[8], result=row[9],
                settlement_value=row[10], is_deactivated=row[11], metadata=row[12], sid=row[13], seq=row[14])


def _orderbook_records(catalog: Any, source: str, where: str,
                       params: list[Any]) -> Iterator[tuple[int, int, Record]]:
    """Rows → updates; consecutive snapshot rows of one (ticker, sid, seq, ts) form one snapshot."""
    pending: list[tuple[Any, ...]] = []

    def snapshot() -> tuple[int, int, Record]:
        first = pending[0]
        yes = tuple((r[5], r[6]) for r in pending if r[4] == "yes")
        no = tuple((r[5], r[6]) for r in pending if r[4] == "no")
        return first[0], first[1], OrderbookSnapshot(ts=first[0], received_at=first[1], ticker=first[2], yes=yes,
                                                     no=no, sid=first[7], seq=first[8], market_id=first[9])

    for row in _rows(catalog, ORDERBOOK_SQL.format(source=source, where=where), params):
        ts, rec, tk, kind, side, px, sz, sid, seq, market_id = row
        if pending and (kind != "snapshot" or (tk, sid, seq, ts) != (pending[0][2], pending[0][7], pending[0][8],
                                                                      pending[0][0])):
            yield snapshot()
            pending = []
        if kind == "snapshot":
            pending.append(row)
        else:
            yield ts, rec, OrderbookDelta(ts=ts, received_at=rec, ticker=tk, side=side, price=px, delta=sz, sid=sid,
                                          seq=seq, market_id=market_id)
    if pending:
        yield snapshot()


def replay_records(catalog: Any, q: ReplayQuery) -> Iterator[Record]:
    """Records of a day in (ts, received_at) order."""
    streams = [_records(catalog, t, q) for t in RECORD_TYPES if t in q.types]
    for _, _, record in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield record


def message(record: Record, books: dict[str, OrderBook]) -> dict[str, Any]:
    """The client message of a replayed record (order books rebuilt per ticker)."""
    if isinstance(record, Trade):
        out = cm.trade_message(record)
    elif isinstance(record, Ticker):
        out = cm.ticker_message(record)
    elif isinstance(record, Lifecycle):
        out = cm.lifecycle_message(record)
    else:
        book = books.get(record.ticker)
        if book is None:
            book = books[record.ticker] = OrderBook(record.ticker)
        book.apply(record)
        out = cm.orderbook_message(book, snapshot=isinstance(record, OrderbookSnapshot))
    out["replay"] = True
    return out


_encode = msgspec.json.Encoder().encode


def replay_messages(catalog: Any, q: ReplayQuery) -> Iterator[dict[str, Any]]:
    books: dict[str, OrderBook] = {}
    for record in replay_records(catalog, q):
        yield message(record, books)


def replay_lines(catalog: Any, q: ReplayQuery) -> Iterator[tuple[int, str]]:
    """(ts ns, NDJSON line) in order; trades and tickers come pre-rendered from DuckDB."""
    fast = [t for t in ("trade", "ticker") if t in q.types]
    slow = [t for t in ("orderbook", "lifecycle") if t in q.types]
    streams: list[Iterator[tuple[int, int, str]]] = []
    if fast:
        where, params = where_clause(None, q.symbols, q.start_ns, q.end_ns)
        sql = line_sql(fast, where, {t: catalog.day_source(t, q.date) for t in fast})
        streams.append(_rows(catalog, sql, params * len(fast)))
    if slow:
        books: dict[str, OrderBook] = {}
        sub = msgspec.structs.replace(q, types=slow)
        streams.append((r.ts, r.received_at, _encode(message(r, books)).decode()) for r in replay_records(catalog, sub))
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda i: (i[0], i[1]))
    for ts, _, line in merged:
        yield ts, line


def replay_chunks(catalog: Any, q: ReplayQuery) -> Iterator[str]:
    """NDJSON text in chunks (many lines each), for unpaced output: trades and tickers go
    from DuckDB's Arrow batches to text without a Python object per message."""
    if set(q.types) <= {"trade", "ticker"}:
        where, params = where_clause(None, q.symbols, q.start_ns, q.end_ns)
        types = [t for t in ("trade", "ticker") if t in q.types]
        sql = line_sql(types, where, {t: catalog.day_source(t, q.date) for t in types}, newline=True)
        for batch in _reader(catalog, sql, params * len(types)):
            if batch.num_rows:
                yield _text_of(batch.column(2))
        return
    chunk: list[str] = []
    for _, line in replay_lines(catalog, q):
        chunk.append(line)
        if len(chunk) >= 4096:
            yield "\n".join(chunk) + "\n"
            chunk = []
    if chunk:
        yield "\n".join(chunk) + "\n"


def _text_of(lines: pa.Array) -> str:
    """The concatenation of a string column's values, straight from its Arrow data buffer
    (the values are contiguous between the first and the last offset)."""
    if lines.null_count or not (pa.types.is_string(lines.type) or pa.types.is_large_string(lines.type)):
        return "".join(str(v) for v in lines.to_pylist() if v is not None)
    _, offsets_buf, data = lines.buffers()
    offsets = memoryview(offsets_buf).cast("q" if pa.types.is_large_string(lines.type) else "i")
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(data)[start:end].tobytes().decode("utf-8")


def paced(items: Iterable[tuple[int, T]], speed: float | None, *, monotonic: Callable[[], float],
          sleep: Callable[[float], None]) -> Iterator[T]:
    """Yield ``(ts_ns, item)`` items' payloads so that exchange-time gaps take ``gap / speed``
    seconds; ``speed`` None (max) yields as fast as possible."""
    first_ts: int | None = None
    start = 0.0
    for ts, item in items:
        if speed is not None:
            if first_ts is None:
                first_ts, start = ts, monotonic()
            else:
                wait = (ts - first_ts) / 1e9 / speed - (monotonic() - start)
                if wait > 1e-4:  # below 0.1 ms is noise, not pacing
                    sleep(wait)
        yield item


def parse_speed(text: str) -> float | None:
    """"1x", "10x", "0.5x" → factor; "max" → None."""
    value = text.strip().lower()
    if value == "max":
        return None
    try:
        factor = float(value.removesuffix("x"))
    except ValueError:
        factor = 0.0
    if factor <= 0:
        from ssmd.errors import SsmdError

        raise SsmdError(f"--speed {text!r}: use a factor like 1x or 10x, or max")
    return factor


def raw_mentions(frame: str, symbols: list[str] | None) -> bool:
    return not symbols or any(json.dumps(s) in frame for s in symbols)
