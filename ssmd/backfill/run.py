"""The async runner of a backfill: resolve markets, ask the cutoff, fetch chunks, write.

``backfill(env, storage, rest, request)`` does the whole job and returns a ``Summary``.
Chunks (a market's trades or candles of one trading day and tier) run on a few workers
sharing the paced REST client; each chunk's rows go through ``Dedup`` into the ``Writer``,
which writes files before the checkpoints that claim them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd.backfill import plan
from ssmd.backfill.checkpoint import Checkpoints
from ssmd.backfill.convert import settlement
from ssmd.backfill.fetch import Target, fetch_candles, historical_cutoff, resolve
from ssmd.backfill.markets import backfill_markets
from ssmd.backfill.plan import Interval, Tier
from ssmd.backfill.store import Dedup, Writer
from ssmd.clock import Clock, SystemClock, rfc3339
from ssmd.config.model import Environment
from ssmd.kalshi.rest_records import trade_record

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage


class Request(msgspec.Struct, kw_only=True):
    start_ns: int
    end_ns: int
    symbols: list[str] = []
    series: str | None = None
    event: str | None = None
    what: tuple[str, ...] = ("trades", "candles", "settlements")
    periods: tuple[str, ...] = ("1m",)
    workers: int = 4


class Progress(msgspec.Struct, kw_only=True):
    markets: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    rows: int = 0
    requests: int = 0


class Summary(msgspec.Struct, kw_only=True):
    env: str
    start: str
    end: str
    cutoff: str | None
    markets: int
    chunks: int
    """Chunks fetched in this run."""
    chunks_resumed: int
    """Chunks a checkpoint already covered (not fetched again)."""
    rows: dict[str, int]
    """Rows written per dataset."""
    duplicates: dict[str, int]
    """Rows fetched but already in the archive, per dataset."""
    requests: int
    throttled: int
    """429 answers (each retried)."""
    seconds: float
    rows_per_second: float


class Job(msgspec.Struct, frozen=True):
    what: str
    """``trades`` or ``candles-{period}``."""
    target: Target
    tier: Tier
    chunk: Interval


def plan_jobs(env: Environment, targets: list[Target], request: Request, cutoff: int | None,
              checkpoints: Checkpoints) -> tuple[list[Job], int]:
    """Every chunk still to fetch, and how many a checkpoint already covers (pure)."""
    jobs: list[Job] = []
    resumed = 0
    kinds = (["trades"] if "trades" in request.what else []) + (
        [f"candles-{p}" for p in request.periods] if "candles" in request.what else [])
    for target in targets:
        for what in kinds:
            if what == "trades":
                span = plan.clip(request.start_ns, request.end_ns, target.open_ns, target.close_ns)
                windows = [] if span is None else plan.split_at_cutoff(span[0], span[1], cutoff)
            else:
                period = what.removeprefix("candles-")
                span = plan.candle_span(request.start_ns, request.end_ns, target.open_ns, target.close_ns, period)
                windows = [] if span is None else [plan.Window(span[0], span[1], target.candle_tier)]
            done = checkpoints.done(what, target.ticker)
            for window in windows:
                full = _chunks(env, what, window.start, window.end)
                todo = [c for lo, hi in plan.subtract(window.start, window.end, done)
                        for c in _chunks(env, what, lo, hi)]
                resumed += max(0, len(full) - len(todo))
                jobs.extend(Job(what, target, window.tier, c) for c in todo)
    return jobs, resumed


def _chunks(env: Environment, what: str, lo: int, hi: int) -> list[Interval]:
    if what == "trades":
        return plan.day_chunks(env.schedule, lo, hi)
    return plan.candle_chunks(env.schedule, lo, hi, what.removeprefix("candles-"))


class _Run:
    def __init__(self, env: Environment, storage: Storage, rest: Any, request: Request, clock: Clock,
                 progress: Callable[[Progress], None] | None) -> None:
        self.env = env
        self.storage = storage
        self.rest = rest
        self.request = request
        self.clock = clock
        self.on_progress = progress
        self.state = Progress()
        self.duplicates: dict[str, int] = {}
        self.checkpoints = Checkpoints(env, storage)
        self.writer = Writer(env, storage, self.checkpoints, now_ns=clock.now_ns)
        self.dedup: Dedup | None = None

    def _tick(self, rows: int = 0, chunks: int = 0) -> None:
        self.state.rows += rows
        self.state.chunks_done += chunks
        self.state.requests = self.rest.stats.requests
        if self.on_progress is not None:
            self.on_progress(self.state)

    async def _keep(self, record_type: str, records: list[Any], when: Callable[[Any], int]) -> int:
        """De-duplicate and buffer records (grouped by day partition); rows accepted."""
        assert self.dedup is not None
        by_day: dict[str, list[Any]] = {}
        for r in records:
            by_day.setdefault(plan.partition(self.env.schedule, when(r)), []).append(r)
        accepted = 0
        for day, items in sorted(by_day.items()):
            fresh, dups = await self.dedup.fresh(record_type, day, items)
            self.duplicates[record_type] = self.duplicates.get(record_type, 0) + dups
            self.writer.add(record_type, day, fresh)
            accepted += len(fresh)
        return accepted

    async def _trades(self, job: Job) -> int:
        lo, hi = job.chunk
        found: dict[str, Any] = {}
        async for page in self.rest.trade_pages(ticker=job.target.ticker, min_ts=plan.seconds_floor(lo),
                                                max_ts=plan.seconds_ceil(hi), historical=job.tier == "historical"):
            fetched = self.clock.now_ns()
            for t in page:
                record = trade_record(t, fetched)
                if lo <= record.ts < hi:
                    found.setdefault(record.trade_id, record)
        return await self._keep("trade", list(found.values()), lambda r: r.ts)

    async def _candles(self, job: Job) -> int:
        period = job.what.removeprefix("candles-")
        candles = await fetch_candles(self.rest, job.target, period, job.chunk, job.tier, self.clock.now_ns())
        return await self._keep("candles", candles, lambda c: c.end_period_ts - 1000)  # the period's last µs

    async def _job(self, job: Job) -> None:
        rows = await (self._trades(job) if job.what == "trades" else self._candles(job))
        self.writer.mark(self.checkpoints.get(job.what, job.tier, job.target.ticker), job.chunk)
        self._tick(rows, 1)
        await self.writer.maybe_flush()

    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await self._job(job)

    async def _settlements(self, targets: list[Target]) -> None:
        now = self.clock.now_ns()
        records = [s for t in targets if (s := settlement(t.market, t.series, now)) is not None]
        rows = await self._keep("settlements", records, lambda s: s.settled_ts or s.close_ts or now)
        self._tick(rows)

    async def run(self) -> Summary:
        started = time.monotonic()
        req = self.request
        end = min(req.end_ns, self.clock.now_ns())
        targets = await resolve(self.rest, symbols=req.symbols, series=req.series, event=req.event,
                                start_ns=req.start_ns, end_ns=max(end, req.start_ns + 1),
                                need_series=bool({"candles", "settlements", "markets"} & set(req.what)))
        cutoff = await historical_cutoff(self.rest)
        tickers = {t.ticker for t in targets}
        self.dedup = Dedup(self.env, self.storage, tickers)
        await self.checkpoints.load(tickers)
        clipped = msgspec.structs.replace(req, end_ns=end)
        jobs, resumed = plan_jobs(self.env, targets, clipped, cutoff, self.checkpoints) if end > req.start_ns \
            else ([], 0)
        self.state.markets = len(targets)
        self.state.chunks_total = len(jobs) + ("settlements" in req.what) + ("markets" in req.what)
        self._tick()
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        async with asyncio.TaskGroup() as tg:
            for _ in range(max(1, min(req.workers, len(jobs)))):
                tg.create_task(self._worker(queue))
        if "settlements" in req.what:
            await self._settlements(targets)
            self._tick(chunks=1)
        await self.writer.flush()
        if "markets" in req.what:
            added, known = await backfill_markets(self.env, self.storage, self.rest, targets, self.clock.now_ns())
            self.writer.rows["markets"] = added
            self.duplicates["markets"] = known
            self._tick(added, chunks=1)
        seconds = time.monotonic() - started
        written = dict(self.writer.rows)
        datasets = (("trades", "trade"), ("candles", "candles"), ("settlements", "settlements"),
                    ("markets", "markets"))
        rows = {name: written.get(kind, 0) for name, kind in datasets if name in req.what}
        dups = {name: self.duplicates.get(kind, 0) for name, kind in datasets if name in req.what}
        total = sum(rows.values())
        return Summary(env=self.env.name, start=rfc3339(req.start_ns), end=rfc3339(req.end_ns),
                       cutoff=None if cutoff is None else rfc3339(cutoff), markets=len(targets), chunks=len(jobs),
                       chunks_resumed=resumed, rows=rows, duplicates=dups, requests=self.rest.stats.requests,
                       throttled=self.rest.stats.throttled, seconds=round(seconds, 3),
                       rows_per_second=round(total / seconds, 1) if seconds > 0 else 0.0)


async def backfill(env: Environment, storage: Storage, rest: Any, request: Request, *, clock: Clock | None = None,
                   progress: Callable[[Progress], None] | None = None) -> Summary:
    """Backfill ``request`` from ``rest`` (a ``KalshiRest``) into ``storage``'s archive."""
    return await _Run(env, storage, rest, request, clock or SystemClock(), progress).run()
