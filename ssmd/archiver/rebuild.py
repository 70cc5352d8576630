"""Parquet rows rebuilt from the raw log after a crash on the embedded bus.

On the embedded bus nothing outside the archiver's buffers survives the process. Raw
frames are appended every ``raw_flush_interval_seconds``, records written to Parquet every
``flush_interval_seconds``: a crash can leave frames in the raw log whose records never
reached Parquet. Before the next run starts, ``rebuild`` normalizes those frames again (the
raw log is the tickerplant log of kdb+: replayed, not trusted to a second copy) and writes
their records as one part file per type and day, so a kill loses no more records than raw
frames.

Which frames: per record type and day, the records after the newest received_at already in
Parquet (the newest part file's; the archiver writes a type's rows in receive order). Raw
files are read from the newest back, only those holding a line after that point. Over
NATS nothing is rebuilt: unacked messages are redelivered instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive.columns import TS
from ssmd.archive.parquet import Buffer
from ssmd.archive.raw import read_durable
from ssmd.archiver.recovery import newest_part
from ssmd.archiver.sinks import ManifestStore, write_batches
from ssmd.calendar import DayPartitioner
from ssmd.config.model import Environment
from ssmd.errors import DataError
from ssmd.log import get_logger
from ssmd.records import RECORD_TYPES, Record

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage

log = get_logger("archiver")
Normalize = Callable[[bytes, int], list[Record]]
"""A raw frame and its receive time -> its records ([] for one that yields none)."""
CONSUMER = "rebuild"


async def newest_received(storage: Storage, env: Environment, record_type: str, date: str) -> int | None:
    """The highest received_at in the newest part file of (type, day), in µs (the column's
    unit); None without one."""
    newest = await newest_part(env, storage, record_type, date)
    if newest is None:
        return None
    table = pq.read_table(pa.BufferReader(await storage.get(newest)), columns=["received_at"])
    top = pc.max(table.column("received_at").cast(TS).cast(pa.int64())).as_py()
    return int(top) if top is not None else None


class Rebuilt(msgspec.Struct, kw_only=True):
    records: dict[str, int] = {}
    """Records written, by type."""
    last_ns: int | None = None
    """Receive time of the newest frame the archive holds (raw or Parquet): where what the
    crash lost begins. None when the days hold nothing."""


async def rebuild(env: Environment, storage: Storage, normalize: Normalize, dates: list[str],
                  now_ns: int) -> Rebuilt:
    """Write the records of raw frames newer than Parquet holds, for each of ``dates``."""
    written: dict[str, int] = {}
    last: list[int] = []
    day_of = DayPartitioner(env.schedule)
    manifests = ManifestStore(env, storage)
    for date in dates:
        marks = {t: await newest_received(storage, env, t, date) for t in RECORD_TYPES}
        known = [m * 1000 for m in marks.values() if m is not None]
        floor = min(known, default=0)
        last.extend(known)
        buffers: dict[tuple[str, str], Buffer] = {}
        for line_frame, received_at in await _raw_after(env, storage, date, floor):
            last.append(received_at)
            for record in normalize(line_frame, received_at):
                mark = marks.get(record.TYPE)
                # Parquet keeps µs: a record in the newest row's µs is taken as written (frames
                # of one read share a receive time, and a flush rarely splits them)
                if mark is not None and record.received_at // 1000 <= mark:
                    continue
                key = (record.TYPE, day_of(record.received_at))
                buffers.setdefault(key, Buffer(*key)).add_many([record], [], 0.0)
                written[record.TYPE] = written.get(record.TYPE, 0) + 1
        batches = [buf.seal(env, now_ns, k, CONSUMER) for k, buf in enumerate(buffers.values(), start=1)]
        if batches:
            await write_batches(storage, batches, manifests, now_ns, [])
    await manifests.write_dirty(now_ns)
    if written:
        log.warning("records rebuilt from the raw log (the last run ended before writing them)", **written)
    return Rebuilt(records=written, last_ns=max(last, default=None))


async def _raw_after(env: Environment, storage: Storage, date: str, floor: int) -> list[tuple[bytes, int]]:
    """(frame, received_at) of the day's raw lines received after ``floor``, in receive order.
    Files are read from the newest back and the scan stops at the first one that ends at
    or before ``floor``."""
    where = layout.Layout.of(env)
    files: dict[str, list[tuple[int, str]]] = {}
    for info in await storage.list(layout.raw_day_prefix(where, date) + "/"):
        parsed = layout.parse_raw_name(info.path)
        if parsed:
            files.setdefault(parsed[0], []).append((parsed[1], info.path))
    out: list[tuple[bytes, int]] = []
    for numbered in files.values():
        for _, path in sorted(numbered, reverse=True):
            try:
                lines = read_durable(await storage.get(path), path)
            except DataError as exc:
                log.warning("raw file unreadable; its frames are not rebuilt", path=path, error=str(exc))
                continue
            out.extend((line.frame.encode(), line.received_at) for line in lines if line.received_at > floor)
            if not lines or lines[0].received_at <= floor:
                break
    out.sort(key=lambda item: item[1])
    return out
