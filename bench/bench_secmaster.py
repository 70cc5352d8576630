"""Secmaster full sync from the simulator, paced like the real API (Basic tier: 20 reads/s).

Figures: wall time of a full sync of 50,000 markets (5,000 with --quick) against the floor
the rate limit imposes, and the sync's throughput outside rate-limit waits (REST, decode,
diff, cache, journal, Parquet history on the embedded backends) against a bare aiohttp GET
+ msgspec decode of the same pages, measured in the same run on the same server.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from common import Result

from ssmd.config.load import load_environment
from ssmd.config.model import Buckets, CacheConfig, JournalConfig, StorageConfig
from ssmd.kalshi.rest import KalshiRest, _EventsPage, _MarketsPage, _SeriesPage
from ssmd.middleware.factory import open_backends
from ssmd.secmaster.service import SecmasterService
from ssmd.simulator import SimSettings, Simulator

READS_PER_SECOND = 20.0
"""Basic tier: 200 read tokens/s at 10 tokens per request."""


async def _ceiling(url: str) -> tuple[float, int]:
    """Seconds spent in GET + decode for the same requests a full sync makes, and markets read."""
    busy = 0.0
    markets = 0
    decoders = {k: msgspec.json.Decoder(k) for k in (_SeriesPage, _EventsPage, _MarketsPage)}
    async with aiohttp.ClientSession() as session:
        for path, limit, kind in (("/series", None, _SeriesPage), ("/events", 200, _EventsPage),
                                  ("/markets", 1000, _MarketsPage)):
            cursor = ""
            while True:
                await asyncio.sleep(1.0 / READS_PER_SECOND)  # stay inside the server's budget, untimed
                params = {"cursor": cursor} if cursor else {}
                if limit:
                    params["limit"] = str(limit)
                if kind is _MarketsPage:
                    params["mve_filter"] = "exclude"
                start = time.perf_counter()
                async with session.get(url + path, params=params) as resp:
                    body = await resp.read()
                page = decoders[kind].decode(body)
                busy += time.perf_counter() - start
                if kind is _MarketsPage:
                    markets += len(page.markets or [])
                cursor = getattr(page, "cursor", None) or ""
                if not cursor:
                    break
    return busy, markets


def _parquet_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


async def _bench(n: int) -> list[Result]:
    settings = SimSettings(markets=n, rate=0, lifecycle_interval=0, rest_tokens_per_second=200.0,
                           rest_bucket=200.0, rest_cost=10.0)
    with tempfile.TemporaryDirectory() as folder:
        env = msgspec.structs.replace(
            load_environment("kalshi-local"),
            storage=StorageConfig(type="local", path=folder, buckets=Buckets(raw="raw", normalized="normalized")),
            cache=CacheConfig(type="local"), journal=JournalConfig(type="file"),
        )
        async with Simulator(settings) as sim, await open_backends(env) as backends:
            rest = KalshiRest(sim.rest_url, requests_per_second=READS_PER_SECOND)
            service = SecmasterService(env, backends, rest=rest)
            start = time.perf_counter()
            summary = await service.sync()
            wall = time.perf_counter() - start
            waited = rest.stats.waited_seconds
            requests = rest.stats.requests
            await asyncio.sleep(2.0)  # let the server's bucket refill before the bare run
            busy, read = await _ceiling(sim.rest_url)
            start = time.perf_counter()
            again = await service.sync(full=False)
            incremental = time.perf_counter() - start
            await service.close()
            size = await asyncio.to_thread(_parquet_bytes, Path(folder))
    assert summary.total == read, (summary.total, read)
    outside = wall - waited
    label = f"{summary.total // 1000}k markets"
    return [
        Result(f"secmaster full sync, {label}, {READS_PER_SECOND:.0f} req/s", wall, "s",
               requests / READS_PER_SECOND, f"rate-limit floor ({requests} requests)", higher_is_better=False),
        Result(f"secmaster sync work outside rate-limit waits ({outside:.2f} s of {wall:.2f} s)",
               summary.total / outside, "markets/s", read / busy, "aiohttp GET + msgspec decode, same pages"),
        Result(f"secmaster incremental sync, no changes ({again.requests} requests)", incremental, "s",
               goal="< 1 s", higher_is_better=False),
        Result("secmaster history Parquet per market", size / max(1, summary.total), "B/market",
               higher_is_better=False),
    ]


def run(quick: bool = False) -> list[Result]:
    return asyncio.run(_bench(5_000 if quick else 50_000))
