"""Chaos: the exchange misbehaves. Every close code, a TCP reset, a half-open link, a silent
freeze, subscription and stray error frames, a refused key, an outage, REST 429 storms.

Each scenario runs the connector against the simulator over loopback (memory transport)
while markets trade, breaks the exchange once, and measures:

* reconnect (or resubscribe) time: from the fault until every subscription is answered again;
* trades missed live: trades on the exchange's tape (the truth, sent or not) that the
  connector did not receive, and whether every one of them lies inside a recorded trade gap
  (widened by the healer's margin, 2 s), i.e. whether the healer can fill them from REST;
* for the freeze: the detection time against the channel's limit,
  ``min(cap, max(floor, factor x usual silence))``, plus one sample.

Quick mode (the tests) uses a 1 s freeze floor; full mode uses the production defaults
(``ConnectorConfig``: floor 20 s, factor 20, cap 600 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from chaos_common import ChaosResult, Scenario

from ssmd.codec import decode as capnp_decode
from ssmd.config.model import CacheConfig, Endpoints, Environment, JournalConfig, StorageConfig, SubscriptionConfig
from ssmd.connector import Connector, ConnectorSettings
from ssmd.connector.endpoints import Credentials
from ssmd.connector.staleness import FreezePolicy
from ssmd.errors import AuthError, TransportError
from ssmd.kalshi.auth import generate_key, public_pem
from ssmd.kalshi.rest import KalshiRest
from ssmd.middleware.factory import Backends, open_backends
from ssmd.middleware.transport.base import StartPosition
from ssmd.simulator import SimSettings, Simulator
from ssmd.status import GapInfo

HEAL_MARGIN_NS = 2_000_000_000
"""The healer widens every gap by this much (``healer.margin_seconds`` default)."""
QUICK_FREEZE = FreezePolicy(floor=1.0, factor=10.0, cap=5.0, min_observations=5, interval=0.05)


def _settings(freeze: FreezePolicy) -> ConnectorSettings:
    return ConnectorSettings(stale_after=2.0, backoff_initial=0.05, backoff_max=0.5, open_timeout=5,
                             stop_timeout=5, freeze=freeze)


def _env(rest: str) -> Environment:
    return Environment(
        name="c", feed="kalshi", schema="trade:v1", storage=StorageConfig(type="memory"),
        cache=CacheConfig(type="memory"), journal=JournalConfig(type="memory"), endpoints=Endpoints(rest=rest),
        subscriptions=SubscriptionConfig(channels=["ticker", "trade", "market_lifecycle_v2"], markets="all"),
    )


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def _record(data: Any) -> Any:
    """A trade as the bus holds it: the record itself (memory bus) or Cap'n Proto bytes."""
    return capnp_decode("trade", bytes(data)) if isinstance(data, bytes | bytearray | memoryview) else data


