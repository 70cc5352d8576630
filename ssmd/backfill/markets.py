"""``--what markets``: past markets' metadata into the security master's history.

A market the secmaster never recorded (it settled before recording began, or only
``/historical/markets`` still lists it) becomes one version row (``market_added``,
``source='backfill'``) valid from its open time, carrying the facts REST reports now (its
final status, result and settlement), so ``market_history`` and ``markets_as_of(T)`` know
it. The cache and the change journal are left alone: they describe the markets of today.
Markets the history already holds are skipped, so a rerun writes nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.backfill.fetch import Target
from ssmd.config.model import Environment
from ssmd.errors import NotFoundError
from ssmd.secmaster.diff import Change
from ssmd.secmaster.history import version_path, versions_prefix
from ssmd.secmaster.model import EventInfo, from_rest

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage


async def known_tickers(env: Environment, storage: Storage) -> set[str]:
    """Tickers with at least one version in the secmaster's history."""
    out: set[str] = set()
    for info in await storage.list(versions_prefix(env)):
        if info.path.endswith(".parquet"):
            data = await storage.get(info.path)
            table = await asyncio.to_thread(pq.read_table, pa.BufferReader(data), columns=["ticker"])
            out.update(table.column("ticker").to_pylist())
    return out


async def _infos(rest: Any, targets: list[Target]) -> dict[str, EventInfo]:
    """series ticker → its category and fees (one request per series)."""
    out: dict[str, EventInfo] = {}
    for series in sorted({t.series for t in targets if t.series}):
        try:
            s = await rest.series_one(series)
        except NotFoundError:
            out[series] = EventInfo(series_ticker=series)
            continue
        out[series] = EventInfo(series_ticker=series, category=s.category, fee_type=s.fee_type,
                                fee_multiplier=s.fee_multiplier)
    return out


def versions(targets: list[Target], infos: dict[str, EventInfo], known: set[str], now_ns: int) -> list[Change]:
    """One ``market_added`` version per market the history does not hold (pure)."""
    out = []
    for t in targets:
        if t.ticker in known:
            continue
        market = from_rest(t.market, infos.get(t.series) or EventInfo(series_ticker=t.series))
        out.append(Change(type="market_added", ticker=t.ticker, ts=t.open_ns or now_ns, source="backfill",
                          market=market))
    return sorted(out, key=lambda c: (c.ts, c.ticker))


async def backfill_markets(env: Environment, storage: Storage, rest: Any, targets: list[Target],
                           now_ns: int) -> tuple[int, int]:
    """Write the missing versions; returns (written, already known)."""
    from ssmd.secmaster.history import to_parquet

    known = await known_tickers(env, storage)
    changes = versions(targets, await _infos(rest, targets), known, now_ns)
    if changes:
        await storage.put(version_path(env, now_ns, 0), to_parquet(changes))
    return len(changes), len(targets) - len(changes)
