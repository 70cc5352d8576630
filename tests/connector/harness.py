"""A connector wired to a simulator over real sockets and the memory transport."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from ssmd import codec
from ssmd.config.model import (
    CacheConfig,
    Endpoints,
    Environment,
    JournalConfig,
    StorageConfig,
    SubscriptionConfig,
)
from ssmd.connector import Connector, ConnectorSettings
from ssmd.middleware.factory import Backends, open_backends
from ssmd.middleware.transport.base import Message, StartPosition
from ssmd.rawline import RawLine
from ssmd.simulator import SimSettings, Simulator
from ssmd.status import GapInfo
from tests.waiting import until

FAST = ConnectorSettings(stale_after=0.6, backoff_initial=0.02, backoff_max=0.1, open_timeout=5, stop_timeout=5)


def make_env(channels: list[str] | None = None, markets: Any = "all", **subs: Any) -> Environment:
    return Environment(
        name="t", feed="kalshi", schema="trade:v1",
        storage=StorageConfig(type="memory"), cache=CacheConfig(type="memory"), journal=JournalConfig(type="memory"),
        subscriptions=SubscriptionConfig(
            channels=channels or ["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"], markets=markets,
            **subs),
    )


class Harness:
    def __init__(self, sim: Simulator, backends: Backends, connector: Connector) -> None:
        self.sim = sim
        self.backends = backends
        self.connector = connector

    @property
    def processed(self) -> int:
        return sum(self.connector.stats.received.values())

    def _caught_up(self) -> bool:
        return all(not c.buf for c in self.sim.conns.values()) and self.processed == self.sim.frames_sent()

    async def settle(self, what: str = "every frame sent to be processed") -> None:
        """Wait until the simulator has nothing queued and the connector processed every
        frame written (three checks in a row, so a frame being written is not missed)."""
        for _ in range(3):
            await until(self._caught_up, what=what)
            await asyncio.sleep(0.005)
        await until(self._caught_up, what=what)

    async def live(self, index: int = 0) -> None:
        await until(lambda: len(self.connector.connections) > index, what="connection")
        await asyncio.wait_for(self.connector.connections[index].live.wait(), 10)

    async def messages(self, subject: str) -> list[Message]:
        """Everything stored so far on ``subject`` (a filter)."""
        transport = self.backends.transport
        sub = await transport.subscribe(subject, start=StartPosition.beginning())
        out: list[Message] = []
        try:
            while True:
                out.append(as_wire(await sub.next(timeout=0.05)))
        except TimeoutError:
            pass
        finally:
            await sub.close()
        return out

    async def gaps(self) -> list[GapInfo]:
        """Latest version of each published gap (keyed like the archiver does)."""
        latest: dict[tuple[Any, ...], GapInfo] = {}
        for m in await self.messages("t.kalshi.gaps"):
            gap = msgspec.json.decode(m.data, type=GapInfo)
            latest[(gap.kind, gap.channel, gap.start_ns, gap.sid)] = gap
        return list(latest.values())

    def sent_frames(self) -> list[bytes]:
        frames: list[bytes] = []
        for conn in sorted(self.sim.counters(), key=lambda c: int(c[1:])):
            frames.extend(self.sim.sent_log(conn))
        return frames


@contextlib.asynccontextmanager
async def running(
    env: Environment | None = None, *, sim_settings: SimSettings | None = None, settings: ConnectorSettings = FAST,
    markets: int | None = None, **kwargs: Any,
) -> AsyncIterator[Harness]:
    """Simulator + backends + a running connector; everything stopped on exit."""
    env = env or make_env()
    sim_settings = sim_settings or SimSettings(markets=6, rate=0, lifecycle_interval=0, ping_interval=0.1)
    async with Simulator(sim_settings, record_frames=True) as sim:
        if env.endpoints.rest is None:  # REST reads (order-book fallback) go to this simulator
            env = msgspec.structs.replace(env, endpoints=Endpoints(ws=env.endpoints.ws, rest=sim.rest_url))
        backends = await open_backends(env)
        tickers = sim.trading_tickers()[:markets] if markets else ()
        connector = Connector(env, backends, ws_url=kwargs.pop("ws_url", sim.ws_url), settings=settings,
                              markets=tickers, **kwargs)
        task = asyncio.create_task(connector.run())
        try:
            yield Harness(sim, backends, connector)
        finally:
            await connector.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
            await backends.close()


class WireView:
    """A delivery as it would cross a process boundary: a raw line's frame bytes, and its
    facts as headers (``codec.wire``), so tests read every transport the same way."""

    def __init__(self, msg: Any) -> None:
        self.subject, self.seq, self.ts, self.redelivered = msg.subject, msg.seq, msg.ts, msg.redelivered
        self.data, headers = codec.wire(msg.data, msg.headers)
        self.headers = headers or {}


def as_wire(msg: Any) -> Any:
    return WireView(msg) if type(msg.data) is RawLine else msg