@dataclass
class Rig:
    sim: Simulator
    backends: Backends
    connector: Connector
    trades: list[Any] = field(default_factory=list)
    """Every trade record published, collected from the start (the bus lets go of what no
    consumer holds)."""
    gap_log: list[GapInfo] = field(default_factory=list)
    abandoned: dict[str, int] = field(default_factory=dict)
    """Simulator connection -> frames it had written when the connector gave it up."""

    @property
    def conn(self) -> Any:
        return self.connector.connections[0]

    def trades_seen(self) -> int:
        return self.connector.stats.received.get("trade", 0)

    async def more_trades(self, n: int, timeout: float = 30.0) -> None:
        before = self.trades_seen()
        await until(lambda: self.trades_seen() >= before + n, timeout, f"{n} more trades")

    async def recovered(self, reconnects: int, timeout: float = 60.0) -> None:
        await until(lambda: self.conn.reconnects >= reconnects and self.conn.live.is_set()
                    and not self.connector.gaps.open, timeout, "the reconnect")

    def gave_up(self, conns: list[str]) -> None:
        """The connector has just given up these simulator connections (found them stale or
        frozen). What the exchange writes into them from now on can never arrive: a link that
        heals before the exchange has read the client's close still sends, as TCP lets it.
        Those frames are left out of the ones the connector must process."""
        for cid in conns:
            self.abandoned.setdefault(cid, self.sim.frames_sent(conn=cid))

    def receivable(self) -> int:
        """Frames written that could reach the connector."""
        sim = self.sim
        return sim.frames_sent() - sum(sim.frames_sent(conn=cid) - n for cid, n in self.abandoned.items())

    async def collect(self) -> None:
        """Keep every trade record and gap published (runs for the rig's life)."""
        transport = self.backends.transport
        trades = await transport.subscribe("c.kalshi.trade.>", start=StartPosition.beginning())
        gaps = await transport.subscribe("c.kalshi.gaps", start=StartPosition.beginning())
        async def drain(sub: Any, keep: Callable[[Any], None], n: int) -> None:
            with contextlib.suppress(TimeoutError):
                for m in await sub.next_batch(n, timeout=0.005):
                    keep(m.data)

        try:
            while True:
                await drain(trades, lambda data: self.trades.append(_record(data)), 4096)
                await drain(gaps, lambda data: self.gap_log.append(msgspec.json.decode(data, type=GapInfo)), 256)
        finally:
            await trades.close()
            await gaps.close()

    async def _drained(self) -> None:
        """Wait until the collector has read everything published so far."""
        for _ in range(3):
            before = len(self.trades), len(self.gap_log)
            await asyncio.sleep(0.05)
            if (len(self.trades), len(self.gap_log)) == before:
                return

    async def gaps(self) -> list[GapInfo]:
        await self._drained()
        latest: dict[tuple[Any, ...], GapInfo] = {}
        for gap in self.gap_log:
            latest[(gap.kind, gap.channel, gap.start_ns, gap.sid)] = gap
        return list(latest.values())

    async def missed(self) -> tuple[int, int, int]:
        """(trades on the tape while the connector listened, missed live, missed outside every
        recorded trade gap widened by the healer's margin). Trading stops first, so the tape
        and the bus hold still while they are compared."""
        self.sim.set_exchange_status(trading_active=False)
        processed = self.connector.stats.received
        await until(lambda: all(not c.buf for c in self.sim.conns.values())
                    and sum(processed.values()) >= self.receivable(), 30, "every frame that could arrive processed")
        await self._drained()
        got = list(self.trades)
        ids = {t.trade_id for t in got}
        first, last = min(t.ts for t in got), max(t.ts for t in got)
        tape = [t for t in self.sim.trades() if first <= t.created_ns <= last]
        gaps = [g for g in await self.gaps() if g.channel == "trade"]
        missed = [t for t in tape if t.trade_id not in ids]

        def covered(ns: int) -> bool:
            return any(g.start_ns - HEAL_MARGIN_NS <= ns <= (g.end_ns or ns) + HEAL_MARGIN_NS for g in gaps)

        return len(tape), len(missed), sum(1 for t in missed if not covered(t.created_ns))


@contextlib.asynccontextmanager
async def rig(freeze: FreezePolicy = QUICK_FREEZE, *, rate: float = 1000.0, **sim: Any) -> AsyncIterator[Rig]:
    settings = SimSettings(markets=8, rate=rate, lifecycle_interval=0, ping_interval=0.2, **sim)
    async with Simulator(settings) as simulator:
        env = _env(simulator.rest_url)
        backends = await open_backends(env)
        connector = Connector(env, backends, ws_url=simulator.ws_url, settings=_settings(freeze))
        r = Rig(simulator, backends, connector)
        collector = asyncio.create_task(r.collect())
        task = asyncio.create_task(connector.run())
        try:
            await until(lambda: bool(connector.connections) and connector.connections[0].live.is_set(), 30, "live")
            await r.more_trades(40)
            yield r
        finally:
            collector.cancel()
            await connector.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
            await backends.close()


def _lost_figure(tape: int, missed: int, outside: int) -> str:
    return f"{missed} of {tape} trades missed live, {missed - outside} inside the recorded gap"


# --- connection drops ------------------------------------------------------------------------

async def _drop(name: str, fault: Callable[[Simulator], Awaitable[Any]], cause: str) -> ChaosResult:
    async with rig() as r:
        start = time.monotonic()
        await fault(r.sim)
        await r.recovered(1)
        took = time.monotonic() - start
        await r.more_trades(40)
        tape, missed, outside = await r.missed()
        gaps = [g for g in await r.gaps() if g.kind == "outage" and g.channel == "trade"]
        ok_gap = bool(gaps) and all(cause in g.cause and g.end_ns is not None for g in gaps)
    held = ok_gap and outside == 0 and r.conn.reconnects >= 1
    return ChaosResult(name, f"reconnected in {took * 1000:.0f} ms; {_lost_figure(tape, missed, outside)}",
                       "reconnected, outage gap recorded, 0 trades missed outside it", held,
                       f"gap cause: {gaps[0].cause if gaps else 'none'}")


def _close(code: int, reason: str) -> Callable[[Simulator], Awaitable[Any]]:
    async def fault(sim: Simulator) -> None:
        await sim.drop_connections(code, reason)

    return fault


async def _reset(sim: Simulator) -> None:
    await sim.drop_connections(abrupt=True)


async def _outage(sim: Simulator) -> None:
    await sim.outage(1.5)


