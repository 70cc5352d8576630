"""The gateway component: WebSocket + REST on one port, fed by the transport.

``run()`` resolves the client keys, listens on ``env.gateway.host:port`` (port 0 picks a
free one; ``url`` is the bound stream URL once ``ready()`` returns), consumes the four
normalized record subjects through ``subscribe_latest`` (an unacked live view: the
gateway never holds back a producer) and fans every record out to the subscribed
sessions. ``drain()`` stops accepting, sends what clients have queued and closes every
connection with a close frame and a reason; ``run()`` then returns.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from typing import TYPE_CHECKING, Any

from ssmd import codec, metrics
from ssmd.clock import Clock, SystemClock
from ssmd.config.keys import resolve_key
from ssmd.config.model import Environment
from ssmd.errors import ConfigError, NotFoundError, SsmdError, TransportError
from ssmd.gateway import endpoint
from ssmd.gateway import protocol as proto
from ssmd.gateway.actions import Actions
from ssmd.gateway.admission import connection_class
from ssmd.gateway.archive import Archive
from ssmd.gateway.connection import ClientConnection
from ssmd.gateway.replay import run_replay
from ssmd.gateway.rest import RestApi
from ssmd.gateway.router import Router
from ssmd.gateway.session import Session
from ssmd.gateway.state import LiveState
from ssmd.log import get_logger
from ssmd.records import RECORD_TYPES, Trade
from ssmd.status import ClientInfo, ComponentState, ComponentStatus
from ssmd.subjects import cache_key

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("gateway")
MAX_REQUEST_BYTES = 64 * 1024
"""Client frames above this get an error reply; the connection stays up."""
MAX_FRAME_BYTES = 1024 * 1024
"""Client frames above this are abusive: websockets closes the connection (1009)."""
LIVE_BUFFER = 100_000
CONSUME_BATCH = 1024
"""Live records taken from the transport at once."""
DRAIN_TIMEOUT = 5.0


def _ws_logger() -> logging.Logger:
    """websockets' logger for the server: never below INFO, since its DEBUG lines carry
    whole frames (an ``auth`` message holds a key)."""
    logger = logging.getLogger("ssmd.gateway.websockets")
    logger.setLevel(max(logger.level, logging.INFO))
    return logger


class Gateway:
    name = "gateway"

    def __init__(self, env: Environment, backends: Backends, *, clock: Clock = SystemClock()) -> None:
        self.env = env
        self.backends = backends
        self.clock = clock
        self.state = LiveState()
        self.router = Router(self.state.book_message)
        self.max_request_bytes = MAX_REQUEST_BYTES
        self.url: str | None = None
        self.connections: dict[str, ClientConnection] = {}
        self.markets_key = cache_key(env.name, "secmaster", "markets")
        self.rest = RestApi(self.state, backends.cache, self.markets_key, self.health, self._archive_trades)
        self._keys: list[bytes] = []
        self._auth = env.gateway.api_key is not None
        self._ids = itertools.count(1)
        self._ready = asyncio.Event()
        self._stopped = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._server: Any = None
        self._state: ComponentState = "starting"
        self._started_ns: int | None = None
        self._started_mono = 0.0
        self._errors = 0
        self._last_error: str | None = None
        self._counts = dict.fromkeys(RECORD_TYPES, 0)
        self._sent_counters: dict[str, Any] = {}
        self._left_sent = 0
        self._left_dropped = 0
        """Messages sent to and dropped for clients that have left: ``clients_sent`` and
        ``clients_dropped`` are totals since the start, never falling when a client leaves."""
        self._dirty: list[ClientConnection] = []
        self.archive = Archive(env, backends, clock)
        self.actions = Actions(self.state, self.router, backends.cache, self.markets_key, clock)

    # ---- lifecycle ---------------------------------------------------------------------
    async def ready(self) -> str:
        """Wait until the gateway listens; returns the stream URL."""
        await self._ready.wait()
        assert self.url is not None
        return self.url

    async def run(self) -> None:
        from websockets.asyncio.server import serve

        self._keys = self._resolve_keys()
        self._stopped.clear()
        cfg = self.env.gateway
        try:
            self._server = await serve(
                self._handle, cfg.host, cfg.port, process_request=self._process_request,
                max_size=MAX_FRAME_BYTES, compression=None, ping_interval=20, ping_timeout=20, close_timeout=2,
                logger=_ws_logger(), create_connection=connection_class(cfg.connect_rate, cfg.connect_burst))
        except OSError as exc:
            raise SsmdError(f"gateway: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}") from None
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://{cfg.host}:{port}/v1/stream"
        self._started_ns, self._started_mono = self.clock.now_ns(), self.clock.monotonic()
        transport = self.backends.transport
        subs: list[tuple[Any, str]] = []
        try:
            for t in RECORD_TYPES:
                subs.append((await transport.subscribe_latest(f"{self.env.name}.{self.env.feed}.{t}.*",
                                                              buffer=LIVE_BUFFER), t))
            self._state = "running"
            log.info("gateway listening", url=self.url, auth=self._auth)
            self._ready.set()
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._consume(sub, t)) for sub, t in subs]
                tasks.append(tg.create_task(self._monitor()))
                await self._stopped.wait()
                for task in tasks:
                    task.cancel()
        finally:
            for sub, _ in subs:
                await sub.close()
            self._server.close()
            await self._server.wait_closed()
            self.archive.close()
            self._state = "stopped"
            self._ready.clear()

    async def stop(self) -> None:
        await self.drain()

    async def drain(self, reason: str = "gateway shutting down") -> None:
        """Stop accepting clients; send every client what it has queued, then a close
        frame (1001) with ``reason``. ``run()`` returns afterwards."""
        if self._server is None or self._state in ("stopping", "stopped"):
            self._stopped.set()
            return
        self._state = "stopping"
        self._server.close(close_connections=False)
        for conn in list(self.connections.values()):
            conn.session.close(1001, reason)
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self._idle.wait()
        except TimeoutError:
            for conn in list(self.connections.values()):
                conn.ws.transport.abort()
        log.info("gateway drained", reason=reason)
        self._stopped.set()

    def _resolve_keys(self) -> list[bytes]:
        name = self.env.gateway.api_key
        if name is None:
            return []
        spec = self.env.keys.get(name)
        if spec is None or spec.type != "gateway_api_key":
            raise ConfigError(self.env.name, "gateway.api_key", f"{name!r} is not a gateway_api_key entry in keys")
        return [s.reveal().encode() for s in resolve_key(self.env, name).values()]

    def check_key(self, given: str | None) -> bool:
        """Whether ``given`` is one of the client keys (constant time per key)."""
        if not self._auth:
            return True
        if not given:
            return False
        ok = False
        candidate = given.encode()
        for key in self._keys:
            ok |= hmac.compare_digest(candidate, key)
        return ok

    # ---- transport → state → clients ----------------------------------------------------
    async def _consume(self, sub: Any, record_type: str) -> None:
        """Keep the live state of every record of ``sub`` (one record type), taken in
        batches; a record's client message is rendered only when some session wants its
        market. Messages of one batch share one queue time."""
        state, router, clock, counts = self.state, self.router, self.clock, self._counts
        subscribed = router.by_symbol
        decode = codec.decode
        fast = codec.fast_decoder(record_type)
        while True:
            try:
                batch = await sub.next_batch(CONSUME_BATCH)
            except TransportError:
                if sub.closed:
                    return
                raise
            now = clock.monotonic()
            for msg in batch:
                data = msg.data
                try:
                    if type(data) is not bytes:
                        record = data  # the record itself: it never left this process
                    else:
                        record = fast(data) if fast is not None else decode(record_type, data)
                except Exception:
                    try:  # bytes the generated decoder does not read: pycapnp's, or malformed
                        record = decode(record_type, msg.data)
                    except Exception as exc:  # one bad record never stops the feed
                        self._errors += 1
                        self._last_error = f"{msg.subject}: cannot decode ({type(exc).__name__})"
                        continue
                if type(record) is Trade and record.source == "rest":
                    continue  # a trade healed from REST is history for the archive, not news for clients
                counts[record_type] += 1
                if subscribed:
                    router.publish(state.apply(record), now)
                else:
                    state.keep(record)

    async def _monitor(self) -> None:
        while True:
            now = self.clock.monotonic()
            metrics.GATEWAY_SLOW_CONSUMERS.set(sum(1 for s in self.router.sessions.values() if s.slow(now)))
            for session in self.router.sessions.values():
                self.flush_sent(session)
            await asyncio.sleep(1.0)

    def flush_sent(self, session: Session) -> None:
        """Add a session's sent counts to ``ssmd_gateway_messages_sent_total``."""
        for kind, n in session.take_sent().items():
            counter = self._sent_counters.get(kind)
            if counter is None:
                counter = self._sent_counters[kind] = metrics.GATEWAY_MESSAGES_SENT.labels(type=kind)
            counter.inc(n)

    def client_left(self, session: Session) -> None:
        """Keep a departing session's counts in the totals."""
        self.flush_sent(session)
        self._left_sent += session.sent
        self._left_dropped += session.buffer.dropped

    def write_soon(self, conn: ClientConnection) -> None:
        """Have ``conn``'s pending frames written at the end of this event loop turn."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._write_dirty)
        self._dirty.append(conn)

    def _write_dirty(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.write_pending()

    def resolve_slot(self, kind: str, ticker: str) -> bytes | None:
        return self.state.book_message(ticker) if kind == "orderbook" else None

    # ---- client actions -----------------------------------------------------------------
    async def subscribe(self, session: Session, symbols: list[str], request: proto.Request | None) -> None:
        await self.actions.subscribe(session, symbols, request)

    def unsubscribe(self, session: Session, symbols: list[str], request: proto.Request) -> None:
        self.actions.unsubscribe(session, symbols, request)

    async def snapshot(self, session: Session, symbols: list[str], request: proto.Request) -> None:
        await self.actions.snapshot(session, symbols, request)

    def start_replay(self, conn: ClientConnection, request: proto.Request) -> None:
        conn.spawn(run_replay(conn.session, request, self._open_records, self.clock, conn.room))

    # ---- archive ------------------------------------------------------------------------
    async def _open_records(self, action: proto.Replay, start: int | None, end: int | None) -> Any:
        return await self.archive.records(action, start, end)

    async def _archive_trades(self, ticker: str, limit: int) -> list[dict[str, Any]]:
        return await self.archive.trades(ticker, limit)

    # ---- connections and REST -------------------------------------------------------------
    async def _process_request(self, connection: Any, request: Any) -> Any:
        return await endpoint.process_request(self, connection, request)

    async def _handle(self, ws: Any) -> None:
        await endpoint.handle_client(self, ws)

    # ---- status -------------------------------------------------------------------------
    def clients(self) -> list[ClientInfo]:
        now = self.clock.monotonic()
        infos = [s.info(now) for s in self.router.sessions.values()]
        metrics.GATEWAY_SLOW_CONSUMERS.set(sum(1 for i in infos if i.slow))
        return infos

    def disconnect(self, client_id: str, reason: str = "disconnected by the operator") -> None:
        conn = self.connections.get(client_id)
        if conn is None:
            raise NotFoundError(f"no gateway client {client_id!r}")
        conn.session.close(1008, reason)

    def health(self) -> tuple[bool, ComponentStatus]:
        status = self.status()
        return status.state == "running", status

    def status(self) -> ComponentStatus:
        now = self.clock.monotonic()
        sessions = list(self.router.sessions.values())
        for session in sessions:
            self.flush_sent(session)
        sent = self._left_sent + sum(s.sent for s in sessions)
        dropped = self._left_dropped + sum(s.buffer.dropped for s in sessions)
        return ComponentStatus(
            name=self.name, state=self._state, started_at=self._started_ns,
            uptime_seconds=round(now - self._started_mono, 3) if self._started_ns else 0.0,
            counters={**self._counts, "clients_sent": sent, "clients_dropped": dropped},
            errors=self._errors, last_error=self._last_error,
            details={"url": self.url, "clients": len(sessions), "slow_clients": sum(s.slow(now) for s in sessions),
                     "markets": len(self.state.markets), "auth": self._auth},
        )
