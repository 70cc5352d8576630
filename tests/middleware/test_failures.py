"""Dependencies that go away and come back: NATS restarts, a consumer dies before acking,
Redis stops, S3 fails."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest

from ssmd import metrics
from ssmd.config.model import JetStreamConfig
from ssmd.errors import StorageError
from ssmd.middleware.cache.degrading import DegradingCache
from ssmd.middleware.cache.redis import RedisCache
from ssmd.middleware.factory import open_backends
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.middleware.transport.nats import NatsTransport


async def _nats(url: str, env: str) -> NatsTransport:
    t = NatsTransport(url, env, JetStreamConfig(stream=f"ssmd-{env}"))
    await t.connect()
    await t.ensure_stream()
    return t


@pytest.mark.slow
async def test_nats_restart_mid_stream_loses_and_duplicates_nothing(nats_server: Any) -> None:
    env = f"t{uuid.uuid4().hex[:8]}"
    publisher, consumer = await _nats(nats_server.url, env), await _nats(nats_server.url, env)
    total, halfway, stopped, retrying = 300, asyncio.Event(), asyncio.Event(), asyncio.Event()
    publisher.on_retry = lambda subject, exc: retrying.set()
    acked: list[int] = []

    async def publish() -> None:
        for i in range(total // 2):  # one by one
            await publisher.publish(f"{env}.kalshi.trade.T", str(i).encode(), msg_id=f"conn-1:{i}")
            acked.append(i)
        halfway.set()
        await stopped.wait()  # the rest is published, in pipelined batches, into an outage
        for start in range(total // 2, total, 30):
            batch = [(f"{env}.kalshi.trade.T", str(i).encode(), None, f"conn-1:{i}") for i in range(start, start + 30)]
            await publisher.publish_many(batch)
            acked.extend(range(start, start + 30))

    seqs: dict[int, set[int]] = {}

    async def consume() -> None:
        sub = await consumer.subscribe(f"{env}.>", durable="archiver", ack_wait=2)
        while len(seqs) < total:
            msg = await sub.next(timeout=60)
            seqs.setdefault(int(msg.data), set()).add(msg.seq)
            await msg.ack()
        await sub.close()

    pub_task, con_task = asyncio.create_task(publish()), asyncio.create_task(consume())
    await asyncio.wait_for(halfway.wait(), 60)
    await asyncio.to_thread(nats_server.stop)
    stopped.set()
    try:
        await asyncio.wait_for(retrying.wait(), 60)
        assert len(acked) == total // 2
        assert metrics.CIRCUIT_BREAKER_OPEN.labels("nats")._value.get() == 1  # the alert's input
    finally:
        await asyncio.to_thread(nats_server.start)
    await asyncio.wait_for(pub_task, 90)
    assert metrics.CIRCUIT_BREAKER_OPEN.labels("nats")._value.get() == 0
    await asyncio.wait_for(con_task, 90)
    assert acked == list(range(total))
    assert sorted(seqs) == list(range(total))
    assert all(len(s) == 1 for s in seqs.values())  # each message stored once, whatever was retried
    assert len({next(iter(s)) for s in seqs.values()}) == total
    await publisher.close()
    await consumer.close()


_KILLED_CONSUMER = textwrap.dedent(
    """
    import asyncio, os, sys
    from ssmd.config.model import JetStreamConfig
    from ssmd.middleware.transport.nats import NatsTransport

    async def main(url, env):
        t = NatsTransport(url, env, JetStreamConfig(stream=f"ssmd-{env}"))
        await t.connect()
        sub = await t.subscribe(f"{env}.>", durable="gateway", ack_wait=1)
        msg = await sub.next(timeout=30)
        print(msg.data.decode(), flush=True)
        os._exit(9)  # dies holding the message, never acks

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.slow
async def test_consumer_killed_before_ack_gets_the_message_redelivered(nats_server: Any) -> None:
    env = f"t{uuid.uuid4().hex[:8]}"
    bus = await _nats(nats_server.url, env)
    await bus.publish(f"{env}.kalshi.trade.T", b"important")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILLED_CONSUMER, nats_server.url, env,
                                                stdout=subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert (out.strip(), proc.returncode) == (b"important", 9)
    sub = await bus.subscribe(f"{env}.>", durable="gateway", ack_wait=1)
    msg = await sub.next(timeout=30)
    assert (msg.data, msg.redelivered) == (b"important", True)
    await msg.ack()
    await bus.close()


