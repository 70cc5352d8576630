"""What only the memory bus needs to show: retention, cheap publishing, purge."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

from ssmd.clock import ManualClock
from ssmd.middleware.transport.base import StartPosition
from ssmd.middleware.transport.memory import MemoryTransport


async def test_messages_older_than_max_age_are_discarded() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", max_age=3600, clock=clock)
    for i in range(5000):
        await bus.publish("e.kalshi.trade.A", str(i).encode())
    clock.advance(3601)
    await bus.publish("e.kalshi.trade.A", b"fresh")
    sub = await bus.subscribe("e.>", start=StartPosition.beginning())
    msg = await sub.next(timeout=1)
    assert (msg.data, msg.seq) == (b"fresh", 5001)
    assert bus.first_seq == 5001 and bus.last_seq == 5001


async def test_max_bytes_discards_oldest() -> None:
    bus = MemoryTransport("e", max_bytes=1000)
    for i in range(100):
        await bus.publish("e.kalshi.trade.A", bytes([i]) * 100)
    assert bus.count() == 10
    sub = await bus.subscribe("e.>")
    assert (await sub.next(timeout=1)).data == bytes([90]) * 100


async def test_a_lagging_durable_consumer_skips_what_aged_out() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", max_age=60, clock=clock)
    sub = await bus.subscribe("e.>", durable="slow")
    await bus.publish("e.kalshi.trade.A", b"old")
    clock.advance(120)
    await bus.publish("e.kalshi.trade.A", b"new")
    assert (await sub.next(timeout=1)).data == b"new"


async def test_publish_creates_no_tasks_and_never_waits_for_readers() -> None:
    bus = MemoryTransport("e")
    subs = [await bus.subscribe("e.>", max_ack_pending=1) for _ in range(3)]
    readers = [asyncio.create_task(s.next(timeout=30)) for s in subs]
    await asyncio.sleep(0)  # let the readers go to sleep on the bus
    gc.collect()  # finalizers of other libraries' objects must not start tasks meanwhile
    gc.disable()
    try:
        before = asyncio.all_tasks()
        for i in range(10_000):
            bus.publish_nowait("e.kalshi.trade.A", str(i).encode())
        assert asyncio.all_tasks() - before == set()
    finally:
        gc.enable()
    assert [(await r).data for r in readers] == [b"0", b"0", b"0"]
    for s in subs:
        await s.close()


async def test_purge_forgets_matching_messages_and_keeps_sequences() -> None:
    bus = MemoryTransport("e")
    await bus.publish("e.kalshi.trade.A", b"1")
    await bus.publish("e.day.events", b"2")
    assert bus.purge("e.kalshi.>") == 1
    assert await bus.publish("e.kalshi.trade.A", b"3") == 3
    sub = await bus.subscribe("e.>")
    assert [(await sub.next(timeout=1)).data for _ in range(2)] == [b"2", b"3"]


async def test_only_the_unacked_message_among_many_acked_is_redelivered() -> None:
    bus = MemoryTransport("e")
    bus.publish_batch_nowait([("e.kalshi.trade.A", str(i).encode(), None, None) for i in range(3000)])
    sub = await bus.subscribe("e.>", durable="d", ack_wait=0.3, max_ack_pending=5000)
    got: list[Any] = []
    while len(got) < 3000:
        got.extend(await sub.next_batch(512, timeout=1))
    await bus.ack_many(got[:1500])
    for msg in got[1501:]:
        await msg.ack()
    again = await sub.next(timeout=10)
    assert (again.data, again.redelivered) == (b"1500", True)
    await again.ack()
    with contextlib.suppress(TimeoutError):
        extra = await sub.next(timeout=0.6)
        raise AssertionError(f"redelivered {extra.data!r} after its ack")


async def test_a_shorter_ack_wait_on_resubscribe_applies_to_messages_in_flight() -> None:
    bus = MemoryTransport("e")
    for data in (b"a", b"b"):
        bus.publish_nowait("e.kalshi.trade.A", data)
    sub = await bus.subscribe("e.>", durable="d", ack_wait=30)
    first = await sub.next(timeout=1)
    await sub.close()
    sub = await bus.subscribe("e.>", durable="d", ack_wait=0.2)
    second = await sub.next(timeout=1)
    assert (first.data, second.data) == (b"a", b"b")
    again = [await sub.next(timeout=10) for _ in range(2)]
    assert [(m.data, m.redelivered) for m in again] == [(b"a", True), (b"b", True)]


async def test_live_views_follow_subscribe_and_close() -> None:
    bus = MemoryTransport("e")
    early = await bus.subscribe_latest("e.kalshi.trade.*")
    gone = await bus.subscribe_latest("e.kalshi.trade.*")
    bus.publish_batch_nowait([("e.kalshi.trade.A", b"1", None, None), ("e.kalshi.raw.trade", b"r1", None, None)])
    late = await bus.subscribe_latest("e.kalshi.>")
    bus.publish_batch_nowait([("e.kalshi.trade.A", b"2", None, None), ("e.kalshi.raw.trade", b"r2", None, None)])
    await gone.close()
    bus.publish_nowait("e.kalshi.trade.A", b"3")
    assert [m.data for m in await early.next_batch(10, timeout=1)] == [b"1", b"2", b"3"]
    assert [m.data for m in await late.next_batch(10, timeout=1)] == [b"2", b"r2", b"3"]
    assert [s.data for s in gone._source.queue] == [b"1", b"2"]  # type: ignore[union-attr]
