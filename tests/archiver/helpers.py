"""Shared helpers for archiver, catalog and data CLI tests: real memory transport + local storage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from ssmd import codec
from ssmd.archiver import Archiver
from ssmd.config.model import ArchiverConfig, Environment, StorageConfig
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.middleware.transport.memory import MemoryTransport
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade
from ssmd.subjects import raw_subject, record_subject
from tests.waiting import until

T0 = 1_784_475_900_000_000_000  # 2026-07-19T15:45:00Z
DAY = "2026-07-19"
MS = 1_000_000


class Backends:
    """The four backends as ``open_backends`` returns them (transport + storage used here)."""

    def __init__(self, env: Environment, transport: Any, storage: Any) -> None:
        self.env = env
        self.transport = transport
        self.storage = storage
        self.cache: Any = None
        self.journal: Any = None

    async def close(self) -> None:
        await self.transport.close()


def make_env(root: Path, name: str = "t1", **archiver: Any) -> Environment:
    settings = {"flush_interval_seconds": 0.05, **archiver}
    return Environment(name=name, feed="kalshi", schema="trade:v1,ticker:v1,orderbook:v1,lifecycle:v1",
                       storage=StorageConfig(type="local", path=str(root)), archiver=ArchiverConfig(**settings))


def make_backends(env: Environment) -> Backends:
    assert env.storage.path
    storage = FsspecStorage.local(env.storage.path, attempts=1, fsync=False)
    return Backends(env, MemoryTransport(env.name), storage)


def sample_records(ticker: str = "KXBTCD-26JUL2317-T118999.99", base: int = T0, n: int = 3) -> list[Record]:
    out: list[Record] = [
        OrderbookSnapshot(ts=base, received_at=base + 2 * MS, ticker=ticker, yes=((4000, 100), (4100, 250)),
                          no=((5000, 300),), sid=3, seq=1),
    ]
    for i in range(n):
        out.append(Trade(ts=base + (i + 1) * 1000 * MS, received_at=base + (i + 1) * 1000 * MS + 3 * MS,
                         ticker=ticker, trade_id=f"{ticker}-t{i}", price=9990 if i == 0 else 4100 + i, size=11 + i,
                         side="yes" if i % 2 == 0 else "no", sid=1, seq=i + 1))
    out.append(OrderbookDelta(ts=base + 1500 * MS, received_at=base + 1502 * MS, ticker=ticker, side="yes",
                              price=4100, delta=-50, sid=3, seq=2))
    out.append(Ticker(ts=base + 2500 * MS, received_at=base + 2501 * MS, ticker=ticker, price=4101, yes_bid=4000,
                      yes_ask=4200, yes_bid_size=100, yes_ask_size=None, last_trade_size=11, volume=123_456,
                      open_interest=None, dollar_volume=99, dollar_open_interest=None, sid=2))
    out.append(Lifecycle(ts=base + 4000 * MS, received_at=base + 4001 * MS, ticker=ticker,
                         kind="market_lifecycle_v2", event_type="activated", sid=4, seq=1, open_ts=base))
    return out


def frame_for(record: Record) -> bytes:
    body = msgspec.json.encode({"ticker": record.ticker, "ts": record.ts}).decode()
    return ('{"type":"' + record.TYPE + '",  "sid": ' + str(record.sid) + ', "msg":' + body + "}").encode()


async def publish(env: Environment, transport: Any, records: list[Record], conn: str = "c1", start: int = 0) -> None:
    """Publish each record and a raw frame for it, as the connector does."""
    for n, record in enumerate(records, start=start):
        seq = getattr(record, "seq", None)
        headers = {"received_at": str(record.received_at), "conn": conn, "channel": record.TYPE,
                   "type": record.TYPE, "sid": str(record.sid)}
        if seq is not None:
            headers["seq"] = str(seq)
        await transport.publish(raw_subject(env.name, env.feed, record.TYPE), frame_for(record), headers,
                                msg_id=f"{conn}:{n}")
        await transport.publish(record_subject(env.name, env.feed, record.TYPE, record.ticker), codec.encode(record),
                                {"received_at": str(record.received_at), "conn": conn}, msg_id=f"{conn}:{n}:0")


def consumed(archiver: Archiver) -> int:
    c = archiver.status().counters
    return sum(v for k, v in c.items() if k != "raw")


@contextlib.asynccontextmanager
async def running(archiver: Archiver) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(archiver.run())
    try:
        yield task
    finally:
        if not task.done():
            await archiver.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def archive(env: Environment, backends: Any, records: list[Record], **kwargs: Any) -> Archiver:
    """Publish records (and frames), run an archiver until all are written, stop it."""
    await publish(env, backends.transport, records, **kwargs)
    archiver = Archiver(env, backends)
    async with running(archiver):
        await until(lambda: consumed(archiver) >= len(records) and archiver.status().counters.get("raw", 0)
                    >= len(records))
        await archiver.flush()
    return archiver
