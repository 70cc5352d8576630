"""The catalog's index of the archive: one row per Parquet file, one per day manifest.

Refreshing lists storage, reads the footer of each new or changed Parquet file (rows, time
range, ticker range) and each changed manifest (status, sizes, quality, gaps). A file whose
footer cannot be read is indexed with ``status = 'bad'`` and its error, so the views skip
it and ``bad_files()`` names it; every other file and day stays queryable.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive import manifest as mf
from ssmd.config.model import Environment

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage


@functools.cache
def datasets() -> dict[str, Any]:
    """Every dataset type of the normalized archive and its column contract: the record types,
    plus the REST history of ``ssmd data backfill`` (``candles``, ``settlements``)."""
    from ssmd.archive.columns import CONTRACT as RECORD_CONTRACT
    from ssmd.archive.datasets import CONTRACT as HISTORY_CONTRACT

    return {**RECORD_CONTRACT, **HISTORY_CONTRACT}

FILES_DDL = """
CREATE TABLE IF NOT EXISTS ssmd_files (
    path VARCHAR PRIMARY KEY, type VARCHAR, date DATE, size BIGINT, modified DOUBLE,
    rows BIGINT, min_ts BIGINT, max_ts BIGINT, min_ticker VARCHAR, max_ticker VARCHAR,
    status VARCHAR, error VARCHAR)
"""
DAYS_DDL = """
CREATE TABLE IF NOT EXISTS ssmd_days (
    date DATE PRIMARY KEY, manifest VARCHAR, size BIGINT, modified DOUBLE, status VARCHAR,
    raw_bytes BIGINT, raw_records BIGINT, quality_score DOUBLE, gap_count INTEGER,
    first_timestamp VARCHAR, last_timestamp VARCHAR, counts JSON, normalized JSON, gaps JSON)
"""
COVERAGE_DDL = "CREATE TABLE IF NOT EXISTS ssmd_coverage_files (path VARCHAR PRIMARY KEY, date DATE)"
COVERAGE_NAME = "coverage.parquet"


class FileRow(msgspec.Struct, array_like=True):
    path: str
    type: str
    date: str | None
    size: int
    modified: float | None
    rows: int | None
    min_ts: int | None
    max_ts: int | None
    min_ticker: str | None
    max_ticker: str | None
    status: str
    error: str | None


def footer_facts(meta: pq.FileMetaData) -> tuple[int, int | None, int | None, str | None, str | None]:
    """(rows, min ts, max ts, min ticker, max ticker) from a footer's statistics."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    lo_ts = hi_ts = None
    lo_t: str | None = None
    hi_t: str | None = None
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for name, j in (("ts", names.index("ts") if "ts" in names else -1),
                        ("ticker", names.index("ticker") if "ticker" in names else -1)):
            if j < 0:
                continue
            stats = group.column(j).statistics
            if stats is None or not stats.has_min_max:
                continue
            if name == "ts":
                lo_ts = stats.min_raw if lo_ts is None else min(lo_ts, stats.min_raw)
                hi_ts = stats.max_raw if hi_ts is None else max(hi_ts, stats.max_raw)
            else:
                lo, hi = _text(stats.min_raw), _text(stats.max_raw)
                lo_t = lo if lo_t is None else min(lo_t, lo)
                hi_t = hi if hi_t is None else max(hi_t, hi)
    return meta.num_rows, lo_ts, hi_ts, lo_t, hi_t


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_file_row(storage: Storage, env: Environment, path: str, size: int, modified: float | None) -> FileRow:
    where = layout.Layout.of(env)
    record_type = layout.type_of(where, path) or "?"
    date = layout.date_of(path)
    try:
        with storage.open_read(path) as fh:
            meta = pq.ParquetFile(fh).metadata
        rows, lo, hi, lo_t, hi_t = footer_facts(meta)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return FileRow(path, record_type, date, size, modified, None, None, None, None, None, "bad",
                       f"{path}: not a readable Parquet file ({reason})")
    return FileRow(path, record_type, date, size, modified, rows, lo, hi, lo_t, hi_t, "ok", None)


async def refresh(con: Any, env: Environment, storage: Storage) -> dict[str, int]:
    """Bring the index up to date. Returns counts: added, changed, removed, bad, days."""
    where = layout.Layout.of(env)
    con.execute(FILES_DDL)
    con.execute(DAYS_DDL)
    known = {p: (s, m) for p, s, m in con.execute("SELECT path, size, modified FROM ssmd_files").fetchall()}
    listed = [i for i in await storage.list(layout.normalized_root(where) + "/") if i.path.endswith(".parquet")]
    seen = set()
    todo = []
    for info in listed:
        seen.add(info.path)
        if known.get(info.path) != (info.size, info.modified):
            todo.append(info)
    rows = await asyncio.to_thread(
        lambda: [_read_file_row(storage, env, i.path, i.size, i.modified) for i in todo])
    gone = [p for p in known if p not in seen]
    for path in gone:
        con.execute("DELETE FROM ssmd_files WHERE path = ?", [path])
    for row in rows:
        con.execute("INSERT OR REPLACE INTO ssmd_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    list(msgspec.structs.astuple(row)))
    days = await _refresh_days(con, env, storage)
    return {"added": sum(1 for r in todo if r.path not in known), "changed": sum(1 for r in todo if r.path in known),
            "removed": len(gone), "bad": sum(1 for r in rows if r.status == "bad"), "days": days}


async def _refresh_days(con: Any, env: Environment, storage: Storage) -> int:
    prefix = f"{env.storage.buckets.raw}/{env.name}/{env.feed}/"
    known = {str(d): (s, m) for d, s, m in con.execute("SELECT date, size, modified FROM ssmd_days").fetchall()}
    changed = 0
    con.execute(COVERAGE_DDL)
    con.execute("DELETE FROM ssmd_coverage_files")
    for info in await storage.list(prefix):
        parts = info.path[len(prefix):].split("/")
        if len(parts) != 4:
            continue
        date = "-".join(parts[:3])
        if parts[3] == COVERAGE_NAME:
            con.execute("INSERT OR REPLACE INTO ssmd_coverage_files VALUES (?, ?)", [info.path, date])
            continue
        if parts[3] != "manifest.json":
            continue
        if known.get(date) == (info.size, info.modified):
            continue
        try:
            m = mf.decode(await storage.get(info.path))
        except (msgspec.DecodeError, msgspec.ValidationError):
            con.execute("INSERT OR REPLACE INTO ssmd_days (date, manifest, size, modified, status) "
                        "VALUES (?, ?, ?, ?, 'unreadable')", [date, info.path, info.size, info.modified])
            changed += 1
            continue
        enc = msgspec.json.encode
        con.execute(
            "INSERT OR REPLACE INTO ssmd_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [date, info.path, info.size, info.modified, m.status, m.byte_size, m.record_count, m.quality_score,
             len(m.gaps), m.first_timestamp, m.last_timestamp, enc(m.counts).decode(),
             enc(m.normalized).decode(), enc(m.gaps).decode()])
        changed += 1
    return changed
