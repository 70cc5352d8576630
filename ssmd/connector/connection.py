"""One WebSocket connection to the exchange, kept alive for the connector's lifetime.

Each attempt signs fresh headers and opens the socket; then the planned subscriptions
are sent, a reader task moves frames into a bounded buffer (it never waits on anything
downstream), a publisher drains the buffer through the ``FramePipeline``, and a watchdog
declares the connection dead when no frame and no ping arrived for ``stale_after``
seconds, or when one of its channels is frozen (pings answered, no data past the
channel's own limit: ``ssmd.connector.staleness``). A lost connection is an outage (a gap
from its last frame, or from a frozen channel's last data, until every subscription is
back) and is reconnected with exponential backoff and jitter. A refused upgrade is logged
with its status and body; 401/403 is an ``AuthError`` that stops.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from ssmd import metrics
from ssmd.clock import SystemClock
from ssmd.connector.buffer import FrameBuffer
from ssmd.connector.dial import DialRetry, TimedConnection, dial_unless_stopped
from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.session import Session
from ssmd.connector.staleness import ChannelCounts, Freeze, FreezeWatch
from ssmd.errors import AuthError
from ssmd.kalshi.subscriptions import Change
from ssmd.log import get_logger
from ssmd.retry import backoff
from ssmd.status import GapInfo

if TYPE_CHECKING:
    from ssmd.connector.service import Connector

log = get_logger("connector")
_PAUSE_LOG_EVERY = 10.0
"""Seconds between two log lines about reading paused (each pause is counted)."""


class Connection:
    def __init__(self, index: int, owner: Connector) -> None:
        self.index = index
        self.owner = owner
        self.state = "starting"
        self.conn_id = ""
        self.attempts = 0
        self.reconnects = 0
        self.connected_at: int | None = None
        self.last_frame_ns: int | None = None
        self.last_alive_ns: int | None = None
        """When the last frame of any kind (pings included) arrived: where an outage starts."""
        self.frames = 0
        self.dropped = 0
        self.buffer: FrameBuffer | None = None
        """The live connection's hand-off to its publisher (None between connections)."""
        self.read_pauses = 0
        """Times reading stopped because the publisher was behind, over every connection."""
        self.last_cause = ""
        self.live = asyncio.Event()
        """Set while connected with every planned subscription answered."""
        self.session: Session | None = None
        self._ws: TimedConnection | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._stale_cause = ""
        self._gauge = metrics.CONNECTOR_CONNECTED.labels(owner.feed, str(index))
        self.watch = FreezeWatch(owner.settings.freeze)
        """What each channel's silence usually is, learnt across connections."""
        self.freezes: dict[str, int] = {}
        """Freezes detected, by channel."""
        self.last_freeze: Freeze | None = None
        self._frozen_since: dict[str, int] = {}
        """Frozen channel -> when its data was last seen (ns): where its outage starts."""

    # --- the attempt loop ------------------------------------------------------------

    async def run(self) -> None:
        owner = self.owner
        settings = owner.settings
        delays = backoff(settings.backoff_initial, settings.backoff_max)
        try:
            while not owner.stopping.is_set():
                self.attempts += 1
                self.state = "connecting"
                try:
                    ws = await dial_unless_stopped(owner.url, owner.credentials, owner.clock, settings.open_timeout,
                                                   owner.stopping)
                except DialRetry as exc:
                    cause = str(exc)
                else:
                    if ws is None:
                        break
                    cause, healthy = await self._serve(ws)
                    if healthy:
                        delays = backoff(settings.backoff_initial, settings.backoff_max)
                if owner.stopping.is_set():
                    break
                self.last_cause = cause
                await self._outage(cause)
                delay = next(delays)
                self.state = "backoff"
                self.reconnects += 1
                metrics.CONNECTOR_RECONNECTS.labels(owner.feed).inc()
                log.warning("reconnecting", connection=self.index, cause=cause, delay=round(delay, 3))
                try:
                    await asyncio.wait_for(owner.stopping.wait(), delay)
                except TimeoutError:
                    pass
        except AuthError:
            self.state = "failed"
            raise
        finally:
            await owner.gaps.end(("outage", self.index), owner.clock.now_ns())
            if self.state != "failed":
                self.state = "stopped"
            self._gauge.set(0)

    # --- one live connection -----------------------------------------------------------

    async def _serve(self, ws: TimedConnection) -> tuple[str, bool]:
        owner = self.owner
        now = owner.clock.now_ns()
        self.connected_at = now
        self.conn_id = f"{owner.env.name}-{self.index}.{self.attempts}-{now:x}"
        self.state = "subscribing"
        self._stale_cause = ""
        self._gauge.set(1)
        session = Session(self.index, owner.planner)
        pipeline = FramePipeline(owner.env.name, owner.feed, owner.transport, owner.stats, session, self.conn_id)
        buffer = self.buffer = self._buffer_for(ws)
        self.session, self._ws = session, ws
        log.info("connected", connection=self.index, conn=self.conn_id, url=owner.url)
        session.start(now)
        await self._after_batch(session)
        cause = "stopped"
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._publish(buffer, pipeline, session))
                helpers = [tg.create_task(self._watch(ws, session, pipeline, buffer)),
                           tg.create_task(self._close_on_stop(ws))]
                try:
                    cause = await self._read(ws, buffer)
                finally:
                    buffer.close()
                    for task in helpers:
                        task.cancel()
        finally:
            idle = max(0.0, time.monotonic() - ws.last_frame)
            self.last_alive_ns = max(self.last_frame_ns or 0, owner.clock.now_ns() - int(idle * 1e9))
            self.live.clear()
            self._gauge.set(0)
            self.session, self._ws, self._tg, self.buffer = None, None, None, None
        log.info("disconnected", connection=self.index, conn=self.conn_id, cause=cause, frames=pipeline.frames)
        return cause, session.ready

    def _buffer_for(self, ws: TimedConnection) -> FrameBuffer:
        """The hand-off of one connection: past ``pause_at`` frames it stops reading the
        socket, so a publisher that falls behind slows the exchange down (TCP) instead of
        frames being dropped; reading starts again once a quarter of that is left."""
        settings, feed = self.owner.settings, self.owner.feed
        pauses = metrics.CONNECTOR_READ_PAUSES.labels(feed)
        logged = [-_PAUSE_LOG_EVERY]

        def pause() -> None:
            self.read_pauses += 1
            pauses.inc()
            ws.transport.pause_reading()
            now = time.monotonic()
            if now - logged[0] >= _PAUSE_LOG_EVERY:  # a long burst pauses often: one line per 10 s
                logged[0] = now
                log.warning("reading paused: the publisher is behind", connection=self.index, conn=self.conn_id,
                            buffered=settings.pause_at, pauses=self.read_pauses)

        def resume() -> None:
            ws.last_frame = time.monotonic()  # silence while paused was ours, not the exchange's
            if not ws.transport.is_closing():
                ws.transport.resume_reading()

        return FrameBuffer(settings.queue_size, high=settings.pause_at, pause=pause, resume=resume)

    async def _read(self, ws: TimedConnection, buffer: FrameBuffer) -> str:
        """Move every message into ``buffer`` as the connection delivers it (stamped one by
        one with the receive time); returns why the connection ended."""
        push_many = buffer.push_many
        clock = self.owner.clock
        now = time.time_ns if type(clock) is SystemClock else clock.now_ns  # the same, without a call per frame
        stats = self.owner.stats

        def take(frames: list[bytes]) -> None:
            t, dropped = push_many(frames, now)
            self.frames += len(frames)
            self.last_frame_ns = t
            if dropped:  # counted once per chunk, not per frame
                self.dropped += dropped
                stats.error("queue_overflow", f"publisher buffer full ({buffer.capacity} frames)", dropped)

        ws.attach(take)
        await ws.wait_closed()
        if self._stale_cause:
            return self._stale_cause
        if self.owner.stopping.is_set():
            return "stopped"
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None:
            reason = f" {rcvd.reason}" if rcvd.reason else ""
            return f"closed by server: code {rcvd.code}{reason}"
        return "connection lost (no close frame)"

    async def _publish(self, buffer: FrameBuffer, pipeline: FramePipeline, session: Session) -> None:
        take = buffer.take
        limit = self.owner.settings.batch_size
        while batch := await take(limit):
            await pipeline.process(batch)
            if session.outbox or session.events or session.rest_books:
                await self._after_batch(session)

    async def _after_batch(self, session: Session) -> None:
        gaps = self.owner.gaps
        while session.events:
            events, session.events = session.events, []
            for event in events:
                if event[0] == "record":
                    await gaps.record(event[1])
                elif event[0] == "start":
                    await gaps.start(event[1], event[2])
                else:
                    await gaps.end(event[1], event[2])
        while session.rest_books and self._tg is not None:
            sid, markets, reason = session.rest_books.pop(0)
            self._tg.create_task(self._rest_books(session, sid, markets, reason))
        if session.ready and not self.live.is_set():
            self.state = "live"
            self.live.set()
            log.info("subscribed", connection=self.index, subscriptions=len(session.key_sid),
                     refused=len(session.refused))
        await self._flush(session)

    async def _rest_books(self, session: Session, sid: int, markets: tuple[str, ...], reason: str) -> None:
        """The fallback of a refused resnapshot: each book from REST; if REST fails too,
        the subscription starts over."""
        books = self.owner.rest_books
        for ticker in markets:
            try:
                await books.publish(ticker, self.conn_id)
            except Exception as exc:
                log.warning("order book not read from REST; resubscribing", ticker=ticker,
                            error=f"{type(exc).__name__}: {exc}")
                session.rest_books_failed(sid, f"{reason}; REST: {type(exc).__name__}: {exc}",
                                          self.owner.clock.now_ns())
                await self._after_batch(session)
                return
            session.rest_book_done(sid, ticker)

    async def _flush(self, session: Session) -> None:
        ws = self._ws
        texts, session.outbox = session.outbox, []
        if ws is None:
            return
        for text in texts:
            try:
                await ws.send(text)
            except ConnectionClosed:
                return

    async def _watch(self, ws: TimedConnection, session: Session, pipeline: FramePipeline,
                     buffer: FrameBuffer) -> None:
        settings = self.owner.settings
        stale_after = settings.stale_after
        policy = settings.freeze
        interval = max(0.01, min(1.0, stale_after / 4, policy.interval if policy.enabled else 1.0))
        watch, counts = self.watch, ChannelCounts()
        watch.rearm([key.channel for key, _ in self.owner.planner.subscriptions(self.index)], time.monotonic())
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            idle = 0.0 if buffer.paused else now - ws.last_frame  # paused: we stopped reading
            if idle >= stale_after:
                self._stale_cause = f"stale: no frame or ping for {idle:.1f} s"
                log.warning("connection stale", connection=self.index, conn=self.conn_id, idle=round(idle, 3))
                break
            if not policy.enabled:
                continue
            sids = {sid: session.sid_channel.get(sid, key.channel) for sid, key in session.sid_key.items()}
            for channel in counts.moved(sids, session.tracker.last, pipeline.frames, session.control_frames,
                                        session.tracker.duplicates, session.skipped):
                passed = watch.seen(channel, now)
                if passed is not None:
                    await self._silence(passed, now, interval)
            frozen = watch.frozen(now)
            if frozen:
                self._freeze(frozen, now, interval)
                break
        if ws.transport is not None:
            ws.transport.abort()

    async def _silence(self, passed: Freeze, now: float, interval: float) -> None:
        """A silence over the channel's limit that ended without a reconnect (its patience
        was doubled after earlier freezes): recorded as a closed gap, so it is healed."""
        clock_now = self.owner.clock.now_ns()
        start = clock_now - int((now - passed.last_seen + interval) * 1e9)
        markets: list[str] = []
        for key, slot in self.owner.planner.subscriptions(self.index):
            if key.channel == passed.channel:
                markets.extend(slot or ())
        await self.owner.gaps.record(GapInfo(
            kind="outage", channel=passed.channel, start_ns=start, end_ns=clock_now, markets=markets,
            cause=f"silent: no {passed.channel} data for {passed.silence:.1f} s (limit {passed.limit:.1f} s), "
                  "then data again"))

    def _freeze(self, frozen: list[Freeze], now: float, interval: float) -> None:
        """Channels silent past their limit while the connection lives: replace it, and start
        each frozen channel's outage where its data was last seen (one sample earlier)."""
        first = frozen[0]
        clock_now = self.owner.clock.now_ns()
        self._frozen_since = {f.channel: clock_now - int((now - f.last_seen + interval) * 1e9) for f in frozen}
        self.last_freeze = first
        self.watch.struck([f.channel for f in frozen])
        for f in frozen:
            self.freezes[f.channel] = self.freezes.get(f.channel, 0) + 1
            metrics.CONNECTOR_FREEZES.labels(self.owner.feed, f.channel).inc()
        names = ", ".join(f.channel for f in frozen)
        self._stale_cause = (f"frozen: no {names} data for {first.silence:.1f} s (usual silence "
                             f"{first.usual:.2f} s, limit {first.limit:.1f} s)")
        log.warning("channel frozen", connection=self.index, conn=self.conn_id, channels=names,
                    silence=round(first.silence, 3), limit=round(first.limit, 3), usual=round(first.usual, 3))

    async def _close_on_stop(self, ws: TimedConnection) -> None:
        await self.owner.stopping.wait()
        await ws.close(1000, "stopping")

    # --- changes and outages -----------------------------------------------------------

    async def apply(self, changes: list[Change]) -> None:
        """Live plan changes for this connection (ignored while disconnected: the next
        connection subscribes the whole plan)."""
        session = self.session
        if session is None:
            return
        for change in changes:
            session.apply(change)
        await self._flush(session)

    async def _outage(self, cause: str) -> None:
        owner = self.owner
        now = owner.clock.now_ns()
        start = self.last_alive_ns or now
        for owner_key in [k for k in owner.gaps.open if isinstance(k, tuple) and k[0] == "error"
                          and k[1].conn == self.index]:
            await owner.gaps.end(owner_key, start)
        channels: dict[str, list[str]] = {}
        for key, markets in owner.planner.subscriptions(self.index):
            channels.setdefault(key.channel, []).extend(markets or ())
        frozen, self._frozen_since = self._frozen_since, {}
        gaps = [GapInfo(kind="outage", channel=channel, start_ns=min(start, frozen.get(channel, start)), cause=cause,
                        markets=markets)
                for channel, markets in channels.items()]
        await owner.gaps.start(("outage", self.index), gaps)

    def describe(self) -> dict[str, Any]:
        session = self.session
        return {
            "index": self.index, "state": self.state, "conn": self.conn_id, "attempts": self.attempts,
            "reconnects": self.reconnects, "connected_at": self.connected_at, "frames": self.frames,
            "dropped": self.dropped, "buffered": len(self.buffer) if self.buffer is not None else 0,
            "reading_paused": self.buffer is not None and self.buffer.paused, "read_pauses": self.read_pauses,
            "last_cause": self.last_cause, "freezes": dict(self.freezes),
            "freeze_limits": self.watch.limits(),
            "subscriptions": len(session.key_sid) if session else 0,
            "refused": list(session.refused) if session else [],
            "markets": self.owner.planner.connection_markets(self.index),
        }
