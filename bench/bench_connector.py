"""Connector: hot path (frame in -> raw + normalized published on the memory bus) next to
the bare msgspec-decode -> Cap'n Proto chain, and reconnect + resubscribe time."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import capnp
import msgspec
from common import Result

from ssmd.clock import SystemClock
from ssmd.config.model import CacheConfig, Environment, JournalConfig, StorageConfig, SubscriptionConfig
from ssmd.connector import Connector, ConnectorSettings
from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.session import Session
from ssmd.connector.stats import Stats
from ssmd.kalshi import wire
from ssmd.kalshi.subscriptions import Limits, Planner
from ssmd.middleware.factory import open_backends
from ssmd.middleware.transport.memory import MemoryTransport
from ssmd.resources import schemas_dir
from ssmd.simulator import SimSettings, Simulator
from ssmd.simulator.engine import MarketEngine
from ssmd.simulator.frames import envelope

CHANNELS = ["ticker", "trade", "orderbook_delta"]
SIDS = {"ticker": 1, "trade": 2, "orderbook_delta": 3}


def make_frames(n: int, markets: int = 50) -> tuple[list[bytes], list[str]]:
    """``n`` realistic data frames (the simulator's mix: book deltas, trades, tickers)
    with per-sid seqs, and the order-book tickers."""
    engine = MarketEngine(7, markets, SystemClock().now_ns())
    engine.advance(SystemClock().now_ns() + 3600 * 10**9)
    seqs = dict.fromkeys(SIDS.values(), 0)
    out: list[bytes] = []
    while len(out) < n:
        for event in engine.generate(1000, SystemClock().now_ns()):
            sid = SIDS[event.channel]
            seq = None
            if event.channel != "ticker":
                seqs[sid] += 1
                seq = seqs[sid]
            out.append(envelope(event.type, sid, seq, event.body))
    return out[:n], [b.market.ticker for b in engine.trading()]


def _acks() -> list[bytes]:
    return [msgspec.json.encode({"id": i, "type": "subscribed", "msg": {"channel": ch, "sid": SIDS[ch]}})
            for i, ch in enumerate(CHANNELS, 1)]


async def _hot_path(frames: list[bytes], tickers: list[str], batch: int = 1024) -> float:
    planner = Planner(CHANNELS, "all", Limits())
    planner.add(tickers)
    transport = MemoryTransport("b", max_age=0)
    session = Session(0, planner)
    session.start(0)
    pipeline = FramePipeline("b", "kalshi", transport, Stats("kalshi"), session, "b-0")
    clock = time.time_ns
    await pipeline.process([(f, clock()) for f in _acks()])
    stamped = [(f, clock()) for f in frames]
    batches = [stamped[i:i + batch] for i in range(0, len(stamped), batch)]
    start = time.perf_counter()
    for chunk in batches:
        await pipeline.process(chunk)
    elapsed = time.perf_counter() - start
    assert pipeline.stats.published > len(frames) and not pipeline.stats.errors, pipeline.stats.errors
    return len(frames) / elapsed


def _bare_chain(frames: list[bytes], publish: bool = False) -> float:
    """What a minimal pipeline must at least do: typed decode, build + serialize Cap'n Proto
    (and, with ``publish``, put the frame and the bytes on the memory bus)."""
    bus = MemoryTransport("b", max_age=0)
    put = bus.publish_nowait
    capnp.remove_import_hook()
    trade = capnp.load(str(schemas_dir() / "trade.capnp")).Trade
    ticker = capnp.load(str(schemas_dir() / "ticker.capnp")).Ticker
    book = capnp.load(str(schemas_dir() / "orderbook.capnp")).OrderbookUpdate
    decoder = msgspec.json.Decoder(wire.Message)  # type: ignore[arg-type]
    start = time.perf_counter()
    for frame in frames:
        msg: Any = decoder.decode(frame)
        m = msg.msg
        if type(msg) is wire.OrderbookDelta:
            out = book.new_message()
            out.ticker = m.market_ticker
            out.seq = msg.seq
            d = out.init("delta")
            d.side = m.side
            d.price = int(m.price_dollars.replace(".", ""))
            d.delta = int(m.delta_fp.replace(".", ""))
        elif type(msg) is wire.Trade:
            out = trade.new_message()
            out.ticker = m.market_ticker
            out.tradeId = m.trade_id
            out.price = int(m.yes_price_dollars.replace(".", ""))
            out.size = int(m.count_fp.replace(".", ""))
            out.side = m.taker_outcome_side
            out.seq = msg.seq
        else:
            out = ticker.new_message()
            out.ticker = m.market_ticker
            out.price = int(m.price_dollars.replace(".", "")) if m.price_dollars else 0
            out.yesBid = int(m.yes_bid_dollars.replace(".", ""))
            out.yesAsk = int(m.yes_ask_dollars.replace(".", ""))
            out.volume = int(m.volume_fp.replace(".", ""))
        out.ts = m.ts_ms
        data = out.to_bytes()
        if publish:
            put("b.kalshi.raw.x", frame)
            put("b.kalshi.x.y", data)
    return len(frames) / (time.perf_counter() - start)


def _env() -> Environment:
    return Environment(
        name="b", feed="kalshi", schema="trade:v1", storage=StorageConfig(type="memory"),
        cache=CacheConfig(type="memory"), journal=JournalConfig(type="memory"),
        subscriptions=SubscriptionConfig(channels=["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"]),
    )


async def _reconnects(drops: int) -> list[float]:
    """Seconds from a server-side drop to every subscription answered again (default backoff)."""
    env = _env()
    settings = SimSettings(markets=40, rate=2000, lifecycle_interval=0)
    async with Simulator(settings) as sim:
        backends = await open_backends(env)
        connector = Connector(env, backends, ws_url=sim.ws_url, markets=sim.trading_tickers()[:20],
                              settings=ConnectorSettings(stale_after=30))
        task = asyncio.create_task(connector.run())
        times: list[float] = []
        try:
            for _ in range(1000):
                if connector.connections:
                    break
                await asyncio.sleep(0.01)
            live = connector.connections[0].live
            await asyncio.wait_for(live.wait(), 10)
            for _ in range(drops):
                start = time.perf_counter()
                await sim.drop_connections(1001, "bench")
                for _ in range(10_000):  # until the client has noticed the drop
                    if not live.is_set():
                        break
                    await asyncio.sleep(0.001)
                await asyncio.wait_for(live.wait(), 30)
                times.append(time.perf_counter() - start)
                await asyncio.sleep(0.05)
        finally:
            await connector.stop()
            await task
            await backends.close()
    return times


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(quick: bool = False) -> list[Result]:
    import logging

    logging.getLogger("ssmd").setLevel(logging.ERROR)
    n = 30_000 if quick else 150_000
    frames, tickers = make_frames(n)
    hot = statistics.median(asyncio.run(_hot_path(frames, tickers)) for _ in range(3))
    bare = statistics.median(_bare_chain(frames) for _ in range(3))
    bare_bus = statistics.median(_bare_chain(frames, publish=True) for _ in range(3))
    drops = asyncio.run(_reconnects(5 if quick else 30))
    return [
        Result("connector hot path (frame -> raw + records on memory bus)", hot, "msg/s", bare,
               "msgspec decode -> capnp bytes only", goal=">= 150k msg/s, >= 40% of ceiling"),
        Result("connector hot path, same figure", hot, "msg/s", bare_bus,
               "bare chain + 2 memory-bus publishes"),
        Result(f"reconnect + resubscribe p99 ({len(drops)} drops)", _p99(drops), "s",
               goal="<= 5 s", higher_is_better=False),
    ]