@pytest.mark.slow
async def test_redis_stopped_degrades_then_recovers(redis_server: Any) -> None:
    cache = DegradingCache(RedisCache(redis_server.url, timeout=1), retry_after=0.05)
    await cache.connect()
    await cache.set("e:day:current", "2026-07-19")
    assert await cache.get("e:day:current") == "2026-07-19" and not cache.degraded
    await asyncio.to_thread(redis_server.stop)
    try:
        assert await cache.get("e:day:current") is None
        assert cache.degraded and "unavailable" in (cache.last_error or "")
        assert metrics.CACHE_DEGRADED._value.get() == 1
        assert metrics.CIRCUIT_BREAKER_OPEN.labels("cache")._value.get() == 1
        await cache.set("e:skipped", "x")  # skipped, no error
        assert await cache.hgetall("e:h") == {} and await cache.smembers("e:s") == set()
        assert not await cache.check()
    finally:
        await asyncio.to_thread(redis_server.start)
    assert await cache.check()
    assert not cache.degraded and metrics.CACHE_DEGRADED._value.get() == 0
    assert metrics.CIRCUIT_BREAKER_OPEN.labels("cache")._value.get() == 0
    await cache.set("e:after", "y")
    assert await cache.get("e:after") == "y"
    await cache.close()


@pytest.mark.slow
async def test_open_backends_with_redis_down_still_opens(make_env: Any, redis_server: Any) -> None:
    from tests.servers import free_port

    env = make_env(cache="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    backends = await open_backends(env)
    assert backends.cache.degraded
    assert await backends.cache.get(f"{env.name}:day:current") is None
    await backends.close()


async def test_s3_outage_is_retried_until_it_comes_back(s3_server: Any) -> None:
    storage = FsspecStorage.s3(s3_server.url, attempts=10, retry_initial=0.1)
    bucket = f"b{uuid.uuid4().hex[:10]}"
    await storage.create_bucket(bucket)
    retried = asyncio.Event()
    storage.on_retry = lambda attempt, exc, wait: retried.set()
    await asyncio.to_thread(s3_server.stop)
    try:
        put = asyncio.create_task(storage.put(f"{bucket}/during-outage", b"kept"))
        await asyncio.wait_for(retried.wait(), 30)
    finally:
        await asyncio.to_thread(s3_server.start)
    await asyncio.wait_for(put, 60)
    assert await storage.get(f"{bucket}/during-outage") == b"kept"


async def test_s3_outage_that_lasts_gives_a_clear_error(s3_server: Any) -> None:
    storage = FsspecStorage.s3(s3_server.url, attempts=3, retry_initial=0.01)
    bucket = f"b{uuid.uuid4().hex[:10]}"
    await storage.create_bucket(bucket)
    await asyncio.to_thread(s3_server.stop)
    try:
        with pytest.raises(StorageError) as info:
            await storage.put(f"{bucket}/day/manifest.json", b"{}")
    finally:
        await asyncio.to_thread(s3_server.start)
    message = str(info.value)
    assert message.startswith(f"storage: cannot put {bucket}/day/manifest.json: ")
    assert "gave up after 3 attempts" in message and info.value.retryable
    assert "\n" not in message


def test_errors_are_translated_in_one_place() -> None:
    from botocore.exceptions import ClientError

    from ssmd.errors import NotFoundError
    from ssmd.middleware.storage.fsspec_store import _translate

    denied = _translate(PermissionError(13, "Permission denied"), "local", "put", "raw/x")
    assert isinstance(denied, StorageError) and not denied.retryable
    assert str(denied).startswith("storage: cannot put raw/x: permission denied")
    slow = _translate(ClientError({"Error": {"Code": "SlowDown", "Message": "reduce rate"}}, "PutObject"), "s3",
                      "put", "b/k")
    assert isinstance(slow, StorageError) and slow.retryable and "SlowDown" in str(slow)
    gone = _translate(FileNotFoundError("b/k"), "s3", "get", "b/k")
    assert isinstance(gone, NotFoundError) and str(gone) == "storage: no object b/k"
