"""Day-end steps over the archive: ``verify_day`` and ``compact_day``.

``verify_day`` reads every raw file and every Parquet footer of the day, rebuilds the
manifest's file statistics from what is actually stored, and marks the day ``complete``
only when every file is readable and no archiver in this process still holds unwritten
records of the day; otherwise ``incomplete`` with the problems listed.

``compact_day`` rewrites each record type's part files into one ``compacted.parquet``
sorted by (ticker, ts), without duplicate rows, then deletes the parts. Unreadable parts
are left in place and reported, never silently dropped.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.archive import duck, layout
from ssmd.archive import manifest as mf
from ssmd.archive.completeness import day_completeness
from ssmd.archive.raw import FileStats, scan_stats
from ssmd.archiver.sinks import repair_tail
from ssmd.calendar import day_bounds
from ssmd.config.model import Environment
from ssmd.errors import DataError, NotFoundError
from ssmd.records import RECORD_TYPES

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends
    from ssmd.middleware.storage.base import Storage

ORDER = {
    "trade": "ticker, ts, received_at, seq",
    "ticker": "ticker, ts, received_at",
    "orderbook": "ticker, ts, received_at, seq, side, level",
    "lifecycle": "ticker, ts, received_at, seq",
}



def _once(record_type: str, columns: set[str]) -> str:
    """A trade archived live and again from REST (a heal or a backfill racing the feed) is
    kept once, the live copy first."""
    if record_type != "trade":
        return ""
    first = "coalesce(source, 'ws') = 'rest', received_at" if "source" in columns else "received_at"
    return f"QUALIFY row_number() OVER (PARTITION BY ticker, trade_id ORDER BY {first}) = 1"


class VerifyReport(msgspec.Struct, kw_only=True):
    date: str
    status: str
    raw_files: int = 0
    raw_records: int = 0
    raw_bytes: int = 0
    normalized: dict[str, int] = {}
    """Rows per record type."""
    gaps: int = 0
    quality_score: float = 1.0
    completeness: str = "complete"
    """complete | healed | degraded (``ssmd.archive.completeness``)."""
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return self.status == "complete"


class CompactReport(msgspec.Struct, kw_only=True):
    date: str
    types: dict[str, dict[str, int]] = {}
    """type → {files_in, rows, bytes}."""
    skipped: list[str] = []
    """Unreadable files left in place (named with the reason)."""


def _ns(d: Any) -> int:
    return int(d.timestamp() * 1_000_000_000)


async def read_footer(storage: Storage, path: str) -> pq.FileMetaData:
    try:
        return pq.read_metadata(pa.BufferReader(await storage.get(path)))
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


async def _rescan(storage: Storage, path: str, channel: str) -> FileStats:
    """Read a raw file the manifest does not describe (in a worker thread, frame by frame);
    on appending storage a torn last frame is cut off first (its lines were never acked)."""
    data = await repair_tail(storage, path) if storage.appends else await storage.get(path)
    return await asyncio.to_thread(scan_stats, data, path, channel)


async def verify_day(env: Environment, backends: Backends, date: str, *, now_ns: int | None = None) -> VerifyReport:
    import time

    from ssmd.archiver.service import ACTIVE

    where = layout.Layout.of(env)
    storage = backends.storage
    now = now_ns if now_ns is not None else time.time_ns()
    report = VerifyReport(date=date, status="incomplete")
    try:
        manifest = mf.decode(await storage.get(layout.manifest_path(where, date)))
    except (NotFoundError, FileNotFoundError):
        manifest = mf.new_manifest(env.feed, date, now)
    except msgspec.DecodeError as exc:
        report.problems.append(f"{layout.manifest_path(where, date)}: unreadable manifest ({exc}); rebuilt")
        manifest = mf.new_manifest(env.feed, date, now)
    listed = {f.name: f for f in manifest.files}
    stored: list[FileStats] = []
    for info in await storage.list(layout.raw_day_prefix(where, date) + "/"):
        parsed = layout.parse_raw_name(info.path)
        if parsed is None:
            continue
        name = info.path.rsplit("/", 1)[-1]
        old = listed.get(name)
        if old is not None and old.bytes == info.size and old.unreadable is None:
            stored.append(old)  # the manifest's facts are of exactly these bytes
            continue
        try:
            stats = await _rescan(storage, info.path, parsed[0])
        except DataError as exc:
            report.problems.append(str(exc))
            known = old or FileStats(name=name, channel=parsed[0], bytes=info.size)
            stats = msgspec.structs.replace(known, unreadable=str(exc))
        stored.append(stats)
    found = {s.name for s in stored}
    for name in sorted(set(listed) - found):
        report.problems.append(f"{layout.raw_day_prefix(where, date)}/{name}: listed in the manifest but missing")
    manifest.files = stored
    mf.summarize(manifest)
    manifest.normalized = {}
    for record_type in RECORD_TYPES:
        rows = 0
        for info in await storage.list(layout.partition_prefix(where, record_type, date) + "/"):
            if not info.path.endswith(".parquet"):
                continue
            try:
                meta = await read_footer(storage, info.path)
            except DataError as exc:
                report.problems.append(str(exc))
                continue
            rows += meta.num_rows
            kind = manifest.normalized.setdefault(record_type, mf.TypeStats())
            kind.rows += meta.num_rows
            kind.files += 1
            kind.bytes += info.size
        if rows:
            report.normalized[record_type] = rows
    here = storage.url(layout.manifest_path(where, date))
    pending = sum(a.buffered_for(date) for a in list(ACTIVE)
                  if a.running and a.backends.storage.url(layout.manifest_path(layout.Layout.of(a.env), date)) == here)
    if pending:
        report.problems.append(f"{pending} records of {date} are still buffered (not yet written)")
    start, end = day_bounds(env.schedule, Date.fromisoformat(date))
    manifest.quality_score = mf.quality_score(manifest, _ns(start), _ns(end), now)
    manifest.completeness = day_completeness(manifest.gaps)
    manifest.status = "incomplete" if report.problems else "complete"
    manifest.problems = list(report.problems)
    manifest.verified_at = manifest.updated_at = mf.rfc3339(now)
    await storage.put(layout.manifest_path(where, date), mf.encode(manifest))
    report.status = manifest.status
    report.raw_files = len(manifest.files)
    report.raw_records = manifest.record_count
    report.raw_bytes = manifest.byte_size
    report.gaps = len(manifest.gaps)
    report.quality_score = manifest.quality_score
    report.completeness = manifest.completeness
    return report


async def compact_day(env: Environment, backends: Backends, date: str) -> CompactReport:
    where = layout.Layout.of(env)
    storage = backends.storage
    report = CompactReport(date=date)
    for record_type in RECORD_TYPES:
        target = layout.compacted_path(where, record_type, date)
        paths = [i.path for i in await storage.list(layout.partition_prefix(where, record_type, date) + "/")
                 if i.path.endswith(".parquet")]
        if not paths or paths == [target]:
            continue
        good = []
        columns: set[str] = set()
        for path in paths:
            try:
                columns.update((await read_footer(storage, path)).schema.names)
                good.append(path)
            except DataError as exc:
                report.skipped.append(str(exc))
        if not good:
            continue
        with tempfile.TemporaryDirectory(prefix="ssmd-compact-") as tmp:
            out = Path(tmp) / "compacted.parquet"
            con = duck.connect(storage)
            try:
                urls = duck.path_list([storage.url(p) for p in good])
                con.execute(
                    f"COPY (SELECT DISTINCT * FROM read_parquet({urls}, hive_partitioning = false, "
                    f"union_by_name = true) {_once(record_type, columns)} "
                    f"ORDER BY {ORDER[record_type]}) TO {duck.sql_literal(str(out))} "
                    "(FORMAT parquet, COMPRESSION zstd)"  # ~123 k-row groups: one market reads few
                )
            except Exception as exc:
                raise duck.translate(exc, f"compacting {record_type} of {date}") from None
            finally:
                con.close()
            rows = pq.read_metadata(out).num_rows
            size = out.stat().st_size
            await storage.put_file(target, out)
        for path in good:
            if path != target:
                await storage.delete(path)
        report.types[record_type] = {"files_in": len(good), "rows": rows, "bytes": size}
    return report
