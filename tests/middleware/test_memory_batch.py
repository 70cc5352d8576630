"""The memory bus's batch publish stores exactly what publishing item by item stores."""

from __future__ import annotations

import asyncio
import random

import pytest

from ssmd.clock import ManualClock
from ssmd.errors import TransportError
from ssmd.middleware.transport.base import StartPosition
from ssmd.middleware.transport.memory import MemoryTransport, Publish


def _items(n: int, seed: int) -> list[Publish]:
    """A mix of subjects, shared and missing headers, and repeated message ids."""
    rng = random.Random(seed)
    shared = {"received_at": "1", "conn": "c"}
    out: list[Publish] = []
    for i in range(n):
        subject = f"e.kalshi.{rng.choice(['raw', 'trade', 'ticker'])}.M{rng.randrange(5)}"
        headers = rng.choice([None, shared, {"n": str(i)}])
        msg_id = rng.choice([None, f"id{i}", f"id{rng.randrange(max(1, i))}"])
        out.append((subject, str(i).encode(), headers, msg_id))
    return out


async def _stored(bus: MemoryTransport) -> list[tuple[int, str, bytes, dict[str, str], int]]:
    sub = await bus.subscribe("e.>", start=StartPosition.beginning())
    out = []
    for _ in range(bus.last_seq - bus.first_seq + 1):
        msg = await sub.next(timeout=1)
        await msg.ack()
        out.append((msg.seq, msg.subject, msg.data, msg.headers, msg.ts))
    await sub.close()
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batch_equals_one_by_one(seed: int) -> None:
    items = _items(300, seed)
    one, batch = MemoryTransport("e", clock=ManualClock()), MemoryTransport("e", clock=ManualClock())
    expected = [one.publish_nowait(*item) for item in items]
    assert batch.publish_batch_nowait(items[:120]) + batch.publish_batch_nowait(items[120:]) == expected
    assert await _stored(batch) == await _stored(one)


async def test_an_invalid_subject_stores_nothing_of_the_batch() -> None:
    bus = MemoryTransport("e")
    bus.publish_nowait("e.kalshi.trade.A", b"before")
    with pytest.raises(TransportError, match="invalid subject"):
        bus.publish_batch_nowait([("e.kalshi.trade.A", b"1", None, "a"), ("e.kalshi.trade.A B", b"2", None, "b")])
    with pytest.raises(TransportError, match="outside the stream"):
        bus.publish_batch_nowait([("x.kalshi.trade.A", b"3", None, None)])
    assert bus.last_seq == 1
    assert bus.publish_batch_nowait([("e.kalshi.trade.A", b"1", None, "a")]) == [2]  # "a" was not remembered


async def test_duplicate_window_expires_between_batches() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", duplicate_window=60, clock=clock)
    twice: list[Publish] = [("e.kalshi.trade.A", b"1", None, "x")] * 2
    assert bus.publish_batch_nowait(twice) == [1, 1]
    clock.advance(30)
    assert bus.publish_batch_nowait([("e.kalshi.trade.A", b"2", None, "x")]) == [1]
    clock.advance(31)
    assert bus.publish_batch_nowait([("e.kalshi.trade.A", b"3", None, "x")]) == [2]


async def test_retention_is_applied_to_batches() -> None:
    bus = MemoryTransport("e", max_bytes=1000)
    bus.publish_batch_nowait([("e.kalshi.trade.A", bytes([i]) * 100, None, None) for i in range(100)])
    assert bus.count() == 10
    assert bus.first_seq == 91
    clock = ManualClock()
    aging = MemoryTransport("e", max_age=60, clock=clock)
    aging.publish_batch_nowait([("e.kalshi.trade.A", b"old", None, None)] * 3)
    clock.advance(61)
    aging.publish_batch_nowait([("e.kalshi.trade.A", b"new", None, None)] * 2)
    assert (aging.first_seq, aging.last_seq) == (4, 5)


async def test_a_batch_wakes_readers_and_feeds_latest_views() -> None:
    bus = MemoryTransport("e")
    durable = await bus.subscribe("e.kalshi.trade.*", durable="d")
    other = await bus.subscribe("e.kalshi.ticker.*")
    view = await bus.subscribe_latest("e.kalshi.trade.>", buffer=2)
    reader = asyncio.create_task(durable.next(timeout=10))
    idle = asyncio.create_task(other.next(timeout=0.2))
    await asyncio.sleep(0)  # both readers asleep on the bus
    bus.publish_batch_nowait([(f"e.kalshi.trade.M{i}", str(i).encode(), {"k": "v"}, None) for i in range(3)])
    msg = await reader
    assert (msg.data, msg.headers) == (b"0", {"k": "v"})
    with pytest.raises(TimeoutError):
        await idle
    assert [(await view.next(timeout=1)).data for _ in range(2)] == [b"1", b"2"]
    for sub in (durable, other, view):
        await sub.close()
