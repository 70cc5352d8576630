"""The archive side of a backfill: what a day already holds, and buffered Parquet writes.

Files are written as ``rest-{ns:019d}-{k:04d}.parquet`` in the dataset's day partition: the
views and the day compaction read every ``*.parquet`` there, while the archiver's
recovery, which reads its stream watermark from the newest ``part-*`` file, never mistakes
a backfill file for one of its own.

Exactly-once: ``Dedup`` loads, once per (dataset, day), the keys of the rows already there
(trade id per ticker, candle period end, settlement), whichever feed wrote them, and lets
through only new ones. ``Writer`` writes a buffer's files first and only then the
checkpoints of the chunks those rows complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssmd.archive import datasets, layout
from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.parquet import encode_parquet
from ssmd.backfill.checkpoint import Checkpoint, Checkpoints
from ssmd.backfill.plan import Interval
from ssmd.config.model import Environment
from ssmd.log import get_logger

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage

log = get_logger("backfill")
DATASET_TYPE = {"trades": "trade", "candles": "candles", "settlements": "settlements"}
"""``--what`` name → archive record type."""
_KEY_COLUMNS = {
    "trade": ("ticker", "trade_id"),
    "candles": ("ticker", "period", "end_period_ts"),
    "settlements": ("ticker", "result", "settlement_value", "settled_ts"),
}


def file_path(env: Environment, record_type: str, date: str, ns: int, k: int) -> str:
    where = layout.Layout.of(env)
    return f"{layout.partition_prefix(where, record_type, date)}/rest-{ns:019d}-{k:04d}.parquet"


def _us(ns: int | None) -> int | None:
    """A time as the archive keeps it (microseconds), in ns."""
    return None if ns is None else ns // 1000 * 1000


def record_key(record_type: str, record: Any) -> Hashable:
    if record_type == "trade":
        return record.ticker, record.trade_id
    if record_type == "candles":
        return record.ticker, record.period, _us(record.end_period_ts)
    return record.ticker, record.result, record.settlement_value, _us(record.settled_ts)


def _keys_of(record_type: str, table: pa.Table) -> set[Hashable]:
    cols = []
    for name in _KEY_COLUMNS[record_type]:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.multiply(col.cast(pa.int64()), 1000)
        elif pa.types.is_decimal(col.type):
            scale = col.type.scale
            cols.append([None if v is None else int(v.scaleb(scale)) for v in col.to_pylist()])
            continue
        cols.append(col.to_pylist())
    return set(zip(*cols, strict=True))


def read_keys(data: bytes, record_type: str, tickers: set[str]) -> set[Hashable]:
    """Keys of the rows of one Parquet file that belong to ``tickers`` (pure)."""
    pf = pq.ParquetFile(pa.BufferReader(data))
    names = set(pf.schema_arrow.names)
    wanted = [c for c in _KEY_COLUMNS[record_type] if c in names]
    if len(wanted) != len(_KEY_COLUMNS[record_type]):
        return set()
    table = pf.read(columns=wanted)
    table = table.filter(pc.is_in(table.column("ticker"), pa.array(sorted(tickers), pa.string())))
    return _keys_of(record_type, table)


class Dedup:
    """Keys already archived per (type, day), plus those accepted in this run."""

    def __init__(self, env: Environment, storage: Storage, tickers: set[str]) -> None:
        self.env = env
        self.where = layout.Layout.of(env)
        """Where this environment's archive objects are named (``ssmd.archive.layout``)."""
        self.storage = storage
        self.tickers = tickers
        self._seen: dict[tuple[str, str], set[Hashable]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def _load(self, record_type: str, date: str) -> set[Hashable]:
        keys: set[Hashable] = set()
        prefix = layout.partition_prefix(self.where, record_type, date) + "/"
        for info in await self.storage.list(prefix):
            if not info.path.endswith(".parquet"):
                continue
            data = await self.storage.get(info.path)
            try:
                keys |= await asyncio.to_thread(read_keys, data, record_type, self.tickers)
            except (OSError, pa.ArrowInvalid) as exc:
                log.warning("unreadable archive file skipped for de-duplication", path=info.path, error=str(exc))
        return keys

    async def seen(self, record_type: str, date: str) -> set[Hashable]:
        key = (record_type, date)
        found = self._seen.get(key)
        if found is not None:
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._seen:
                self._seen[key] = await self._load(record_type, date)
        return self._seen[key]

    async def fresh(self, record_type: str, date: str, records: list[Any]) -> tuple[list[Any], int]:
        """The records of (type, day) not archived yet, now counted as archived; and the duplicates."""
        seen = await self.seen(record_type, date)
        out = []
        for record in records:
            k = record_key(record_type, record)
            if k not in seen:
                seen.add(k)
                out.append(record)
        return out, len(records) - len(out)


def _table(record_type: str, records: list[Any]) -> pa.Table:
    if record_type in datasets.CONTRACT:
        return datasets.to_table(record_type, records)
    buf = ColumnBuffer(record_type)
    buf.extend(records)
    return buf.to_table()


class Writer:
    """Buffers records per (type, day); ``flush`` writes them, then the checkpoints they complete."""

    def __init__(self, env: Environment, storage: Storage, checkpoints: Checkpoints, *, now_ns: Callable[[], int],
                 flush_rows: int = 200_000, flush_seconds: float = 5.0) -> None:
        self.env = env
        self.where = layout.Layout.of(env)
        """Where this environment's archive objects are named (``ssmd.archive.layout``)."""
        self.storage = storage
        self.checkpoints = checkpoints
        self.now_ns = now_ns
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.rows: dict[str, int] = {}
        """Rows written per record type."""
        self._buffers: dict[tuple[str, str], list[Any]] = {}
        self._marks: list[tuple[Checkpoint, Interval]] = []
        self._pending = 0
        self._last = time.monotonic()
        self._k = 0
        self._lock = asyncio.Lock()

    def add(self, record_type: str, date: str, records: list[Any]) -> None:
        if records:
            self._buffers.setdefault((record_type, date), []).extend(records)
            self._pending += len(records)

    def mark(self, cp: Checkpoint, window: Interval) -> None:
        """Record ``window`` as done once everything added so far is written."""
        self._marks.append((cp, window))

    def due(self) -> bool:
        return self._pending >= self.flush_rows or (
            bool(self._marks or self._pending) and time.monotonic() - self._last >= self.flush_seconds)

    async def maybe_flush(self) -> None:
        if self.due():
            await self.flush()

    async def flush(self, on_written: Callable[[], Awaitable[None]] | None = None) -> None:
        async with self._lock:
            buffers, marks = self._buffers, self._marks
            self._buffers, self._marks, self._pending = {}, [], 0
            self._last = time.monotonic()
            stamp = self.now_ns()
            for (record_type, date), records in sorted(buffers.items()):
                data = await asyncio.to_thread(encode_parquet, _table(record_type, records))
                self._k += 1
                await self.storage.put(file_path(self.env, record_type, date, stamp, self._k), data)
                self.rows[record_type] = self.rows.get(record_type, 0) + len(records)
            touched: dict[int, Checkpoint] = {}
            for cp, window in marks:
                cp.add(window, stamp)
                touched[id(cp)] = cp
            for cp in touched.values():
                await self.checkpoints.save(cp)
            if on_written is not None:
                await on_written()
