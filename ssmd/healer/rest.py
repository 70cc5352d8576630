"""The healer's reads of ``GET /markets/trades``: every trade of a market (or of all) in a span."""

from __future__ import annotations

from ssmd.clock import Clock
from ssmd.config.model import Environment
from ssmd.kalshi.rest import KalshiRest
from ssmd.kalshi.rest_records import trade_record
from ssmd.records import Trade


class RestTrades:
    def __init__(self, env: Environment, clock: Clock) -> None:
        from ssmd.secmaster.fetch import rest_url

        self.clock = clock
        self.rest = KalshiRest(rest_url(env), requests_per_second=env.healer.requests_per_second)

    async def fetch(self, ticker: str | None, min_ts: int, max_ts: int) -> list[Trade]:
        out: list[Trade] = []
        async for page in self.rest.trade_pages(ticker=ticker, min_ts=min_ts, max_ts=max_ts):
            now = self.clock.now_ns()
            out.extend(trade_record(t, now) for t in page)
        return out

    async def close(self) -> None:
        await self.rest.close()
