"""Normalized records → Parquet part files: sealed batches written in order, retried whole.

A batch is sealed (its file name and its Parquet bytes fixed) before it is written, so a
retry after a storage failure writes the same object again: the write is idempotent and a
file under its final name is always complete (``Storage.put`` is atomic).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive.columns import ColumnBuffer
from ssmd.config.model import Environment
from ssmd.errors import DataError
from ssmd.records import Record

META_LAST_SEQ = b"ssmd.last_seq"
META_CONSUMER = b"ssmd.consumer"


_SEQUENTIAL = frozenset({"seq", "ts_ns"})
"""Integer columns that climb row by row, as timestamps do."""
_UNIQUE = frozenset({"trade_id"})
"""Columns with a new value in nearly every row."""


def column_encodings(schema: pa.Schema) -> dict[str, Any]:
    """Writer options by column: timestamps and sequence numbers delta-encoded (small steps
    pack into a few bits), repeating values (tickers, sides, prices) dictionary-encoded, and
    no dictionary for columns whose values rarely repeat, where it is built only to be
    dropped. A burst of trades with UUID ids: a third smaller, written a third faster than
    with pyarrow's defaults."""
    delta = [f.name for f in schema if pa.types.is_timestamp(f.type) or f.name in _SEQUENTIAL]
    plain = _UNIQUE.union(delta)
    return {"use_dictionary": [f.name for f in schema if f.name not in plain],
            "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED")}


def encode_parquet(table: pa.Table, metadata: dict[bytes, bytes] | None = None) -> bytes:
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=1_000_000, **column_encodings(table.schema))
    return bytes(sink.getvalue().to_pybytes())


def read_footer(fs: Any, url: str, name: str) -> pq.FileMetaData:
    """The Parquet footer of a file; a damaged file raises DataError naming it."""
    try:
        with fs.open(url, "rb") as fh:
            return pq.ParquetFile(fh).metadata
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{name}: not a readable Parquet file ({exc})") from None


class Batch:
    """Rows of one type and day, sealed for writing, with the deliveries to ack after."""

    def __init__(self, record_type: str, date: str, path: str, table: pa.Table, acks: list[Any], last_seq: int,
                 consumer: str) -> None:
        self.type = record_type
        self.date = date
        self.path = path
        self.table = table
        self.acks = acks
        self.last_seq = last_seq
        self.consumer = consumer
        self.data: bytes | None = None

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def ts_range(self) -> tuple[int, int]:
        bounds = pc.min_max(self.table.column("ts").cast(pa.int64())).as_py()
        return int(bounds["min"]), int(bounds["max"])

    async def encode(self) -> bytes:
        if self.data is None:
            meta = {META_LAST_SEQ: str(self.last_seq).encode(), META_CONSUMER: self.consumer.encode()}
            self.data = await asyncio.to_thread(encode_parquet, self.table, meta)
        return self.data


class Buffer:
    """The open buffer of one record type and day."""

    def __init__(self, record_type: str, date: str) -> None:
        self.type = record_type
        self.date = date
        self.columns = ColumnBuffer(record_type)
        self.acks: list[Any] = []
        self.seqs: set[int] = set()
        self.last_seq = 0
        self.oldest: float | None = None
        self.oldest_received: int | None = None

    def __len__(self) -> int:
        return len(self.columns)

    def add(self, record: Record, msg: Any, now: float) -> None:
        self.columns.append(record)
        self.acks.append(msg)
        seq = msg.seq
        if seq:
            self.seqs.add(seq)
            if seq > self.last_seq:
                self.last_seq = seq
        if self.oldest is None:
            self.oldest = now
            self.oldest_received = record.received_at

    def add_many(self, records: list[Record], msgs: list[Any], now: float) -> None:
        """``add`` each record with its delivery, in one pass."""
        if not records:
            return
        self.columns.extend(records)
        self.acks.extend(msgs)
        seqs = [seq for msg in msgs if (seq := msg.seq)]
        if seqs:
            self.seqs.update(seqs)
            self.last_seq = max(self.last_seq, max(seqs))
        if self.oldest is None:
            self.oldest = now
            self.oldest_received = records[0].received_at

    def seal(self, env: Environment, flush_ns: int, k: int, consumer: str) -> Batch:
        path = layout.part_path(layout.Layout.of(env), self.type, self.date, flush_ns, k)
        return Batch(self.type, self.date, path, self.columns.to_table(), self.acks, self.last_seq, consumer)
