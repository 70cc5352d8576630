"""The secmaster's cache layout (ARCHITECTURE.md), read and written through the Cache protocol.

* ``{env}:secmaster:markets`` — hash, ticker → market JSON (``SecMarket``)
* ``{env}:secmaster:markets:by_category:{category}`` — set of tickers
* ``{env}:secmaster:markets:expiring`` — sorted set, ticker scored by expiration (Unix s)
* ``{env}:secmaster:last_sync`` — JSON summary of the last successful sync
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from ssmd.log import get_logger
from ssmd.middleware.cache.base import Cache
from ssmd.secmaster import model
from ssmd.secmaster.diff import Change
from ssmd.secmaster.model import SecMarket
from ssmd.subjects import cache_key

log = get_logger("secmaster")


class MarketStore:
    def __init__(self, env: str, cache: Cache) -> None:
        self.env = env
        self.cache = cache
        self.markets_key = cache_key(env, "secmaster", "markets")
        self.expiring_key = cache_key(env, "secmaster", "markets", "expiring")
        self.last_sync_key = cache_key(env, "secmaster", "last_sync")

    def category_key(self, category: str) -> str:
        return cache_key(self.env, "secmaster", "markets", "by_category", category)

    async def load(self) -> dict[str, SecMarket]:
        """Every stored market; an entry that does not decode is skipped and logged."""
        out: dict[str, SecMarket] = {}
        for ticker, text in (await self.cache.hgetall(self.markets_key)).items():
            try:
                out[ticker] = model.decode(text)
            except msgspec.DecodeError as exc:
                log.warning("unreadable market in cache; ignored", ticker=ticker, error=str(exc))
        return out

    async def get(self, ticker: str) -> SecMarket | None:
        text = await self.cache.hget(self.markets_key, ticker)
        return None if text is None else model.decode(text)

    async def tickers_in_category(self, category: str) -> set[str]:
        return await self.cache.smembers(self.category_key(category))

    async def expiring_between(self, low_s: float, high_s: float) -> list[tuple[str, float]]:
        return await self.cache.zrangebyscore(self.expiring_key, low_s, high_s)

    async def last_sync(self) -> dict[str, Any] | None:
        text = await self.cache.get(self.last_sync_key)
        if text is None:
            return None
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return None
        return value if isinstance(value, dict) else None

    async def set_last_sync(self, summary: dict[str, Any]) -> None:
        await self.cache.set(self.last_sync_key, msgspec.json.encode(summary).decode())

    async def write(self, changes: list[Change], *, rewrite: dict[str, SecMarket] | None = None) -> None:
        """Apply ``changes`` to every key. ``rewrite`` (a whole market set) is written in full
        as well, which repairs a cache that drifted (e.g. was down during a write)."""
        upserts: dict[str, SecMarket] = dict(rewrite or {})
        removed: list[SecMarket] = []
        leave: dict[str, set[str]] = defaultdict(set)
        for change in changes:
            if change.type == "market_removed":
                if change.market is not None:
                    removed.append(change.market)
                continue
            if change.market is not None:
                upserts[change.ticker] = change.market
            moved = change.changes.get("category")
            if moved is not None and moved.old:
                leave[str(moved.old)].add(change.ticker)
        if upserts:
            await self.cache.hset(self.markets_key, {t: model.encode(m) for t, m in upserts.items()})
            join: dict[str, list[str]] = defaultdict(list)
            scores: dict[str, float] = {}
            for ticker, market in upserts.items():
                if market.category:
                    join[market.category].append(ticker)
                expires = model.expiration_ns(market)
                if expires is not None:
                    scores[ticker] = expires / 1e9
            for category, tickers in join.items():
                await self.cache.sadd(self.category_key(category), *tickers)
            if scores:
                await self.cache.zadd(self.expiring_key, scores)
        for category, leaving in leave.items():
            await self.cache.srem(self.category_key(category), *leaving)
        if removed:
            await self.cache.hdel(self.markets_key, *(m.ticker for m in removed))
            await self.cache.zrem(self.expiring_key, *(m.ticker for m in removed))
            by_category: dict[str, list[str]] = defaultdict(list)
            for market in removed:
                if market.category:
                    by_category[market.category].append(market.ticker)
            for category, members in by_category.items():
                await self.cache.srem(self.category_key(category), *members)
