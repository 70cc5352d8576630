"""One contract for every transport: the memory bus and NATS JetStream behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ssmd.errors import TransportError
from ssmd.middleware.transport.base import StartPosition, Transport
from ssmd.subjects import parse_record_subject, record_subject

OpenBus = Callable[[], Awaitable[Transport]]


@pytest.fixture(params=["memory", "nats"])
async def open_bus(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, OpenBus]]:
    """(env name, factory): each call opens a client of the same stream (for NATS, a new connection)."""
    env = f"t{uuid.uuid4().hex[:8]}"
    opened: list[Transport] = []
    if request.param == "memory":
        from ssmd.middleware.transport.memory import MemoryTransport

        bus = MemoryTransport(env)

        async def factory() -> Transport:
            return bus
    else:
        from ssmd.config.model import JetStreamConfig
        from ssmd.middleware.transport.nats import NatsTransport

        url = request.getfixturevalue("nats_server").url

        async def factory() -> Transport:
            t = NatsTransport(url, env, JetStreamConfig(stream=f"ssmd-{env}"))
            await t.connect()
            await t.ensure_stream()
            opened.append(t)
            return t

    yield env, factory
    for t in opened:
        await t.close()
    if request.param == "memory":
        await bus.close()


async def _drain(sub: Any, n: int, *, ack: bool = True) -> list[Any]:
    out = []
    for _ in range(n):
        msg = await sub.next(timeout=10)
        if ack:
            await msg.ack()
        out.append(msg)
    return out


async def _nothing(sub: Any, wait: float = 0.3) -> bool:
    try:
        await sub.next(timeout=wait)
    except TimeoutError:
        return True
    return False


async def test_publish_and_consume_in_order_with_headers(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    seqs = [await bus.publish(f"{env}.kalshi.trade.A", str(i).encode(), {"received_at": str(i)}) for i in range(20)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    sub = await bus.subscribe(f"{env}.>")
    got = await _drain(sub, 20)
    assert [m.data for m in got] == [str(i).encode() for i in range(20)]
    assert [m.seq for m in got] == seqs
    assert got[3].headers["received_at"] == "3"
    assert got[0].subject == f"{env}.kalshi.trade.A" and not got[0].redelivered and got[0].ts > 0
    await sub.close()


async def test_publish_many_keeps_order_and_dedup(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus: Any = await factory()
    first = await bus.publish(f"{env}.kalshi.raw.trade", b"r0", None, "c:0")
    items = [(f"{env}.kalshi.raw.trade", f"r{i}".encode(), {"conn": "c"}, f"c:{i}") for i in range(50)]
    seqs = await bus.publish_many(items)
    assert seqs[0] == first and seqs[1:] == sorted(seqs[1:]) and len(set(seqs)) == 50
    sub = await bus.subscribe(f"{env}.>")
    got = await _drain(sub, 50)
    assert [m.data for m in got] == [f"r{i}".encode() for i in range(50)]
    assert got[1].headers == {"conn": "c"}
    assert await _nothing(sub)


async def test_wildcards_select_subjects(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for subject in ("kalshi.trade.A", "kalshi.trade.B", "kalshi.ticker.A", "kalshi.raw.trade", "day.events"):
        await bus.publish(f"{env}.{subject}", subject.encode())
    star = await bus.subscribe(f"{env}.kalshi.trade.*")
    assert [m.data for m in await _drain(star, 2)] == [b"kalshi.trade.A", b"kalshi.trade.B"]
    assert await _nothing(star)
    mid = await bus.subscribe(f"{env}.kalshi.*.A")
    assert [m.data for m in await _drain(mid, 2)] == [b"kalshi.trade.A", b"kalshi.ticker.A"]
    rest = await bus.subscribe(f"{env}.kalshi.>")
    assert len(await _drain(rest, 4)) == 4
    assert await _nothing(rest)


async def test_duplicate_msg_id_is_stored_once(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    first = await bus.publish(f"{env}.kalshi.trade.A", b"x", msg_id="c1:1")
    again = await bus.publish(f"{env}.kalshi.trade.A", b"x", msg_id="c1:1")
    other = await bus.publish(f"{env}.kalshi.trade.A", b"y", msg_id="c1:2")
    assert again == first and other > first
    sub = await bus.subscribe(f"{env}.>")
    assert [m.data for m in await _drain(sub, 2)] == [b"x", b"y"]
    assert await _nothing(sub)


async def test_durable_consumer_resumes_where_it_left(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for i in range(5):
        await bus.publish(f"{env}.kalshi.trade.A", bytes([i]))
    sub = await bus.subscribe(f"{env}.kalshi.>", durable="archiver")
    assert [m.data for m in await _drain(sub, 3)] == [b"\x00", b"\x01", b"\x02"]
    await sub.close()
    other = await factory()
    await other.publish(f"{env}.kalshi.trade.A", b"\x05")
    again = await other.subscribe(f"{env}.kalshi.>", durable="archiver")
    assert [m.data for m in await _drain(again, 3)] == [b"\x03", b"\x04", b"\x05"]
    assert await _nothing(again)
    await again.close()


async def test_unacked_message_is_redelivered_after_ack_wait(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    await bus.publish(f"{env}.kalshi.trade.A", b"once")
    sub = await bus.subscribe(f"{env}.>", durable="d", ack_wait=0.5)
    first = await sub.next(timeout=10)
    assert not first.redelivered
    second = await sub.next(timeout=10)
    assert (second.data, second.seq, second.redelivered) == (b"once", first.seq, True)
    await second.ack()
    assert await _nothing(sub, 1.0)


async def test_consumer_closed_before_ack_gets_it_again(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    await bus.publish(f"{env}.kalshi.trade.A", b"a")
    await bus.publish(f"{env}.kalshi.trade.A", b"b")
    sub = await bus.subscribe(f"{env}.>", durable="w", ack_wait=0.5)
    (a,) = await _drain(sub, 1)
    (b,) = await _drain(sub, 1, ack=False)
    assert (a.data, b.data) == (b"a", b"b")
    await sub.close()
    resumed = await (await factory()).subscribe(f"{env}.>", durable="w", ack_wait=0.5)
    again = await resumed.next(timeout=10)
    assert (again.data, again.redelivered) == (b"b", True)
    await again.ack()
    assert await _nothing(resumed, 1.0)


async def test_nak_redelivers(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    await bus.publish(f"{env}.kalshi.trade.A", b"retry-me")
    sub = await bus.subscribe(f"{env}.>", ack_wait=30)
    msg = await sub.next(timeout=10)
    await msg.nak()
    again = await sub.next(timeout=10)
    assert (again.data, again.redelivered) == (b"retry-me", True)
    await again.ack()


async def test_max_ack_pending_holds_back_the_consumer_not_the_publisher(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    sub = await bus.subscribe(f"{env}.>", durable="slow", max_ack_pending=2, ack_wait=30)
    for i in range(50):
        await bus.publish(f"{env}.kalshi.trade.A", str(i).encode())
    held = await _drain(sub, 2, ack=False)
    assert await _nothing(sub, 0.5)
    await held[0].ack()
    (third,) = await _drain(sub, 1)
    assert third.data == b"2"
    await held[1].ack()
    rest = await _drain(sub, 47)
    assert rest[-1].data == b"49"


async def test_start_positions(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    seqs = [await bus.publish(f"{env}.kalshi.trade.A", bytes([i])) for i in range(3)]
    everything = await bus.subscribe(f"{env}.>", start=StartPosition.beginning())
    stamped = await _drain(everything, 3)
    new = await bus.subscribe(f"{env}.>", start=StartPosition.end())
    from_seq = await bus.subscribe(f"{env}.>", start=StartPosition.at_seq(seqs[1]))
    from_time = await bus.subscribe(f"{env}.>", start=StartPosition.at_time(stamped[2].ts))
    assert await _nothing(new)
    await bus.publish(f"{env}.kalshi.trade.A", b"\x03")
    assert [m.data for m in await _drain(new, 1)] == [b"\x03"]
    assert [m.data for m in await _drain(from_seq, 3)] == [b"\x01", b"\x02", b"\x03"]
    assert [m.data for m in await _drain(from_time, 2)] == [b"\x02", b"\x03"]


async def test_latest_view_keeps_only_the_newest(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    view = await bus.subscribe_latest(f"{env}.kalshi.ticker.*", buffer=5)
    await bus.publish(f"{env}.kalshi.trade.A", b"not-me")
    for i in range(100):
        await bus.publish(f"{env}.kalshi.ticker.A", str(i).encode())
    got: list[int] = []
    while not got or got[-1] != 99:
        got.append(int((await view.next(timeout=10)).data))
    assert got == list(range(100 - len(got), 100))
    assert len(got) <= 10
    await view.close()


async def test_ticker_with_dots_survives_the_subject(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    tickers = ["KXBTCD-26JUL2317-T118999.99", "INXD-25-B4000", "A.B*C>D E"]
    for t in tickers:
        await bus.publish(record_subject(env, "kalshi", "trade", t), t.encode())
    sub = await bus.subscribe(f"{env}.kalshi.trade.*")
    for msg in await _drain(sub, 3):
        assert parse_record_subject(msg.subject)[3] == msg.data.decode()


async def test_bad_subjects_are_refused(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for subject in (f"{env}.kalshi.trade.*", f"{env}..x", "elsewhere.kalshi.trade.A"):
        with pytest.raises(TransportError):
            await bus.publish(subject, b"x")


async def test_close_ends_iteration(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    sub = await bus.subscribe(f"{env}.>")
    seen: list[bytes] = []

    async def reader() -> None:
        async for msg in sub:
            seen.append(msg.data)
            await msg.ack()

    task = asyncio.create_task(reader())
    await bus.publish(f"{env}.kalshi.trade.A", b"1")
    while not seen:
        await asyncio.wait([task], timeout=0.05)
    await sub.close()
    await asyncio.wait_for(task, 10)
    assert seen == [b"1"]


async def _batches(sub: Any, n: int, max_n: int) -> list[Any]:
    """``n`` messages taken with ``next_batch(max_n)``, unacked."""
    out: list[Any] = []
    while len(out) < n:
        batch = await sub.next_batch(max_n, timeout=10)
        assert 1 <= len(batch) <= max_n
        out.extend(batch)
    return out


async def test_next_batch_keeps_order_and_waits_for_the_first(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for i in range(10):
        await bus.publish(f"{env}.kalshi.trade.A", bytes([i]))
    await bus.publish(f"{env}.kalshi.ticker.A", b"not-me")
    sub = await bus.subscribe(f"{env}.kalshi.trade.>", durable="batches")
    got = await _batches(sub, 10, 4)
    assert [m.data for m in got] == [bytes([i]) for i in range(10)]
    assert not any(m.redelivered for m in got)
    await bus.ack_many(got)
    with pytest.raises(TimeoutError):
        await sub.next_batch(5, timeout=0.3)
    await bus.publish(f"{env}.kalshi.trade.A", b"late")
    assert [m.data for m in await sub.next_batch(5, timeout=10)] == [b"late"]


async def test_ack_many_settles_exactly_the_acked(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for i in range(8):
        await bus.publish(f"{env}.kalshi.trade.A", bytes([i]))
    sub = await bus.subscribe(f"{env}.>", durable="acker", ack_wait=0.5)
    got = await _batches(sub, 8, 8)
    await bus.ack_many([m for m in got if m.data not in (b"\x02", b"\x05")])
    again = await _batches(sub, 2, 8)
    assert [(m.data, m.redelivered) for m in again] == [(b"\x02", True), (b"\x05", True)]
    await bus.ack_many(again)
    assert await _nothing(sub, 1.0)


async def test_unacked_batch_is_redelivered_after_a_crash(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    for i in range(6):
        await bus.publish(f"{env}.kalshi.trade.A", bytes([i]))
    sub = await bus.subscribe(f"{env}.>", durable="crashy", ack_wait=0.5)
    got = await _batches(sub, 6, 6)
    await bus.ack_many(got[:3])
    await sub.close()  # the consumer dies holding 3, 4, 5
    resumed = await (await factory()).subscribe(f"{env}.>", durable="crashy", ack_wait=0.5)
    again = await _batches(resumed, 3, 6)
    assert [(m.data, m.redelivered) for m in again] == [(b"\x03", True), (b"\x04", True), (b"\x05", True)]
    await bus.ack_many(again)
    assert await _nothing(resumed, 1.0)


async def test_next_batch_respects_max_ack_pending(open_bus: tuple[str, OpenBus]) -> None:
    env, factory = open_bus
    bus = await factory()
    sub = await bus.subscribe(f"{env}.>", durable="few", max_ack_pending=3, ack_wait=30)
    for i in range(10):
        await bus.publish(f"{env}.kalshi.trade.A", bytes([i]))
    held = await _batches(sub, 3, 10)
    assert len(held) == 3 and await _nothing(sub, 0.5)
    await bus.ack_many(held)
    rest: list[Any] = []
    while len(rest) < 7:
        batch = await sub.next_batch(10, timeout=10)
        assert len(batch) <= 3
        await bus.ack_many(batch)
        rest.extend(batch)
    assert [m.data for m in held + rest] == [bytes([i]) for i in range(10)]