async def _stall(r: Rig) -> ChaosResult:
    stalled = list(r.sim.conns)
    r.sim.stall(True)
    start = time.monotonic()
    await until(lambda: r.connector.gaps.is_open(("outage", 0)), 30, "the stale link")
    detected = time.monotonic() - start
    r.gave_up(stalled)
    r.sim.stall(False)
    await r.recovered(1)
    await r.more_trades(40)
    tape, missed, outside = await r.missed()
    stale_after = r.connector.settings.stale_after
    held = outside == 0 and detected <= stale_after + 1.0
    return ChaosResult("half-open link (no data, no pings)",
                       f"detected in {detected:.2f} s; {_lost_figure(tape, missed, outside)}",
                       f"detected <= stale_after ({stale_after:g} s) + 1 s sample; 0 missed outside the gap",
                       held)


async def _stalled() -> ChaosResult:
    async with rig() as r:
        return await _stall(r)


# --- silent freeze ---------------------------------------------------------------------------

async def _freeze(policy: FreezePolicy, seconds: float) -> ChaosResult:
    async with rig(policy) as r:
        conn = r.conn
        await until(lambda: all(conn.watch.channels.get(ch) is not None
                                and conn.watch.channels[ch].observations >= policy.min_observations
                                for ch in ("trade", "ticker")), 60, "the channels' rhythm learnt")
        limits = conn.watch.limits()
        frozen = list(r.sim.conns)
        r.sim.freeze(seconds)
        await until(lambda: bool(conn.freezes), seconds + policy.cap + 30, "the freeze detected")
        freeze = conn.last_freeze
        assert freeze is not None
        r.gave_up(frozen)
        r.sim.end_freeze()
        await r.recovered(1)
        await r.more_trades(40)
        tape, missed, outside = await r.missed()
        gaps = [g for g in await r.gaps() if g.kind == "outage" and g.channel == "trade"]
    bound = freeze.limit + 2 * policy.interval
    per_channel = ", ".join(f"{ch} limit {limit:.2f} s" for ch, limit in sorted(limits.items()))
    held = (freeze.silence <= bound + 0.5 and outside == 0 and bool(gaps)
            and all(g.cause.startswith("frozen") for g in gaps))
    return ChaosResult(
        "silent freeze (pings answered, no data)",
        f"{freeze.channel} frozen after {freeze.silence:.2f} s of silence (limit {freeze.limit:.2f} s); "
        f"{_lost_figure(tape, missed, outside)}",
        "detected <= min(cap, max(floor, factor x usual silence)) + 2 samples (+0.5 s load slack); "
        "reconnected; 0 missed outside the gap",
        held,
        f"{per_channel}; policy floor {policy.floor:g} s, factor {policy.factor:g}, cap {policy.cap:g} s; "
        f"freezes {dict(conn.freezes)}",
    )


# --- error frames ----------------------------------------------------------------------------

async def _terminal(code: int) -> ChaosResult:
    async with rig() as r:
        start = time.monotonic()
        r.sim.send_error("trade", code)
        await until(lambda: r.connector.gaps.total >= 1 and not r.connector.gaps.open, 30, "the resubscribe")
        took = time.monotonic() - start
        await r.more_trades(40)
        tape, missed, outside = await r.missed()
        gaps = [g for g in await r.gaps() if g.kind == "error" and g.channel == "trade"]
        reconnects = r.conn.reconnects
    held = bool(gaps) and gaps[0].end_ns is not None and outside == 0 and reconnects == 0
    return ChaosResult(f"error {code} on the trade subscription (terminal)",
                       f"resubscribed in {took * 1000:.0f} ms, no reconnect; {_lost_figure(tape, missed, outside)}",
                       "resubscribed, error gap recorded, 0 trades missed outside it", held)


async def _stray_errors() -> ChaosResult:
    async with rig() as r:
        codes = (1, 5, 11, 18, 27)
        for code in codes:
            r.sim.send_raw(f'{{"type":"error","msg":{{"code":{code},"msg":"stray {code}"}}}}')
        await until(lambda: all(r.connector.stats.errors.get(f"exchange_error_{c}", 0) >= 1 for c in codes),
                    30, "the errors counted")
        await r.more_trades(40)
        tape, missed, _ = await r.missed()
        reconnects, gaps = r.conn.reconnects, r.connector.gaps.total
    held = reconnects == 0 and gaps == 0 and missed == 0
    return ChaosResult("stray error frames (codes 1, 5, 11, 18, 27; no id)",
                       f"each counted (errors.exchange_error_N); {reconnects} reconnects, {gaps} gaps, "
                       f"{missed} of {tape} trades missed",
                       "counted, capture goes on: 0 reconnects, 0 trades missed", held)


# --- auth and REST ---------------------------------------------------------------------------

