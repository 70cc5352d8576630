"""The coverage certificate of a day: per market and hour, present / healed / degraded / absent.

``day_coverage`` counts the day's rows per market and UTC hour in the catalog (trades by
``source``, ticker and order-book updates), reads the gaps from the day's manifest, and
classifies every cell (``ssmd.archive.completeness``). ``write_coverage`` stores the rows as
``coverage.parquet`` beside the manifest, where the catalog's ``coverage`` view reads them.

Hours: by default those the recording spans (the manifest's first to last frame, and every
gap); ``whole_day`` takes the trading day's hours up to now instead, so hours nobody
recorded show as ``absent``.
"""

from __future__ import annotations

import time
from datetime import date as Date
from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive import manifest as mf
from ssmd.archive.completeness import Cell, CoverageRow, coverage, day_completeness, hours_of
from ssmd.calendar import day_bounds
from ssmd.catalog.catalog import Catalog
from ssmd.clock import parse_moment
from ssmd.config.model import Environment
from ssmd.errors import NotFoundError

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

COVERAGE_NAME = "coverage.parquet"
SCHEMA = pa.schema([
    ("date", pa.string()), ("ticker", pa.string()), ("hour", pa.timestamp("us", tz="UTC")),
    ("status", pa.string()), ("ws_trades", pa.int64()), ("rest_trades", pa.int64()), ("updates", pa.int64()),
    ("gaps", pa.list_(pa.string())),
])


class DayCoverage(msgspec.Struct, kw_only=True):
    date: str
    completeness: str
    """complete | healed | degraded: the day's verdict from its gaps."""
    rows: list[CoverageRow]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("present", "healed", "degraded", "absent"), 0)
        for row in self.rows:
            out[row.status] += 1
        return out


def coverage_path(catalog: Catalog, date: str) -> str:
    where = layout.Layout.of(catalog.env)
    return f"{layout.raw_day_prefix(where, date)}/{COVERAGE_NAME}"


async def read_manifest(catalog: Catalog, date: str) -> mf.Manifest:
    where = layout.Layout.of(catalog.env)
    try:
        return mf.decode(await catalog.storage.get(layout.manifest_path(where, date)))
    except (NotFoundError, FileNotFoundError):
        raise NotFoundError(f"no manifest for {date} in {catalog.env.name}: nothing was recorded that day") from None


def _cells(catalog: Catalog, date: str) -> dict[tuple[str, int], Cell]:
    hour = "CAST(epoch_us(date_trunc('hour', ts)) AS BIGINT) * 1000"
    cells: dict[tuple[str, int], Cell] = {}
    trades = catalog.con.execute(
        f"SELECT ticker, {hour} AS h, count(*) FILTER (WHERE coalesce(source, 'ws') = 'ws'), "
        "count(*) FILTER (WHERE source = 'rest') FROM trades WHERE date = CAST(? AS DATE) GROUP BY ALL",
        [date]).fetchall()
    for ticker, h, ws, rest in trades:
        cells[(ticker, int(h))] = Cell(ws_trades=int(ws), rest_trades=int(rest))
    updates = catalog.con.execute(
        f"SELECT ticker, {hour} AS h, count(*) FROM (SELECT ticker, ts FROM tickers WHERE date = CAST(? AS DATE) "
        "UNION ALL SELECT ticker, ts FROM orderbook WHERE date = CAST(? AS DATE)) GROUP BY ALL",
        [date, date]).fetchall()
    for ticker, h, n in updates:
        cells.setdefault((ticker, int(h)), Cell()).updates = int(n)
    return cells


async def day_coverage(catalog: Catalog, date: str, *, whole_day: bool = False,
                       now_ns: int | None = None) -> DayCoverage:
    now = now_ns if now_ns is not None else time.time_ns()
    manifest = await read_manifest(catalog, date)
    if whole_day:
        start, end = day_bounds(catalog.env.schedule, Date.fromisoformat(date))
        lo, hi = int(start.timestamp() * 1e9), min(int(end.timestamp() * 1e9), now)
    else:
        stamps = [parse_moment(t, date) for t in (manifest.first_timestamp, manifest.last_timestamp) if t]
        for gap in manifest.gaps:
            stamps += [gap.start_ns, gap.end_ns if gap.end_ns is not None else now]
        lo, hi = (min(stamps), max(stamps)) if stamps else (now, now)
    cells = _cells(catalog, date)
    hours = hours_of(lo, hi)
    wanted = set(hours)
    cells = {k: v for k, v in cells.items() if k[1] in wanted}
    rows = coverage(date, hours, cells, manifest.gaps, (), now)
    return DayCoverage(date=date, completeness=day_completeness(manifest.gaps), rows=rows)


def to_table(rows: list[CoverageRow]) -> pa.Table:
    return pa.Table.from_pydict({
        "date": [r.date for r in rows], "ticker": [r.ticker for r in rows],
        "hour": pa.array([r.hour_ns // 1000 for r in rows], pa.int64()).view(pa.timestamp("us", tz="UTC")),
        "status": [r.status for r in rows], "ws_trades": [r.ws_trades for r in rows],
        "rest_trades": [r.rest_trades for r in rows], "updates": [r.updates for r in rows],
        "gaps": [r.gaps for r in rows],
    }, schema=SCHEMA)


async def write_coverage(catalog: Catalog, result: DayCoverage) -> str:
    """Store the rows as ``coverage.parquet`` beside the day's manifest; returns its path."""
    sink = pa.BufferOutputStream()
    pq.write_table(to_table(result.rows), sink, compression="zstd")
    path = coverage_path(catalog, result.date)
    await catalog.storage.put(path, sink.getvalue().to_pybytes())
    return path


async def certify(env: Environment, backends: Backends, date: str) -> DayCoverage:
    """Compute and store a day's coverage with the environment's own storage (used when a
    run stops and when a trading day ends)."""
    from ssmd.catalog import open_catalog_async

    catalog = await open_catalog_async(env, backends=backends)
    try:
        result = await day_coverage(catalog, date)
        await write_coverage(catalog, result)
        return result
    finally:
        catalog.close()
