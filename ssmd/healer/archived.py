"""The trade ids the archive already holds for some markets over a span (reads Parquet)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.calendar import day_partition
from ssmd.config.model import Environment
from ssmd.log import get_logger
from ssmd.middleware.storage.base import Storage

log = get_logger("healer")
_COLUMNS = ["ticker", "trade_id", "ts"]


def dates_between(env: Environment, start_ns: int, end_ns: int, *more_ns: int) -> list[str]:
    """Trading-day partitions that can hold a trade of the span (rows are partitioned by
    receive time, so ``more_ns`` adds the days the rows may have been received on)."""
    step = 3600 * 1_000_000_000
    stamps = [*range(start_ns, end_ns, step), end_ns, *more_ns]
    return sorted({day_partition(env.schedule, ns) for ns in stamps})


def _ids(data: bytes, tickers: frozenset[str] | None, start_ns: int, end_ns: int) -> set[str]:
    table = pq.read_table(pa.BufferReader(data), columns=_COLUMNS)
    ts = table.column("ts").cast(pa.int64())
    keep = pc.and_(pc.greater_equal(ts, start_ns // 1000), pc.less_equal(ts, -(-end_ns // 1000)))
    if tickers is not None:
        keep = pc.and_(keep, pc.is_in(table.column("ticker"), pa.array(sorted(tickers))))
    return set(table.filter(keep).column("trade_id").to_pylist())


async def archived_trade_ids(env: Environment, storage: Storage, tickers: Iterable[str] | None,
                             start_ns: int, end_ns: int, dates: Iterable[str]) -> set[str]:
    """Ids of trades of ``tickers`` (None: every market) with ``start_ns <= ts <= end_ns``
    in the archive's trade partitions of ``dates``."""
    where = layout.Layout.of(env)
    wanted = frozenset(tickers) if tickers is not None else None
    out: set[str] = set()
    for date in dates:
        for info in await storage.list(layout.partition_prefix(where, "trade", date)):
            if info.path.endswith(".parquet"):
                data = await storage.get(info.path)
                try:
                    out |= await asyncio.to_thread(_ids, data, wanted, start_ns, end_ns)
                except (OSError, pa.ArrowInvalid) as exc:  # named and skipped, as the catalog does
                    log.warning("unreadable trade file left out of the heal's de-duplication", path=info.path,
                                error=str(exc))
    return out
