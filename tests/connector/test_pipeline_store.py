"""The pipeline's batch store on the memory bus: the same messages as publishing frame by
frame, and a frame that cannot be stored costs only itself."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.session import Session
from ssmd.connector.stats import Stats
from ssmd.kalshi.subscriptions import Limits, Planner
from ssmd.middleware.transport.base import StartPosition
from ssmd.middleware.transport.memory import MemoryTransport, Publish
from tests.connector.harness import as_wire

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi" / "frames.jsonl"


class _PublishOnly:
    """The memory bus seen through ``publish``/``publish_many`` only (as NATS is seen)."""

    def __init__(self, bus: MemoryTransport) -> None:
        self.bus = bus

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None,
                      msg_id: str | None = None) -> int:
        return await self.bus.publish(subject, data, headers, msg_id)

    async def publish_many(self, items: Sequence[Publish]) -> list[int]:
        return await self.bus.publish_many(items)


def _pipeline(transport: object, channels: list[str]) -> FramePipeline:
    session = Session(0, Planner(channels, "all", Limits()))
    session.start(0)
    return FramePipeline("t", "kalshi", transport, Stats("kalshi"), session, "t-0")  # type: ignore[arg-type]


async def _stored(bus: MemoryTransport) -> list[tuple[str, bytes, dict[str, str]]]:
    sub = await bus.subscribe("t.>", start=StartPosition.beginning())
    out = []
    for _ in range(bus.last_seq):
        msg = as_wire(await sub.next(timeout=1))
        out.append((msg.subject, msg.data, msg.headers))
    await sub.close()
    return out


async def test_batch_store_equals_publishing_frame_by_frame() -> None:
    lines = [msgspec.json.decode(line) for line in FIXTURE.read_bytes().splitlines() if line.strip()]
    batch = [(line["frame"].encode(), line["received_at"]) for line in lines]
    channels = ["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"]
    fast_bus, slow_bus = MemoryTransport("t"), MemoryTransport("t")
    fast, slow = _pipeline(fast_bus, channels), _pipeline(_PublishOnly(slow_bus), channels)
    for pipeline in (fast, slow):
        await pipeline.process(batch[:20])
        await pipeline.process(batch[20:])
    stored = await _stored(fast_bus)
    assert stored == await _stored(slow_bus)
    assert fast.stats.counters() == slow.stats.counters()
    assert fast.stats.dead_letters > 0 and fast.stats.records  # the fixture has both


def _trade(sid: int, seq: int, ticker: str) -> bytes:
    return msgspec.json.encode({"type": "trade", "sid": sid, "seq": seq, "msg": {
        "trade_id": f"{ticker}-{seq}", "market_ticker": ticker, "yes_price_dollars": "0.5000",
        "count_fp": "1.00", "taker_outcome_side": "yes", "ts_ms": 1_784_475_900_000}})


@pytest.mark.parametrize("seen_as", ["memory", "publish_only"])
async def test_a_frame_that_cannot_be_stored_costs_only_itself(seen_as: str) -> None:
    bus = MemoryTransport("t")
    pipeline = _pipeline(bus if seen_as == "memory" else _PublishOnly(bus), ["trade"])
    frames = [
        msgspec.json.encode({"id": 1, "type": "subscribed", "msg": {"channel": "trade", "sid": 2}}),
        # the exchange names a channel that is no subject token: its frames cannot be stored
        msgspec.json.encode({"id": 99, "type": "subscribed", "msg": {"channel": "bad channel", "sid": 9}}),
        _trade(2, 1, "A"),
        _trade(9, 1, "B"),
        _trade(2, 2, "C"),
    ]
    await pipeline.process([(frame, 1_784_475_900_100_000_000 + i) for i, frame in enumerate(frames)])
    stored = [(subject, headers.get("type")) for subject, _, headers in await _stored(bus)]
    assert stored == [
        ("t.kalshi.raw.trade", "subscribed"),
        ("t.kalshi.raw.trade", "trade"), ("t.kalshi.trade.A", None),
        ("t.kalshi.raw.trade", "trade"), ("t.kalshi.trade.C", None),
    ]
    stats = pipeline.stats
    assert stats.errors == {"publish": 2}
    assert stats.records == {"trade": 2}
    assert stats.published == 5
    assert pipeline.frames == 5
