"""SecmasterService: syncs, live lifecycle updates, the open/close sweep, the connector hook.

Every change goes the same way (``_commit``): cache, then the ``{env}.secmaster.changes``
journal, then the Parquet history, then the connector. A sync fetches everything before it
writes anything, so a failed sync leaves the previous state as it was.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Literal

import msgspec

from ssmd import metrics
from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.errors import SsmdError
from ssmd.kalshi.rest import KalshiRest
from ssmd.log import get_logger
from ssmd.records import Lifecycle
from ssmd.secmaster import history
from ssmd.secmaster.diff import Change, Source, apply, change_between, diff
from ssmd.secmaster.fetch import Progress, fetch_markets, infos_from_markets, rest_url, series_categories
from ssmd.secmaster.hook import ConnectorHook, Target
from ssmd.secmaster.journal import append_changes
from ssmd.secmaster.lifecycle import (
    EVENT_KIND,
    FEE_KIND,
    MARKET_KIND,
    apply_lifecycle,
    event_info_of,
    event_ticker_of,
    fee_updates,
    sweep,
)
from ssmd.secmaster.model import STATUSES, EventInfo, SecMarket, SyncSummary
from ssmd.secmaster.store import MarketStore
from ssmd.status import ComponentState, ComponentStatus
from ssmd.subjects import journal_topic

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("secmaster")
__all__ = ["SecmasterService", "SyncSummary"]


class SecmasterService:
    name = "secmaster"

    def __init__(
        self,
        env: Environment,
        backends: Backends,
        *,
        clock: Clock | None = None,
        rest: KalshiRest | None = None,
        base_url: str | None = None,
        connector: Target | None = None,
        sweep_seconds: float = 15.0,
        page_limit: int = 1000,
        progress: Progress | None = None,
    ) -> None:
        self.env = env
        self.backends = backends
        self.clock = clock or SystemClock()
        self.store = MarketStore(env.name, backends.cache)
        self.topic = journal_topic(env.name, "secmaster.changes")
        self._rest = rest
        self._base_url = base_url
        self.hook = ConnectorHook(connector, env.subscriptions.markets) if connector is not None else None
        self.sweep_seconds = sweep_seconds
        self.page_limit = page_limit
        self.progress = progress
        self.markets: dict[str, SecMarket] = {}
        self.counters: Counter[str] = Counter()
        self.last_summary: SyncSummary | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._history: list[Change] = []
        self._by_status: Counter[str] = Counter()
        self._history_files = 0
        self._pending_fetch: dict[str, int] = {}
        self._events: dict[str, EventInfo] = {}
        """New events announced by ``event_lifecycle`` records, by event ticker."""
        self.ready = asyncio.Event()
        """Set once ``run()`` has synced, handed the selection to the connector and is running."""
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._state: ComponentState = "stopped"
        self._started_at: int | None = None
        self._last_error: str | None = None

    @property
    def rest(self) -> KalshiRest:
        """The REST client, made on first use."""
        if self._rest is None:
            url = self._base_url or rest_url(self.env)
            self._rest = KalshiRest(url, requests_per_second=self.env.secmaster.requests_per_second)
        return self._rest

    # ---- state ------------------------------------------------------------------------
    async def load(self) -> dict[str, SecMarket]:
        """The stored markets (read from the cache once, then kept current in memory)."""
        if not self._loaded:
            self.markets = await self.store.load()
            self._by_status = Counter(m.status for m in self.markets.values())
            self._loaded = True
        return self.markets

    def selected_markets(self) -> list[str]:
        """Tickers the environment's ``subscriptions.markets`` selects right now."""
        from ssmd.secmaster.selection import selected

        return sorted(selected(self.env.subscriptions.markets, self.markets.values()))

    async def _commit(self, changes: list[Change], *, rewrite: dict[str, SecMarket] | None = None) -> None:
        await self.store.write(changes, rewrite=rewrite)
        for change in changes:
            before = self.markets.get(change.ticker)
            if before is not None:
                self._by_status[before.status] -= 1
            if change.type != "market_removed" and change.market is not None:
                self._by_status[change.market.status] += 1
        apply(self.markets, changes)
        await append_changes(self.backends.journal, self.topic, [c.to_json() for c in changes])
        self.counters.update(c.type for c in changes)
        self._history.extend(changes)
        if self.hook is not None and changes:
            try:
                await self.hook.update((c.ticker for c in changes), self.markets)
            except Exception as exc:  # the connector's trouble must not stop the secmaster
                log.error("connector hook failed", error=f"{type(exc).__name__}: {exc}")
        for status in STATUSES:
            metrics.SECMASTER_MARKETS.labels(status).set(self._by_status.get(status, 0))

    async def flush_history(self) -> int:
        """Write buffered changes as one Parquet file of versions; returns rows written."""
        if not self._history:
            return 0
        batch, self._history = self._history, []
        path = history.version_path(self.env, self.clock.now_ns(), self._history_files)
        try:
            await self.backends.storage.put(path, await asyncio.to_thread(history.to_parquet, batch))
        except SsmdError:
            self._history = batch + self._history
            raise
        self._history_files += 1
        return len(batch)

    # ---- sync -------------------------------------------------------------------------
    async def sync(self, full: bool = True) -> SyncSummary:
        """Fetch markets from REST and apply the differences. Raises on failure, having
        changed nothing."""
        kind: Literal["full", "incremental"] = "full" if full else "incremental"
        start = time.perf_counter()
        requests0, throttled0 = self.rest.stats.requests, self.rest.stats.throttled
        async with self._lock:
            await self.load()
            last = await self.store.last_sync()
            since = int(last["finished_at"]) // 1_000_000_000 if last and last.get("finished_at") else None
            if not full and since is None:
                full, kind = True, "full"
            try:
                fetched = await fetch_markets(
                    self.rest, known=self.markets, full=full, since_s=since,
                    page_limit=self.page_limit, progress=self.progress,
                )
            except SsmdError as exc:
                self._fail(exc)
                raise
            now = self.clock.now_ns()
            changes = diff(self.markets, fetched, ts=now, full=full)
            await self._commit(changes, rewrite=fetched if full else None)
            await self.flush_history()
            counts = Counter(c.type for c in changes)
            summary = SyncSummary(
                kind=kind, total=len(self.markets), added=counts["market_added"],
                updated=counts["market_updated"], settled=counts["market_settled"],
                removed=counts["market_removed"], requests=self.rest.stats.requests - requests0,
                throttled=self.rest.stats.throttled - throttled0,
                seconds=round(time.perf_counter() - start, 3), finished_at=now,
            )
            await self.store.set_last_sync(msgspec.to_builtins(summary))
        metrics.SECMASTER_SYNC_SECONDS.labels(kind).observe(summary.seconds)
        self.counters["syncs"] += 1
        self.last_summary = summary
        self._last_error = None
        log.info("secmaster synced", **msgspec.to_builtins(summary))
        return summary

    def _fail(self, exc: BaseException) -> None:
        metrics.SECMASTER_SYNC_ERRORS.inc()
        self.counters["sync_errors"] += 1
        self._last_error = str(exc)
        log.error("secmaster sync failed; previous state kept", error=str(exc))

    # ---- live updates -----------------------------------------------------------------
    async def apply_lifecycle(self, record: Lifecycle) -> Change | None:
        """Apply one WebSocket lifecycle record; returns the change it made, if any (an event's
        fee update changes each of its markets: all are committed, the first is returned)."""
        async with self._lock:
            await self.load()
            if record.kind == FEE_KIND:
                now = self.clock.now_ns()
                changes = [c for old, new in fee_updates(self.markets.values(), record)
                           if (c := change_between(old, new, now, "lifecycle")) is not None]
                if changes:
                    await self._commit(changes)
                    self.counters["lifecycle"] += len(changes)
                return changes[0] if changes else None
            if record.kind == EVENT_KIND:
                event = event_info_of(record, series_categories(self.markets))
                if event is not None:
                    self._events[record.ticker] = event
                return None
            old = self.markets.get(record.ticker)
            info = None
            if old is None and record.event_type == "created":
                event_ticker = event_ticker_of(record)
                info = infos_from_markets(self.markets).get(event_ticker) or self._events.get(event_ticker)
            new = apply_lifecycle(old, record, info)
            if new is None:
                if old is None and record.kind == MARKET_KIND:
                    self._pending_fetch.setdefault(record.ticker, 0)  # missed its creation: ask REST
                return None
            change = change_between(old, new, self.clock.now_ns(), "lifecycle")
            if change is None:
                return None
            await self._commit([change])
            self.counters["lifecycle"] += 1
            if old is None:
                self._pending_fetch[record.ticker] = 0
            return change

    async def sweep(self) -> list[Change]:
        """Open markets whose open time passed and close those whose close time passed."""
        async with self._lock:
            await self.load()
            now = self.clock.now_ns()
            changes = [c for old, new in sweep(self.markets.values(), now)
                       if (c := change_between(old, new, now, "sweep")) is not None]
            if changes:
                await self._commit(changes)
            return changes

    async def commit_market(self, new: SecMarket, source: Source = "sync") -> Change | None:
        """Store ``new`` as the market's current state; returns the change it made, if any."""
        async with self._lock:
            change = change_between(self.markets.get(new.ticker), new, self.clock.now_ns(), source)
            if change is not None:
                await self._commit([change])
            return change

    async def complete_created(self, attempts: int = 5) -> int:
        """Fill in markets first seen through lifecycle records from REST (see ``created``)."""
        from ssmd.secmaster.created import complete_created

        return await complete_created(self, self._pending_fetch, attempts)

    # ---- component ----------------------------------------------------------------------
    async def run(self) -> None:
        from ssmd.secmaster.loops import run_loops

        self._stopping.clear()
        self._done.clear()
        self.ready.clear()
        self._state = "starting"
        self._started_at = self.clock.now_ns()
        try:
            await run_loops(self, self._stopping)
        except Exception as exc:
            self._state = "failed"
            self._last_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if self._state != "failed":
                self._state = "stopped"
            await self.close()
            self._done.set()

    def _running(self) -> None:
        self._state = "running"
        self.ready.set()

    async def stop(self) -> None:
        self._state = "stopping"
        self._stopping.set()
        try:
            await asyncio.wait_for(self._done.wait(), timeout=10.0)
        except TimeoutError:
            log.warning("secmaster did not stop within 10 s")

    async def close(self) -> None:
        if self._rest is not None:
            await self._rest.close()

    def status(self) -> ComponentStatus:
        uptime = (self.clock.now_ns() - self._started_at) / 1e9 if self._started_at else 0.0
        last = self.last_summary
        return ComponentStatus(
            name=self.name,
            state=self._state,
            started_at=self._started_at,
            uptime_seconds=max(0.0, uptime),
            counters={"markets": len(self.markets), **dict(self.counters)},
            errors=self.counters["sync_errors"],
            last_error=self._last_error,
            details={
                "last_sync": msgspec.to_builtins(last) if last else None,
                "subscribed": len(self.hook.subscribed) if self.hook else None,
                "pending_fetch": len(self._pending_fetch),
            },
        )

