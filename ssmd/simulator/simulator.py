"""The simulator service: one port on 127.0.0.1 serving Kalshi's WebSocket and REST APIs.

    async with Simulator(SimSettings(markets=50, rate=1000)) as sim:
        connect(sim.ws_url) ... GET sim.rest_url + "/markets"

Also a Component (``name = "simulator"``). Fault switches and lifecycle drivers are in
``ssmd.simulator.control`` (mixed in here), with the counters (``counters()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Coroutine
from dataclasses import dataclass
from itertools import count
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import Server, ServerConnection, serve

from ssmd.bucket import TokenBucket
from ssmd.errors import ConfigError
from ssmd.kalshi.auth import load_public_key
from ssmd.log import get_logger
from ssmd.simulator import frames
from ssmd.simulator.connection import LOW_WATER, Conn
from ssmd.simulator.control import ControlMixin
from ssmd.simulator.engine import Event, MarketEngine
from ssmd.simulator.history import HistorySpec
from ssmd.simulator.http import HttpSide
from ssmd.simulator.protocol import Out
from ssmd.simulator.rest_data import ExchangeState, Venue
from ssmd.simulator.settings import SimSettings
from ssmd.status import ComponentStatus

TICK = 0.01
IDLE_RATE = 1000
"""Data messages per second of an ``inf``-rate simulator while no client reads."""
_WS_LOG = logging.getLogger("ssmd.simulator.ws")
_WS_LOG.setLevel(logging.WARNING)


@dataclass
class Faults:
    rest_fail: int = 0
    rest_fail_status: int = 429
    refuse_auth: bool = False
    stalled: bool = False
    extra_fields: bool = False
    created_404_seconds: float = 0.0
    outage_until: float = 0.0
    """Loop time until which upgrades are refused (503); markets keep trading."""
    frozen_until: float = 0.0
    """Loop time until which no data is sent (pings and command answers go on)."""


class Simulator(ControlMixin):
    name = "simulator"

    def __init__(self, settings: SimSettings | None = None, *, record_frames: bool = False) -> None:
        self.settings = settings or SimSettings()
        self.record_frames = record_frames
        self.log = get_logger("simulator")
        clock = self.settings.clock
        epoch = self.settings.epoch_ns if self.settings.epoch_ns is not None else clock.now_ns()
        s = self.settings
        history = HistorySpec(hours=s.history_hours, live_window_hours=s.live_window_hours,
                              past_events=s.history_markets, trades=s.history_trades)
        self.engine = MarketEngine(s.seed, s.markets, epoch, s.mve_markets, s.legacy_ticker,
                                   history=history, trade_history=s.trade_history)
        self.exchange = ExchangeState()
        self.public_keys: dict[str, rsa.RSAPublicKey] = {
            k: load_public_key(v) for k, v in self.settings.public_keys.items()}
        self.faults = Faults()
        self.bucket = TokenBucket(self.settings.rest_tokens_per_second, self.settings.rest_bucket)
        self.http = HttpSide(self)
        self.conns: dict[str, Conn] = {}
        self.closed_counts: dict[str, dict[str, int]] = {}
        self.closed_logs: dict[str, list[bytes]] = {}
        self.hidden_until: dict[str, float] = {}
        self.subscribed = asyncio.Event()
        self.replay_done = asyncio.Event()
        self.commands = self.rest_requests = self.rest_throttled = self.refused = self.connections = 0
        self._ids = count(1)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = asyncio.Event()
        self.ready = asyncio.Event()
        """Set once the port is bound (``ws_url`` and ``rest_url`` are valid)."""
        self._started_ns: int | None = None
        self._cmd_budget: dict[str, tuple[float, float]] = {}
        self.port = 0
        self.last_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}/trade-api/ws/v2"

    @property
    def rest_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/trade-api/v2"

    async def start(self) -> None:
        if self._server is not None:
            return
        replay = None
        if self.settings.replay:
            from ssmd.simulator.replay import read_lines, replay_loop

            replay = list(read_lines(self.settings.replay))  # a bad file fails here, with its name
        host, port = self.settings.host, self.settings.port
        try:
            self._server = await serve(
                self._handle, host, port,
                process_request=self.http.process_request, ping_interval=None,
                max_queue=None, write_limit=2**20, compression=None,
                logger=_WS_LOG, server_header="ssmd-simulator",
            )
        except OSError as exc:
            raise ConfigError("simulator", "port", f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._started_ns = self.settings.clock.now_ns()
        self._stopped.clear()
        if replay is not None:
            self._tasks.append(asyncio.create_task(self._guard("replay", replay_loop(self, replay))))
        else:
            self._tasks.append(asyncio.create_task(self._guard("generator", self._generate_loop())))
            if self.settings.lifecycle_interval > 0:
                self._tasks.append(asyncio.create_task(self._guard("lifecycle", self._lifecycle_loop())))
        self.ready.set()
        self.log.info("simulator listening", ws=self.ws_url, rest=self.rest_url,
                      markets=len(self.engine.universe.markets))

    async def _guard(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        """Run a background loop; a failure is logged (and shown in status), never silent."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = f"{what}: {type(exc).__name__}: {exc}"
            self.log.error(f"simulator {what} failed", exc=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.ready.clear()
        self._stopped.set()

    async def run(self) -> None:
        await self.start()
        await self._stopped.wait()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def status(self) -> ComponentStatus:
        running = self._server is not None
        started = self._started_ns
        return ComponentStatus(
            name=self.name, state="running" if running else "stopped", started_at=started,
            uptime_seconds=(self.settings.clock.now_ns() - started) / 1e9 if running and started else 0.0,
            errors=int(self.last_error is not None), last_error=self.last_error,
            counters={**self.frames_by_channel(), "commands": self.commands, "rest_requests": self.rest_requests,
                      "rest_throttled": self.rest_throttled, "refused": self.refused},
            details={"ws_url": self.ws_url, "rest_url": self.rest_url, "connections": len(self.conns),
                     "markets": len(self.engine.universe.markets)},
        )

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    # -- connections ---------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        cid = f"c{next(self._ids)}"
        conn = Conn(self, ws, cid, self.http.authenticated.pop(ws, True))
        self.conns[cid] = conn
        self.connections += 1
        if self.faults.stalled:
            conn.stall(True)
        self.log.info("client connected", conn=cid, authenticated=conn.session.authenticated)
        try:
            await conn.serve()
        finally:
            del self.conns[cid]
            self.closed_counts[cid] = dict(conn.sent)
            if conn.log is not None:
                self.closed_logs[cid] = conn.log
            self.log.info("client disconnected", conn=cid, code=ws.close_code)

    def allow_command(self, conn: Conn) -> bool:
        limit = self.settings.commands_per_second
        if limit is None:
            return True
        now = self.loop_time()
        tokens, at = self._cmd_budget.get(conn.id, (limit, now))
        tokens = min(limit, tokens + (now - at) * limit)
        ok = tokens >= 1
        self._cmd_budget[conn.id] = (tokens - 1 if ok else tokens, now)
        return ok

    # -- World (what a Session asks about markets) -----------------------------------------
    def snapshot_body(self, ticker: str, yes_price: bool) -> bytes | None:
        book = self.engine.books.get(ticker)
        return None if book is None else frames.snapshot_msg(book, yes_price)

    def ticker_body(self, ticker: str) -> bytes | None:
        book = self.engine.books.get(ticker)
        if book is None:
            return None
        return self.engine.ticker_body(book, self.settings.clock.now_ns() // 1_000_000)

    def trading_tickers(self) -> list[str]:
        return [b.market.ticker for b in self.engine.trading()]

    def hidden(self, ticker: str) -> bool:
        """Live REST answers 404: just created (fault window) or settled before the cutoff."""
        until = self.hidden_until.get(ticker)
        if until is not None and self.loop_time() < until:
            return True
        m = self.engine.universe.markets.get(ticker)
        return m is not None and m.settled_ns is not None and m.settled_ns < self.engine.cutoff_ns

    def venue(self) -> Venue:
        """What the market-data REST endpoints read, now."""
        e = self.engine
        return Venue(e.universe, e.books, e.tape, e.cutoff_ns, self.settings.clock.now_ns(), self.hidden,
                     self.exchange)

    # -- data ---------------------------------------------------------------------------
    def dispatch(self, events: list[Event]) -> None:
        if self.faults.frozen_until and self.loop_time() < self.faults.frozen_until:
            return  # a silent freeze: the exchange trades (the tape keeps it), nobody is told
        for conn in list(self.conns.values()):
            if conn.stalled or not conn.session.subs:
                continue
            session = conn.session
            out: list[Out] = []
            for event in events:
                session.deliver(event, out)
            conn.push(out)

    def pump_now(self, n: int) -> int:
        """Generate and send ``n`` data messages now; returns how many were made."""
        self.engine.advance(self.settings.clock.now_ns())
        events = self.engine.generate(n, self.settings.clock.now_ns())
        self.dispatch(events)
        return len(events)

    async def pump(self, n: int) -> int:
        return self.pump_now(n)

    def _listening(self) -> bool:
        return any(c.session.subs and not c.stalled for c in self.conns.values())

    async def _generate_loop(self) -> None:
        """Trade at ``rate`` whether or not anyone listens (the exchange does not wait for
        clients); ``inf`` runs as fast as the slowest client reads, and at
        ``IDLE_RATE`` while nobody does. Paused while trading is not active."""
        rate = self.settings.rate
        loop = asyncio.get_running_loop()
        budget, last = 0.0, loop.time()
        while True:
            if not self.exchange.trading_active:
                await asyncio.sleep(TICK)
                last = loop.time()
                continue
            if math.isinf(rate):
                if not self._listening():
                    await asyncio.sleep(TICK)
                    self.pump_now(int(IDLE_RATE * TICK))
                    continue
                for conn in list(self.conns.values()):
                    if len(conn.buf) > LOW_WATER:
                        await conn.drained.wait()
                self.pump_now(256)
                await asyncio.sleep(0)
                continue
            await asyncio.sleep(TICK)
            now = loop.time()
            budget = min(budget + (now - last) * rate, max(rate, 1.0))
            last = now
            self.engine.advance(self.settings.clock.now_ns())
            if budget >= 1 and rate > 0:
                n = int(budget)
                budget -= n
                self.pump_now(n)

    async def _lifecycle_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lifecycle_interval)
            self.lifecycle_step()
