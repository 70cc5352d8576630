"""Publish→consume throughput: the memory bus and NATS JetStream, next to the bare-library
rates measured in the same run (asyncio.Queue hand-off; nats-py ``publish_async``)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from common import Result

from ssmd.config.model import JetStreamConfig
from ssmd.middleware.transport.memory import MemoryTransport

PAYLOAD = b"x" * 200


async def _memory(n: int) -> float:
    bus = MemoryTransport("b")
    sub = await bus.subscribe("b.>", durable="archiver")

    async def consume() -> None:
        for _ in range(n):
            msg = await sub.next()
            await msg.ack()

    start = time.perf_counter()
    reader = asyncio.create_task(consume())
    for i in range(n):
        await bus.publish("b.kalshi.trade.T", PAYLOAD, {"received_at": "1"}, msg_id=f"c:{i}")
        if i % 256 == 0:
            await asyncio.sleep(0)
    await reader
    return n / (time.perf_counter() - start)


async def _queue(n: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def consume() -> None:
        for _ in range(n):
            await queue.get()

    start = time.perf_counter()
    reader = asyncio.create_task(consume())
    for i in range(n):
        queue.put_nowait(PAYLOAD)
        if i % 256 == 0:
            await asyncio.sleep(0)
    await reader
    return n / (time.perf_counter() - start)


async def _jetstream(url: str, n: int, env: str, batch: int = 0) -> tuple[float, float]:
    """Publish ``n`` messages while a durable consumer reads: (end-to-end, publish) rates.
    ``batch`` > 0 publishes with ``publish_many`` in batches of that size; 0 awaits each ack."""
    from ssmd.middleware.transport.nats import NatsTransport

    bus = NatsTransport(url, env, JetStreamConfig(stream=f"ssmd-{env}"))
    await bus.connect()
    await bus.ensure_stream()
    sub = await bus.subscribe(f"{env}.>", durable="archiver")
    consumed = 0

    async def consume() -> None:
        nonlocal consumed
        while consumed < n:
            msg = await sub.next(timeout=30)
            await msg.ack()
            consumed += 1

    start = time.perf_counter()
    reader = asyncio.create_task(consume())
    if batch:
        for b in range(0, n, batch):
            await bus.publish_many([(f"{env}.kalshi.trade.T", PAYLOAD, {"received_at": "1"}, f"c:{i}")
                                    for i in range(b, min(n, b + batch))])
    else:
        for i in range(n):
            await bus.publish(f"{env}.kalshi.trade.T", PAYLOAD, {"received_at": "1"}, msg_id=f"c:{i}")
    published = time.perf_counter() - start
    await reader
    total = time.perf_counter() - start
    await bus.close()
    return n / total, n / published


async def _bare_publish_async(url: str, n: int, env: str) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=f"bare-{env}", subjects=[f"{env}.>"])
    start = time.perf_counter()
    futures = [await js.publish_async(f"{env}.kalshi.trade.T", PAYLOAD, headers={"Nats-Msg-Id": f"c:{i}"})
               for i in range(n)]
    await asyncio.gather(*futures)
    rate = n / (time.perf_counter() - start)
    await nc.close()
    return rate


def run(quick: bool = False) -> list[Result]:
    n_mem = 50_000 if quick else 200_000
    n_js = 5_000 if quick else 20_000
    mem = max(asyncio.run(_memory(n_mem)) for _ in range(3))
    queue = max(asyncio.run(_queue(n_mem)) for _ in range(3))
    results = [Result("memory bus publish→consume (durable, acked)", mem, "msg/s", queue,
                      "asyncio.Queue hand-off", goal="> 100k msg/s")]
    from tests.servers import NatsServer, find_binary

    binary = find_binary("nats-server")
    if binary is None:
        return results
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(binary, Path(tmp))
        server.start()
        try:
            e2e, _ = asyncio.run(_jetstream(server.url, n_js // 4, "bench1"))
            e2e_many, pub_many = asyncio.run(_jetstream(server.url, n_js, "bench3", batch=256))
            bare = asyncio.run(_bare_publish_async(server.url, n_js, "bench2"))
        finally:
            server.stop()
    ceiling = "nats-py publish_async (publish only)"
    results.append(Result("jetstream publish_many→consume (durable, acked)", e2e_many, "msg/s", bare, ceiling))
    results.append(Result("jetstream publish_many (batches of 256)", pub_many, "msg/s", bare, ceiling))
    results.append(Result("jetstream publish→consume, one awaited ack each", e2e, "msg/s", bare, ceiling,
                          goal="round-trip bound"))
    return results