async def _auth(status: int) -> ChaosResult:
    key_id = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    sim_settings = SimSettings(markets=3, rate=0, lifecycle_interval=0, auth="required", refuse_status=status,
                               public_keys={key_id: public_pem(generate_key())})
    async with Simulator(sim_settings) as sim:
        env = _env(sim.rest_url)
        backends = await open_backends(env)
        connector = Connector(env, backends, ws_url=sim.ws_url, settings=_settings(QUICK_FREEZE),
                              credentials=Credentials(key_id, generate_key()))
        start = time.monotonic()
        error = ""
        try:
            await asyncio.wait_for(connector.run(), 30)
        except AuthError as exc:
            error = str(exc)
        finally:
            await backends.close()
        took = time.monotonic() - start
        attempts = connector.connections[0].attempts if connector.connections else 0
    clear = f"HTTP {status}" in error and "\n" not in error and key_id not in error and "BEGIN" not in error
    held = bool(error) and clear and attempts == 1 and connector.status().state == "failed"
    return ChaosResult(f"auth refused (wrong key, HTTP {status})",
                       f"stopped after {attempts} attempt in {took * 1000:.0f} ms: {error[:90]}",
                       "one clear fatal error naming the status, no retry loop, no secret in it", held)


async def _rest_storm(storm: int) -> ChaosResult:
    async with Simulator(SimSettings(markets=20, rate=0, lifecycle_interval=0)) as sim:
        rest = KalshiRest(sim.rest_url, requests_per_second=50, attempts=8)
        try:
            start = time.monotonic()
            sim.rest_fail_next(storm, 429)
            markets = await rest.markets(limit=1000)
            secmaster_s = time.monotonic() - start
            sim.rest_fail_next(storm, 429)
            ticker = markets[0].ticker
            start = time.monotonic()
            trades = await rest.trades(ticker=ticker, limit=100)
            healer_s = time.monotonic() - start
            stats = rest.stats
            sim.rest_fail_next(100, 429)  # a storm longer than the retry budget: a clear error, not a hang
            failed = ""
            short = KalshiRest(sim.rest_url, requests_per_second=50, attempts=3)
            try:
                await short.markets(limit=1000)
            except TransportError as exc:
                failed = str(exc)
            finally:
                await short.close()
        finally:
            await rest.close()
    held = len(markets) > 0 and trades is not None and "429" in failed and stats.throttled >= 2 * storm
    return ChaosResult(f"REST 429 storm ({storm} in a row, no Retry-After)",
                       f"markets read after {secmaster_s:.2f} s, trades after {healer_s:.2f} s; "
                       f"{stats.throttled} 429s backed off ({stats.backoff_seconds:.1f} s)",
                       "secmaster and healer reads back off and complete; a longer storm fails with a clear "
                       "error (the healer retries the gap later)", held, f"too long: {failed[:80]}")


def _dropping(name: str, fault: Callable[[Simulator], Awaitable[Any]],
              cause: str) -> Callable[[], Awaitable[ChaosResult]]:
    return lambda: _drop(name, fault, cause)


def _run(coro: Callable[[], Awaitable[ChaosResult]]) -> Callable[[], list[ChaosResult]]:
    def run() -> list[ChaosResult]:
        return [asyncio.run(coro())]  # type: ignore[arg-type]

    return run


def scenarios(quick: bool) -> list[Scenario]:
    drops: list[tuple[str, Callable[[Simulator], Awaitable[Any]], str]] = [
        ("close 1000 (normal)", _close(1000, "bye"), "code 1000"),
        ("close 1001 (going away)", _close(1001, "going away"), "code 1001"),
        ("close 1008 (policy violation)", _close(1008, "policy"), "code 1008"),
        ("close 1011 (internal error)", _close(1011, "internal error"), "code 1011"),
        ("close 4000 (application code, undocumented by Kalshi)", _close(4000, "app"), "code 4000"),
        ("TCP reset (1006, no close frame)", _reset, "connection lost"),
        ("exchange outage 1.5 s (upgrades refused 503)", _outage, "code 1001"),
    ]
    out = [Scenario(f"exchange: {name}", _run(_dropping(name, fault, cause))) for name, fault, cause in drops]
    policy = QUICK_FREEZE if quick else FreezePolicy()
    out += [
        Scenario("exchange: half-open link", _run(_stalled)),
        Scenario("exchange: silent freeze", _run(lambda: _freeze(policy, 4.0 if quick else 40.0)), slow=not quick),
        Scenario("exchange: error 10", _run(lambda: _terminal(10))),
        Scenario("exchange: error 25", _run(lambda: _terminal(25))),
        Scenario("exchange: stray error frames", _run(_stray_errors)),
        Scenario("exchange: auth 401", _run(lambda: _auth(401))),
        Scenario("exchange: auth 403", _run(lambda: _auth(403))),
        Scenario("exchange: REST 429 storm", _run(lambda: _rest_storm(4 if quick else 7))),
    ]
    return out
