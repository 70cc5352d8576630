"""``ssmd data backfill`` of trades from the simulator's history, paced like the real API.

Figure: trades written per second by a backfill (resolve, cutoff, paged REST through the
paced client, conversion, de-duplication against the archive, Parquet, checkpoints) at the
Basic tier's 20 reads/s. Ceilings, measured in the same run on the same server: a bare
aiohttp loop paced at the same rate over the same pages (GET + msgspec decode only), and
the nominal ceiling of the rate (requests/s x 1,000 trades a page).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from common import Result

from ssmd.backfill import plan
from ssmd.backfill.checkpoint import Checkpoints
from ssmd.backfill.fetch import historical_cutoff, resolve
from ssmd.backfill.run import Request, backfill, plan_jobs
from ssmd.config.model import Environment, StorageConfig
from ssmd.kalshi.marketdata import TRADES_PAGE_MAX, _TradesPage
from ssmd.kalshi.rest import KalshiRest
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.simulator import SimSettings, Simulator

READS_PER_SECOND = 20.0
"""Basic tier: 200 read tokens/s at 10 tokens per request."""
H = 3600 * 10**9


async def _bare(url: str, jobs: list[tuple[str, str, int, int]]) -> tuple[float, int, int]:
    """Seconds, trades and requests of a paced GET + decode loop over the same pages."""
    decoder = msgspec.json.Decoder(_TradesPage)
    trades = requests = 0
    start = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for ticker, tier, lo, hi in jobs:
            path = "/historical/trades" if tier == "historical" else "/markets/trades"
            cursor = ""
            while True:
                t0 = time.perf_counter()
                params = {"ticker": ticker, "min_ts": str(lo), "max_ts": str(hi), "limit": str(TRADES_PAGE_MAX)}
                if cursor:
                    params["cursor"] = cursor
                async with session.get(url + path, params=params) as resp:
                    page = decoder.decode(await resp.read())
                requests += 1
                trades += len(page.trades or [])
                cursor = page.cursor or ""
                await asyncio.sleep(max(0.0, 1.0 / READS_PER_SECOND - (time.perf_counter() - t0)))
                if not cursor:
                    break
    return time.perf_counter() - start, trades, requests


async def _measure(quick: bool) -> list[Result]:
    settings = SimSettings(markets=20, rate=0, lifecycle_interval=0, interleave=False, seed=5, history_hours=72,
                           live_window_hours=24, history_trades=20_000 if quick else 150_000,
                           rest_tokens_per_second=1e9, rest_bucket=1e9)
    async with Simulator(settings) as sim:
        tickers = sorted(t for t, m in sim.engine.universe.markets.items() if not m.mve)
        now = time.time_ns()
        request = Request(start_ns=now - 73 * H, end_ns=now, symbols=tickers, what=("trades",))
        with tempfile.TemporaryDirectory(prefix="ssmd-bench-backfill-") as tmp:
            env = Environment(name="bench", feed="kalshi", schema="trade:v1",
                              storage=StorageConfig(type="local", path=tmp))
            storage = FsspecStorage.local(Path(tmp))
            async with KalshiRest(sim.rest_url, requests_per_second=READS_PER_SECOND) as rest:
                summary = await backfill(env, storage, rest, request)
            async with KalshiRest(sim.rest_url, requests_per_second=1e6, burst=1e6) as rest:
                targets = await resolve(rest, symbols=tickers, series=None, event=None, start_ns=request.start_ns,
                                        end_ns=request.end_ns, need_series=False)
                cutoff = await historical_cutoff(rest)
            jobs, _ = plan_jobs(env, targets, request, cutoff, Checkpoints(env, storage))
        pages = [(j.target.ticker, j.tier, plan.seconds_floor(j.chunk[0]), plan.seconds_ceil(j.chunk[1]))
                 for j in jobs]
        seconds, trades, requests = await _bare(sim.rest_url, pages)
    written = summary.rows["trades"]
    figure = written / summary.seconds
    goal = f"{written:,} trades, {summary.requests} requests vs {requests}"
    return [
        Result("backfill trades, 20 req/s", figure, "rows/s", ceiling=trades / seconds,
               ceiling_name="paced aiohttp GET+decode, same pages", goal=goal),
        Result("backfill trades vs rate x page", figure, "rows/s", ceiling=READS_PER_SECOND * TRADES_PAGE_MAX,
               ceiling_name="20 req/s x 1000 trades/page", goal="pages are per market-day, rarely full"),
    ]


def run(quick: bool = False) -> list[Result]:
    return asyncio.run(_measure(quick))


if __name__ == "__main__":
    import sys

    for r in run(quick="--quick" in sys.argv):
        ratio = "-" if r.ratio is None else f"{r.ratio:.0%}"
        print(f"{r.name}: {r.value:,.0f} {r.unit}  ceiling {r.ceiling or 0:,.0f} ({r.ceiling_name})  ratio {ratio}"
              f"  [{r.goal}]")
