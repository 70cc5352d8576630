"""``Healer``: the component that fills trade gaps from REST (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd import codec, metrics
from ssmd.archive.manifest import gap_key
from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.errors import TransportError
from ssmd.healer.archived import archived_trade_ids, dates_between
from ssmd.healer.plan import METHOD, missing, needs_heal, rest_bounds, window
from ssmd.log import get_logger
from ssmd.records import Trade
from ssmd.status import ComponentState, ComponentStatus, GapInfo, HealInfo
from ssmd.subjects import gaps_subject, record_subject

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("healer")
_decode_gap = msgspec.json.Decoder(GapInfo).decode

_REMEMBER = 1_000_000
FetchTrades = Callable[[str | None, int, int], Awaitable[list[Trade]]]
"""``fetch(ticker or None for every market, min_ts, max_ts)`` (Unix s, inclusive) → every
trade REST has in that span, as records with ``source='rest'``."""


class _Job:
    __slots__ = ("attempts", "due", "gap", "msg")

    def __init__(self, gap: GapInfo, msg: Any, due: float) -> None:
        self.gap = gap
        self.msg = msg
        self.due = due
        self.attempts = 0


class Healer:
    name = "healer"

    def __init__(self, env: Environment, backends: Backends, *, clock: Clock = SystemClock(),
                 fetch: FetchTrades | None = None, durable: str = "healer") -> None:
        self.env = env
        self.backends = backends
        self.clock = clock
        self.config = env.healer
        settle = self.config.settle_seconds
        self.settle = env.archiver.flush_interval_seconds + 2.0 if settle is None else settle
        self._fetch = fetch
        self._rest: Any = None
        self._durable = durable
        self._jobs: dict[tuple[Any, ...], _Job] = {}
        self._done: set[tuple[Any, ...]] = set()
        self._published: dict[str, None] = {}
        """Trade ids this healer published (oldest first): the archive may not hold them yet."""
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._sub: Any = None
        self._state: ComponentState = "starting"
        self._started: int | None = None
        self._counters = {"gaps_seen": 0, "healed": 0, "failed": 0, "recovered": 0, "fetched": 0}
        self._errors = 0
        self._last_error: str | None = None

    # ---- component -------------------------------------------------------------------
    async def run(self) -> None:
        self._started = self.clock.now_ns()
        self._stopping.clear()
        transport = self.backends.transport
        try:
            self._sub = await transport.subscribe(gaps_subject(self.env.name, self.env.feed), durable=self._durable,
                                                  ack_wait=3600.0)
            self._state = "running"
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._consume(self._sub)), tg.create_task(self._work())]
                await self._stopping.wait()
                for task in tasks:
                    task.cancel()
        finally:
            self._state = "stopped"
            if self._rest is not None:
                await self._rest.close()
                self._rest = None

    async def stop(self) -> None:
        """Stop taking gaps; gaps not healed yet stay unacked and come back on restart."""
        self._state = "stopping"
        self._stopping.set()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.close()

    def status(self) -> ComponentStatus:
        now = self.clock.now_ns()
        return ComponentStatus(
            name=self.name, state=self._state, started_at=self._started,
            uptime_seconds=(now - self._started) / 1e9 if self._started else 0.0,
            counters=dict(self._counters), errors=self._errors, last_error=self._last_error,
            details={"pending_gaps": len(self._jobs), "settle_seconds": self.settle},
        )

    # ---- gaps in ---------------------------------------------------------------------
    async def _consume(self, sub: Any) -> None:
        while True:
            try:
                msg = await sub.next()
            except (StopAsyncIteration, TransportError):
                if self._stopping.is_set():
                    return
                raise
            try:
                gap = _decode_gap(msg.data)
            except msgspec.DecodeError:
                await msg.ack()  # the archiver dead-letters it; nothing to heal
                continue
            key = gap_key(gap)
            if not needs_heal(gap) or key in self._done:
                await msg.ack()
                continue
            self._counters["gaps_seen"] += 1
            old = self._jobs.get(key)
            if old is not None:
                await old.msg.ack()
            self._jobs[key] = _Job(gap, msg, self._due(gap))
            metrics.HEALER_PENDING.set(len(self._jobs))
            self._wake.set()

    def _due(self, gap: GapInfo) -> float:
        """When to heal (monotonic): ``settle`` seconds after the window's end, so the live
        trades inside the window are archived before the archive is asked for them."""
        _, end = window(gap, self.config)
        wait = (end - self.clock.now_ns()) / 1e9 + self.settle
        return self.clock.monotonic() + max(0.0, wait)

    # ---- healing ---------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            now = self.clock.monotonic()
            due = min((job.due for job in self._jobs.values()), default=now + 3600.0)
            if due > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(due - now, 3600.0))
                continue
            key, job = min(self._jobs.items(), key=lambda kv: kv[1].due)
            await self._attempt(key, job)

    async def _attempt(self, key: tuple[Any, ...], job: _Job) -> None:
        job.attempts += 1
        try:
            info = await self.heal(job.gap)
        except Exception as exc:
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            if job.attempts < self.config.attempts:
                delay = min(60.0, 2.0 ** job.attempts)
                job.due = self.clock.monotonic() + delay
                log.warning("heal failed; retrying", channel=job.gap.channel, kind=job.gap.kind,
                            attempt=job.attempts, retry_in=delay, error=self._last_error)
                return
            start, end = window(job.gap, self.config)
            info = HealInfo(status="failed", method=METHOD, at_ns=self.clock.now_ns(), window_start_ns=start,
                            window_end_ns=end, error=self._last_error)
            log.error("gap not healed", channel=job.gap.channel, kind=job.gap.kind, attempts=job.attempts,
                      error=self._last_error)
        await self._finish(key, job, info)

    async def _finish(self, key: tuple[Any, ...], job: _Job, info: HealInfo) -> None:
        healed = msgspec.structs.replace(job.gap, healed=info)
        await self.backends.transport.publish(gaps_subject(self.env.name, self.env.feed),
                                              msgspec.json.encode(healed))
        await job.msg.ack()
        del self._jobs[key]
        self._done.add(key)
        metrics.HEALER_PENDING.set(len(self._jobs))
        outcome = "healed" if info.status == "healed" else "failed"
        self._counters[outcome] += 1
        metrics.HEALER_GAPS.labels(outcome).inc()

    async def heal(self, gap: GapInfo) -> HealInfo:
        """Fetch the gap's trades, archive the missing ones, and say what was done."""
        start, end = window(gap, self.config)
        min_ts, max_ts = rest_bounds(start, end)
        fetch = self._fetch or await self._rest_fetch()
        targets: list[str | None] = list(gap.markets) if gap.markets else [None]
        fetched: list[Trade] = []
        for ticker in targets:
            fetched.extend(await fetch(ticker, min_ts, max_ts))
        now = self.clock.now_ns()
        archived = await archived_trade_ids(self.env, self.backends.storage, gap.markets or None, start, end,
                                            dates_between(self.env, start, end, now))
        todo = missing(fetched, archived | self._published.keys(), start, end)
        await self._publish(todo, now)
        in_span = sum(1 for t in fetched if start <= t.ts <= end)
        self._counters["recovered"] += len(todo)
        self._counters["fetched"] += in_span
        metrics.HEALER_TRADES.inc(len(todo))
        log.info("gap healed", channel=gap.channel, kind=gap.kind, markets=len(gap.markets) or "all",
                 fetched=in_span, recovered=len(todo), seconds=round((end - start) / 1e9, 3))
        return HealInfo(status="healed", method=METHOD, at_ns=self.clock.now_ns(), recovered=len(todo),
                        fetched=in_span, window_start_ns=start, window_end_ns=end)

    async def _publish(self, trades: list[Trade], now_ns: int) -> None:
        transport = self.backends.transport
        env, feed = self.env.name, self.env.feed
        headers = {"received_at": str(now_ns), "conn": "healer"}
        for trade in trades:
            record = msgspec.structs.replace(trade, received_at=now_ns)
            await transport.publish(record_subject(env, feed, "trade", trade.ticker), codec.encode(record),
                                    headers=headers, msg_id=f"heal:{trade.trade_id}")
            self._published[trade.trade_id] = None
        while len(self._published) > _REMEMBER:
            del self._published[next(iter(self._published))]

    async def _rest_fetch(self) -> FetchTrades:
        from ssmd.healer.rest import RestTrades

        if self._rest is None:
            self._rest = RestTrades(self.env, self.clock)
        return self._rest.fetch
