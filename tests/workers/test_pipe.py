"""The child's receive path: frames decode straight into deliveries, routed in bulk (pure)."""

from __future__ import annotations

from ssmd.workers import wire
from ssmd.workers.pipe import PipeTransport


def _frame(items: list[wire.Item]) -> wire.Msgs:
    frame = wire._decoder.decode(wire.encode(wire.Send(items))[4:])
    assert isinstance(frame, wire.Msgs)
    return frame


async def test_the_parent_items_decode_into_deliveries() -> None:
    frame = _frame([(7, "e.k.raw.trade", b"{}", {"received_at": "5", "seq": "3"}, 9, True)])
    (msg,) = frame.items
    assert (msg.seq, msg.subject, msg.data, msg.headers, msg.ts, msg.redelivered) == (
        7, "e.k.raw.trade", b"{}", {"received_at": "5", "seq": "3"}, 9, True)


async def test_deliver_routes_in_order_and_acks_what_nobody_wants() -> None:
    transport = PipeTransport()
    raw = await transport.subscribe("e.k.raw.>")
    trades = await transport.subscribe("e.k.trade.>")
    transport.deliver(_frame([(1, "e.k.raw.trade", b"a", {}, 1, False), (2, "e.k.trade.T1", b"b", {}, 1, False),
                              (3, "e.k.other", b"c", {}, 1, False), (4, "e.k.raw.trade", b"d", {}, 1, False),
                              (5, "e.k.trade.T2", b"e", {}, 1, False)]).items)
    assert [m.seq for m in await raw.next_batch(10, timeout=1)] == [1, 4]
    got = await trades.next_batch(10, timeout=1)
    assert [m.seq for m in got] == [2, 5]
    assert transport.take_acks() == [3]
    await got[1].ack()
    await transport.ack_many(got[:1])
    assert transport.take_acks() == [5, 2]
