"""``Connector``: the component that captures the feed (see the package docstring)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ssmd import codec, metrics
from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment, MarketSelector
from ssmd.connector.connection import Connection
from ssmd.connector.endpoints import Credentials, feed_stale_after, load_credentials, resolve_ws_url
from ssmd.connector.gaps import GapLog
from ssmd.connector.restbooks import RestBooks
from ssmd.connector.settings import ConnectorSettings, freeze_policy
from ssmd.connector.stats import Stats
from ssmd.errors import SsmdError
from ssmd.kalshi.subscriptions import Change, Limits, Planner
from ssmd.log import get_logger
from ssmd.status import ComponentState, ComponentStatus

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("connector")
_TICK = 1.0


class Connector:
    """Kalshi WebSocket -> raw frames + normalized records on the transport.

    ``add_markets``/``remove_markets`` follow markets as they open and close (the
    secmaster calls them); ``status()`` reports counters, rates, lag, gaps, connections
    and subscribed markets.
    """

    name = "connector"

    def __init__(
        self,
        env: Environment,
        backends: Backends,
        *,
        clock: Clock = SystemClock(),
        settings: ConnectorSettings | None = None,
        ws_url: str | None = None,
        markets: Iterable[str] = (),
        credentials: Credentials | None = None,
    ) -> None:
        self.env = env
        self.backends = backends
        self.transport = backends.transport
        self.clock = clock
        self.feed = env.feed
        self.settings = settings or ConnectorSettings(stale_after=feed_stale_after(env),
                                                      freeze=freeze_policy(env.connector))
        subs = env.subscriptions
        limits = Limits(markets_per_subscription=subs.markets_per_subscription,
                        markets_per_connection=subs.markets_per_connection,
                        max_connections=self.settings.max_connections)
        selected: Any = subs.markets
        if isinstance(selected, MarketSelector):
            selected = selected.tickers
        self.planner = Planner(subs.channels, selected, limits)
        if markets:
            self.planner.add(markets)
        self.stats = Stats(self.feed)
        self.gaps = GapLog(env.name, self.feed, self._publish_gap, self.settings.recent_gaps)
        self.rest_books = RestBooks(env, self.transport, clock)
        """Order books from REST when a WebSocket resnapshot is refused."""
        self.connections: list[Connection] = []
        self.credentials = credentials
        self.url = ws_url or ""
        self._ws_url = ws_url
        self.stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._state: ComponentState = "starting"
        self._started_ns: int | None = None
        self._started_mono = 0.0
        self._overflow_counted = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        self._state = "starting"
        self._started_ns = self.clock.now_ns()
        self._started_mono = time.monotonic()
        self.stopping.clear()
        self._done.clear()
        try:
            if self.credentials is None:
                self.credentials = load_credentials(self.env)
            codec.preload()  # not inside the first batch of frames
            self.url = url = resolve_ws_url(self.env, self._ws_url)
            log.info("connector starting", url=url, channels=self.env.subscriptions.channels,
                     markets=len(self.planner.markets), authenticated=self.credentials is not None)
            await self._run_connections()
            self._state = "stopped"
        except Exception as exc:
            self._state = "failed"
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            raise
        except BaseException:
            self._state = "stopped"
            raise
        finally:
            await self.rest_books.close()
            self._done.set()

    async def _run_connections(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._count_overflow()
                for index in range(self.planner.connection_count):
                    self._spawn(index)
                self._state = "running"
                ticker = tg.create_task(self._tick_loop())
                await self.stopping.wait()
                ticker.cancel()
        except BaseExceptionGroup as group:
            first = _first_ssmd_error(group)
            if first is not None:
                log.error("connector stopped", error=str(first))
                raise first from None
            raise
        finally:
            self._tg = None
            self._tick()

    def _spawn(self, index: int) -> None:
        while len(self.connections) <= index:
            self.connections.append(Connection(len(self.connections), self))
        if self._tg is not None:
            self._tg.create_task(self._guard(self.connections[index]))

    async def _guard(self, connection: Connection) -> None:
        try:
            await connection.run()
        except SsmdError:
            self.stopping.set()
            raise

    async def stop(self) -> None:
        """Close the connections, publish what is buffered, and return when done."""
        self._state = "stopping" if self._state != "failed" else self._state
        self.stopping.set()
        if self._started_ns is None:
            return
        try:
            await asyncio.wait_for(self._done.wait(), self.settings.stop_timeout + 3)
        except TimeoutError:
            log.warning("connector did not stop in time")

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            self._tick()

    def _tick(self) -> None:
        self.stats.tick(time.monotonic())
        count = len(self.planner.markets)
        for channel in self.planner.market_channels:
            metrics.CONNECTOR_SUBSCRIBED_MARKETS.labels(self.feed, channel).set(count)

    async def _publish_gap(self, subject: str, data: bytes) -> None:
        await self.transport.publish(subject, data, {"received_at": str(self.clock.now_ns())})

    # --- markets -------------------------------------------------------------------------

    async def add_markets(self, tickers: Iterable[str]) -> None:
        """Follow more markets (on channels that need explicit tickers)."""
        changes = self.planner.add(list(tickers))
        self._count_overflow()
        await self._apply(changes)

    async def remove_markets(self, tickers: Iterable[str]) -> None:
        """Stop following markets; room freed is given to markets waiting in overflow."""
        await self._apply(self.planner.remove(list(tickers)))

    def _count_overflow(self) -> None:
        new = self.planner.overflowed_total - self._overflow_counted
        if new > 0:
            metrics.CONNECTOR_MARKET_OVERFLOW.labels(self.feed).inc(new)
            self._overflow_counted = self.planner.overflowed_total
            log.error("markets over the connection limit", waiting=len(self.planner.overflow),
                      limit=self.planner.limits.markets_per_connection * self.planner.limits.max_connections)

    async def _apply(self, changes: list[Change]) -> None:
        by_conn: dict[int, list[Change]] = {}
        for change in changes:
            by_conn.setdefault(change.key.conn, []).append(change)
        for index, group in by_conn.items():
            if index < len(self.connections):
                await self.connections[index].apply(group)
        for index in range(len(self.connections), self.planner.connection_count):
            self._spawn(index)

    # --- status --------------------------------------------------------------------------

    def status(self) -> ComponentStatus:
        stats = self.stats
        planner = self.planner
        running = self._state in ("running", "stopping")
        subscribed = {ch: "all" for ch in planner.global_channels}
        subscribed.update({ch: str(len(planner.markets)) for ch in planner.market_channels})
        return ComponentStatus(
            name=self.name,
            state=self._state,
            started_at=self._started_ns,
            uptime_seconds=time.monotonic() - self._started_mono if running else 0.0,
            restarts=sum(c.reconnects for c in self.connections),
            counters=stats.counters(),
            rates=stats.rates(),
            lag_seconds=None if stats.lag_ns is None else stats.lag_ns / 1e9,
            errors=sum(stats.errors.values()),
            last_error=stats.last_error,
            details={
                "url": self.url,
                "connections": [c.describe() for c in self.connections],
                "subscribed_markets": subscribed,
                "markets": len(planner.markets),
                "overflow": len(planner.overflow),
                "overflowed_total": planner.overflowed_total,
                "gaps": stats_gaps(self.gaps),
            },
        )


def stats_gaps(gaps: GapLog) -> dict[str, Any]:
    import msgspec

    return {"total": gaps.total, "open": len(gaps.open), "recent": [msgspec.to_builtins(g) for g in gaps.recent]}


def _first_ssmd_error(group: BaseExceptionGroup) -> SsmdError | None:
    for exc in group.exceptions:
        if isinstance(exc, SsmdError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_ssmd_error(exc)
            if found is not None:
                return found
    return None
