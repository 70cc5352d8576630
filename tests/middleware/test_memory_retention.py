"""The embedded bus keeps what a consumer still needs and lets go of the rest: memory stays
flat at any rate, and nothing a consumer has not acked is ever dropped."""

from __future__ import annotations

from ssmd.clock import ManualClock
from ssmd.config.model import Environment
from ssmd.middleware.factory import MEMORY_KEEP_ACKED, make_transport
from ssmd.middleware.transport.base import StartPosition
from ssmd.middleware.transport.memory import MemoryTransport


async def _publish(bus: MemoryTransport, n: int, tag: str = "") -> None:
    await bus.publish_many([("e.kalshi.trade.A", f"{tag}{i}".encode(), None, None) for i in range(n)])


async def test_acked_messages_go_once_old_and_unacked_ones_stay() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", keep_acked=5, clock=clock)
    sub = await bus.subscribe("e.>", durable="archiver")
    await _publish(bus, 10)
    batch = await sub.next_batch(6, timeout=1)  # 1..6 delivered
    await bus.ack_many(batch[:4])  # 1..4 acked, 5 and 6 in flight, 7..10 not delivered yet
    clock.advance(6)
    await _publish(bus, 1, "new")
    assert bus.first_seq == 5  # only what the consumer is done with has gone
    await bus.ack_many(batch[4:])
    clock.advance(2)  # the consumer's floor is recomputed at most once a second
    await _publish(bus, 1, "newer")
    assert bus.first_seq == 7
    rest = await sub.next_batch(100, timeout=1)
    assert [m.seq for m in rest] == [7, 8, 9, 10, 11, 12]  # the consumer misses nothing


async def test_a_late_durable_consumer_still_finds_recent_messages() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", keep_acked=5, clock=clock)
    await _publish(bus, 3)  # nobody subscribed yet: kept keep_acked seconds
    clock.advance(1)
    await _publish(bus, 1)
    late = await bus.subscribe("e.>", durable="archiver")
    assert [m.seq for m in await late.next_batch(10, timeout=1)] == [1, 2, 3, 4]


async def test_a_reader_from_the_beginning_holds_what_it_has_not_read() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", keep_acked=5, clock=clock)
    await _publish(bus, 5)
    reader = await bus.subscribe("e.>", start=StartPosition.beginning())
    clock.advance(10)
    await _publish(bus, 1)
    assert bus.first_seq == 1 and (await reader.next(timeout=1)).seq == 1


def test_the_embedded_transport_keeps_acked_messages_briefly() -> None:
    bus = make_transport(Environment(name="e", feed="kalshi", schema="trade:v1"))
    assert isinstance(bus, MemoryTransport) and bus._keep_ns == int(MEMORY_KEEP_ACKED * 1e9)


async def test_a_consumer_of_rare_subjects_does_not_hold_the_stream() -> None:
    clock = ManualClock()
    bus = MemoryTransport("e", keep_acked=5, clock=clock)
    gaps = await bus.subscribe("e.kalshi.gaps", durable="gaps")  # nothing published there yet
    trades = await bus.subscribe("e.kalshi.trade.>", durable="trades")
    await _publish(bus, 100)
    await bus.ack_many(await trades.next_batch(100, timeout=1))
    clock.advance(6)
    await bus.publish("e.kalshi.gaps", b"gap")
    assert bus.first_seq == 101  # the trades were done with; the gap is still to be read
    assert (await gaps.next(timeout=1)).data == b"gap"
