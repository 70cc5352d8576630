"""The connector on NATS JetStream: a batch of frames is published pipelined, in order,
with dead letters beside the raw frames, and nothing is lost or stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from ssmd.config.model import (
    CacheConfig,
    Environment,
    JetStreamConfig,
    JournalConfig,
    StorageConfig,
    SubscriptionConfig,
    TransportConfig,
)
from ssmd.connector import Connector
from ssmd.connector.settings import ConnectorSettings
from ssmd.middleware.factory import Backends, open_backends
from ssmd.middleware.transport.base import Message, StartPosition
from ssmd.simulator import SimSettings, Simulator
from tests.connector.harness import FAST, Harness, until


async def _stored(transport: Any, subject: str, count: int) -> list[Message]:
    sub = await transport.subscribe(subject, start=StartPosition.beginning())
    out: list[Message] = []
    try:
        while len(out) < count:
            out.append(await sub.next(timeout=10))
        try:
            out.append(await sub.next(timeout=0.3))  # and nothing more
        except TimeoutError:
            pass
    finally:
        await sub.close()
    return out


@contextlib.asynccontextmanager
async def _live(nats_server: Any, channels: list[str],
                settings: ConnectorSettings = FAST) -> AsyncIterator[tuple[str, Simulator, Backends, Connector]]:
    """A connector on JetStream, live against a quiet simulator: (env name, sim, backends, connector)."""
    name = f"n{uuid.uuid4().hex[:8]}"
    env = Environment(
        name=name, feed="kalshi", schema="trade:v1",
        transport=TransportConfig(type="nats", url=nats_server.url, jetstream=JetStreamConfig(stream=f"ssmd-{name}")),
        storage=StorageConfig(type="memory"), cache=CacheConfig(type="memory"), journal=JournalConfig(type="memory"),
        subscriptions=SubscriptionConfig(channels=channels),
    )
    async with Simulator(SimSettings(markets=4, rate=0, lifecycle_interval=0, ping_interval=0.1),
                         record_frames=True) as sim:
        backends = await open_backends(env)
        await backends.transport.ensure_stream()
        connector = Connector(env, backends, ws_url=sim.ws_url, settings=settings, markets=sim.trading_tickers())
        task = asyncio.create_task(connector.run())
        try:
            await until(lambda: bool(connector.connections), what="a connection")
            await asyncio.wait_for(connector.connections[0].live.wait(), 10)
            yield name, sim, backends, connector
        finally:
            await connector.stop()
            await asyncio.wait_for(task, 10)
            await backends.close()


async def test_frames_reach_jetstream_in_order(nats_server: Any) -> None:
    async with _live(nats_server, ["ticker", "trade", "orderbook_delta"]) as (name, sim, backends, connector):
        for _ in range(3):
            await sim.pump(200)
        sim.send_malformed()
        await sim.pump(50)
        harness = Harness(sim, backends, connector)
        await harness.settle()
        sent = harness.sent_frames()
        await until(lambda: connector.stats.published >= len(sent), what="everything published")
        raw = await _stored(backends.transport, f"{name}.kalshi.raw.>", len(sent))
        assert [m.data for m in raw] == sent
        dead = await _stored(backends.transport, f"{name}.dlq.connector", 1)
        assert len(dead) == 1 and dead[0].headers["error_type"]


async def test_a_burst_faster_than_jetstream_pauses_reading_and_loses_nothing(nats_server: Any) -> None:
    """The publisher waits for JetStream's acks while the exchange keeps sending: past
    ``pause_at`` buffered frames the connection stops reading (TCP holds the rest) instead
    of dropping what its buffer cannot take."""
    settings = replace(FAST, queue_size=2000, pause_at=200, stale_after=5.0)
    async with _live(nats_server, ["trade"], settings) as (name, sim, backends, connector):
        await sim.pump(20_000)  # ten times what the buffer holds, at once
        harness = Harness(sim, backends, connector)
        await harness.settle()
        sent = harness.sent_frames()
        await until(lambda: connector.stats.published >= len(sent), timeout=60, what="everything published")
        raw = await _stored(backends.transport, f"{name}.kalshi.raw.>", len(sent))
        assert [m.data for m in raw] == sent  # every frame, in order, once
        conn = connector.connections[0]
        assert conn.dropped == 0 and "queue_overflow" not in connector.stats.errors
        assert conn.read_pauses > 0 and conn.describe()["read_pauses"] == conn.read_pauses
