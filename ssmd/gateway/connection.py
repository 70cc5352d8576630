"""One client connection: a reader that acts on client frames and one writer task.

The reader parses actions (``ssmd.gateway.protocol``) and answers every bad one with an
``error`` message, keeping the connection; only abuse (frames over the hard size limit,
which websockets refuses with 1009, or far too many requests) closes it. The writer takes
batches from the session's buffer and sends them; it is the only code that awaits the
client's socket.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ssmd import metrics
from ssmd.gateway import protocol as proto
from ssmd.gateway.session import Session
from ssmd.gateway.wire import send_batch

if TYPE_CHECKING:
    from ssmd.gateway.service import Gateway

BATCH = 256
AUTH_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
DIRECT_LIMIT = 16 * 1024
"""Direct writes only while the socket's write buffer holds at most this many bytes."""
DIRECT_BATCH = 256


class ClientConnection:
    def __init__(self, gateway: Gateway, ws: Any, session: Session) -> None:
        self.gateway = gateway
        self.ws = ws
        self.session = session
        self.wake = asyncio.Event()
        self.progress = asyncio.Event()
        """Set each time the writer has sent a batch (a replay waits on it for room)."""
        self.pending_symbols: list[str] = []
        self.sending = False
        self._side_close = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.tg: asyncio.TaskGroup | None = None
        session.notify = self._notify
        session.direct = self._direct
        self.transport = ws.transport
        self.protocol = ws.protocol
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task owned by this connection (ended with it)."""
        if self.tg is None:
            coro.close()
            return
        task = self.tg.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _direct(self, frame: bytes, kind: str) -> bool:
        """The fan-out's fast path for a client that keeps up: nothing queued, the writer
        idle and the socket's write buffer drained. The frame joins the client's pending
        frames, which the gateway writes to the transport (never blocking) once per event
        loop turn, so a burst of messages costs one socket write per client, and no task
        wakes up."""
        if self.sending or self.session.state != "open" or len(self.pending) >= DIRECT_BATCH \
                or self.pending_bytes + self.transport.get_write_buffer_size() > DIRECT_LIMIT:
            return False
        if not self.pending:
            self.gateway.write_soon(self)
        self.pending.append(frame)
        self.pending_bytes += len(frame)
        self.session.count_sent(kind)
        return True

    def write_pending(self) -> None:
        """Write the pending frames (called by the gateway, and by the writer first)."""
        if not self.pending:
            return
        frames, self.pending, self.pending_bytes = self.pending, [], 0
        if self.protocol.state is State.OPEN and not self.protocol.extensions:
            self.transport.writelines(frames)

    def _notify(self) -> None:
        self.wake.set()
        if self.session.state == "closing" and self.sending and not self._side_close:
            # the writer is stuck on a client that does not read: close from the side
            self._side_close = True
            self.spawn(self._close_stalled())

    async def serve(self, initial: list[str]) -> None:
        async with asyncio.TaskGroup() as tg:
            self.tg = tg
            writer = tg.create_task(self.writer())
            self.tasks.add(writer)
            if self.session.state == "awaiting_auth":
                self.spawn(self._auth_deadline())
            if initial:
                if self.session.state == "open":
                    await self.gateway.subscribe(self.session, initial, None)
                else:
                    self.pending_symbols = initial
            try:
                await self.reader()
                if self.session.state == "closing" and not writer.done():  # we close: the writer says why
                    await asyncio.wait({writer}, timeout=CLOSE_TIMEOUT * 2)
            finally:
                self.sending = False
                self.session.close(1000, "client closed")
                for task in list(self.tasks):  # the writer, auth deadline and replays end with the client
                    task.cancel()
        self.session.state = "closed"

    async def _auth_deadline(self) -> None:
        await asyncio.sleep(AUTH_TIMEOUT)
        if self.session.state == "awaiting_auth":
            self.session.close(1008, "authentication required: send {\"action\":\"auth\",\"key\":...} first")

    async def reader(self) -> None:
        """Act on client frames until the connection is closed. Once the session is
        closing, frames are read and ignored, so the closing handshake gets through."""
        gw = self.gateway
        session = self.session
        try:
            async for frame in self.ws:
                if session.state in ("closing", "closed"):
                    continue
                now = gw.clock.monotonic()
                verdict = session.rate.allow(now)
                if verdict == "abusive":
                    session.close(1008, "too many requests")
                    continue
                if verdict == "limited":
                    session.send_control(proto.error("rate limit exceeded: slow down"), now)
                    continue
                try:
                    request = proto.parse_action(frame, max_bytes=gw.max_request_bytes)
                except proto.BadRequest as exc:
                    if session.state == "awaiting_auth":
                        session.close(1008, "authentication required: the first message must be auth")
                    else:
                        session.send_control(proto.error(exc.reason, exc.request), now)
                    continue
                await self.act(request, now)
        except (ConnectionClosed, OSError):
            pass

    async def act(self, request: proto.Request, now: float) -> None:
        gw = self.gateway
        session = self.session
        action = request.action
        if session.state == "awaiting_auth":
            if not isinstance(action, proto.Auth):
                session.close(1008, "authentication required: the first message must be auth")
                return
            if not gw.check_key(action.key):
                session.close(1008, "invalid API key")
                return
            session.authenticate()
            session.send_control(proto.reply("authenticated", _redacted(request)), now)
            if self.pending_symbols:
                await gw.subscribe(session, self.pending_symbols, None)
            return
        if isinstance(action, proto.Auth):
            session.send_control(proto.reply("authenticated", _redacted(request)), now)
        elif isinstance(action, proto.Subscribe):
            await gw.subscribe(session, action.symbols, request)
        elif isinstance(action, proto.Unsubscribe):
            gw.unsubscribe(session, action.symbols, request)
        elif isinstance(action, proto.Snapshot):
            await gw.snapshot(session, action.symbols, request)
        else:
            gw.start_replay(self, request)

    async def writer(self) -> None:
        session = self.session
        buf = session.buffer
        clock = self.gateway.clock
        resolve = self.gateway.resolve_slot
        next_flush = 0.0
        try:
            while True:
                if session.state == "closing":
                    await self._flush_and_close()
                    return
                now = clock.monotonic()
                slots_due = session.mode == "latest" or (session.mode == "conflated" and now >= next_flush)
                if not buf.queue and not (slots_due and buf.slots):
                    self.wake.clear()
                    timeout = None
                    if session.mode == "conflated" and buf.slots:
                        timeout = max(0.0, next_flush - now)
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout)
                    except TimeoutError:
                        pass
                    continue
                batch = buf.pop_batch(BATCH, slots=slots_due, resolve=resolve)
                if slots_due and session.mode == "conflated" and not buf.slots:
                    next_flush = now + session.interval
                self.write_pending()
                self.sending = True
                await send_batch(self.ws, [e.data for e in batch])
                self.sending = False
                self.progress.set()
                self._account(batch, now)
        except (ConnectionClosed, OSError):  # the client went away mid-write
            session.state = "closed"

    async def room(self) -> None:
        """Wait until the writer has sent something."""
        self.progress.clear()
        self.wake.set()
        await self.progress.wait()

    async def _close_stalled(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.ws.close(self.session.close_code, self.session.close_reason)
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        self.ws.transport.abort()

    def _account(self, batch: list[Any], now: float) -> None:
        for kind, n in Counter(e.kind for e in batch).items():
            self.session.count_sent(kind, n)
        metrics.GATEWAY_CLIENT_LAG.observe(max(0.0, now - batch[0].queued_at))
        metrics.GATEWAY_BUFFER_UTILISATION.observe(min(1.0, self.session.buffer.utilisation))

    async def _flush_and_close(self) -> None:
        """Send what is queued (within the close timeout), then the close frame."""
        session = self.session
        buf = session.buffer
        if session.flush_on_close:
            self.write_pending()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while buf.queue and session.flush_on_close:
                    batch = buf.pop_batch(BATCH, slots=False)
                    await send_batch(self.ws, [e.data for e in batch])
                await self.ws.close(session.close_code, session.close_reason)
        except (TimeoutError, ConnectionClosed, OSError):
            self.ws.transport.abort()
        finally:
            buf.clear()
            session.state = "closed"


def _redacted(request: proto.Request) -> proto.Request:
    """The auth request as echoed back: never the key."""
    raw = dict(request.raw)
    if "key" in raw:
        raw["key"] = "****"
    return proto.Request(request.action, raw, request.id)
