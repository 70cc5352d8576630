"""The child's receive path: each message's data crosses the pipe as the object it was on
the bus, and deliveries are routed in bulk, in stream order (pure)."""

from __future__ import annotations

from typing import Any

import msgspec

from ssmd.rawline import RawLine
from ssmd.records import OrderbookDelta, Trade
from ssmd.workers import wire
from ssmd.workers.parent import _parts
from ssmd.workers.pipe import PipeTransport

TRADE = Trade(ts=1, received_at=2, ticker="T1", trade_id="t-1", price=5600, size=1000, side="no", sid=3, seq=4,
              is_block_trade=True, source="rest")
DELTA = OrderbookDelta(ts=1, received_at=2, ticker="T1", side="yes", price=100, delta=-250, sid=3, seq=5)
LINE = RawLine(2, "c1", "trade", "trade", 3, 4, '{"type":"trade","msg":{"ticker":"é"}}')


class BusMessage(msgspec.Struct):
    """A memory-bus delivery as the parent bridge reads it."""

    seq: int
    subject: str
    data: Any
    headers: dict[str, str]
    ts: int = 9
    redelivered: bool = False


def _through_pipe(batch: list[BusMessage]) -> wire.Msgs:
    frame = wire._decoder.decode(wire.encode(wire.Send(_parts(batch)))[4:])
    assert isinstance(frame, wire.Msgs)
    return frame


def test_each_kind_of_data_arrives_as_the_object_it_was() -> None:
    batch = [BusMessage(1, "e.k.raw.trade", LINE, {}), BusMessage(2, "e.k.trade.T1", TRADE, {"conn": "c1"}),
             BusMessage(3, "e.k.dlq.connector", b"\x00bad", {"error": "x"}, 7, True),
             BusMessage(4, "e.k.orderbook.T1", DELTA, {})]
    got = [m for part in _through_pipe(batch).parts for m in part]
    assert sorted((m.seq, m.subject, m.data, m.headers, m.ts, m.redelivered) for m in got) == [
        (m.seq, m.subject, m.data, m.headers, m.ts, m.redelivered) for m in batch]
    assert {type(m.data) for m in got} == {RawLine, Trade, bytes, OrderbookDelta}


async def test_deliver_routes_in_order_and_acks_what_nobody_wants() -> None:
    transport = PipeTransport()
    raw = await transport.subscribe("e.k.raw.>")
    trades = await transport.subscribe("e.k.trade.>")
    transport.deliver(_through_pipe([
        BusMessage(1, "e.k.raw.trade", LINE, {}), BusMessage(2, "e.k.trade.T1", TRADE, {}),
        BusMessage(3, "e.k.other", b"c", {}), BusMessage(4, "e.k.raw.trade", LINE, {}),
        BusMessage(5, "e.k.trade.T2", TRADE, {})]).parts)
    assert [m.seq for m in await raw.next_batch(10, timeout=1)] == [1, 4]
    got = await trades.next_batch(10, timeout=1)
    assert [m.seq for m in got] == [2, 5]
    assert transport.take_acks() == [3]
    await got[1].ack()
    await transport.ack_many(got[:1])
    assert transport.take_acks() == [5, 2]


async def test_a_subscription_fed_more_than_one_kind_gets_them_in_stream_order() -> None:
    transport = PipeTransport()
    raw = await transport.subscribe("e.k.raw.>")
    transport.deliver(_through_pipe([  # a raw subject carrying bytes (from outside the connector) and lines
        BusMessage(1, "e.k.raw.trade", LINE, {}), BusMessage(2, "e.k.raw.trade", b"x", {"conn": "c2"}),
        BusMessage(3, "e.k.raw.trade", LINE, {}), BusMessage(4, "e.k.raw.ticker", b"y", {})]).parts)
    got = await raw.next_batch(10, timeout=1)
    assert [(m.seq, type(m.data)) for m in got] == [(1, RawLine), (2, bytes), (3, RawLine), (4, bytes)]
