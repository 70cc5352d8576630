"""The gateway's read access to the archive, through the catalog (opened lazily).

Used for replays and to top up ``/v1/markets/{ticker}/trades`` with today's archived
trades. The catalog is a private in-memory DuckDB index over the archive's Parquet,
refreshed before each replay and at most every few seconds for REST.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ssmd import client_messages as cm
from ssmd.calendar import day_partition
from ssmd.clock import Clock
from ssmd.config.model import Environment
from ssmd.gateway import protocol as proto
from ssmd.log import get_logger
from ssmd.records import Record

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

REST_REFRESH_SECONDS = 5.0
log = get_logger("gateway")


class Archive:
    def __init__(self, env: Environment, backends: Backends, clock: Clock) -> None:
        self.env = env
        self.backends = backends
        self.clock = clock
        self._catalog: Any = None
        self._lock = asyncio.Lock()
        self._refreshed = -1e9

    async def catalog(self, max_age: float = 0.0) -> Any:
        """The catalog, refreshed when older than ``max_age`` seconds."""
        from ssmd.catalog import Catalog

        async with self._lock:
            now = self.clock.monotonic()
            if self._catalog is None:
                self._catalog = await Catalog.open(self.env, self.backends.storage, database=":memory:")
                self._refreshed = now
            elif now - self._refreshed > max_age:
                await self._catalog.refresh()
                self._refreshed = now
            return self._catalog

    async def records(self, action: proto.Replay, start: int | None, end: int | None) -> Iterator[Record]:
        """The archived records of a replay request, in time order (read lazily)."""
        from ssmd.catalog.replay import ReplayQuery, replay_records

        catalog = await self.catalog()
        rows = catalog.con.execute("SELECT count(*) FROM ssmd_files WHERE date = ? AND status = 'ok'",
                                   [action.date]).fetchall()
        if not rows[0][0]:
            raise proto.BadRequest(f"replay: no archived data for {action.date}")
        query = ReplayQuery(date=action.date, symbols=action.symbols, start_ns=start, end_ns=end)
        return replay_records(catalog, query)

    async def trades(self, ticker: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` trades of ``ticker`` today (oldest first); [] when the
        archive cannot answer (live trades still do)."""
        try:
            from ssmd.catalog.replay import ReplayQuery, replay_records

            catalog = await self.catalog(REST_REFRESH_SECONDS)
            date = day_partition(self.env.schedule, self.clock.now_ns())
            query = ReplayQuery(date=date, symbols=[ticker], types=["trade"])
            found = await asyncio.to_thread(lambda: collections.deque(replay_records(catalog, query), maxlen=limit))
        except Exception as exc:
            log.warning("archived trades unavailable", ticker=ticker, error=type(exc).__name__)
            return []
        return [cm.trade_message(t) for t in found]  # type: ignore[arg-type]

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
