"""``DegradingCache``: callers keep working while the cache is down.

When the inner cache fails (``CacheError`` or a connection error), reads return nothing
(``None``, empty), writes are skipped, ``degraded`` turns true, ``last_error`` says why and
the ``ssmd_cache_degraded`` gauge is 1. While degraded, calls bypass the backend and try it
again at most every ``retry_after`` seconds (doubling to ``max_retry_after``); the first
call that succeeds, or ``check()``, ends the degraded state. Misuse (a wrong value type)
is not an outage and still raises.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from ssmd.errors import CacheError
from ssmd.log import get_logger
from ssmd.metrics import CACHE_DEGRADED, CIRCUIT_BREAKER_OPEN
from ssmd.middleware.cache.base import Cache

T = TypeVar("T")
_log = get_logger("cache")


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, CacheError):
        return exc.retryable
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


class DegradingCache:
    def __init__(
        self,
        inner: Cache,
        *,
        retry_after: float = 1.0,
        max_retry_after: float = 15.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self._now = now
        self._degraded = False
        self._delay = retry_after
        self._next_try = 0.0
        self.last_error: str | None = None

    @property
    def degraded(self) -> bool:
        return self._degraded

    def _fail(self, exc: BaseException) -> None:
        self.last_error = str(exc) or type(exc).__name__
        if not self._degraded:
            self._degraded = True
            self._delay = self._retry_after
            CACHE_DEGRADED.set(1)
            CIRCUIT_BREAKER_OPEN.labels("cache").set(1)
            _log.warning("cache unavailable, bypassing it", error=self.last_error)
        else:
            self._delay = min(self._delay * 2, self._max_retry_after)
        self._next_try = self._now() + self._delay

    def _recover(self) -> None:
        self._degraded = False
        self._delay = self._retry_after
        CACHE_DEGRADED.set(0)
        CIRCUIT_BREAKER_OPEN.labels("cache").set(0)
        _log.info("cache available again")

    async def _call(self, fn: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self._degraded and self._now() < self._next_try:
            return fallback
        try:
            result = await fn()
        except Exception as exc:
            if not _is_outage(exc):
                raise
            self._fail(exc)
            return fallback
        if self._degraded:
            self._recover()
        return result

    async def check(self) -> bool:
        """Ping the backend now; ends the degraded state when it answers. True if up."""
        try:
            await self.inner.ping()
        except Exception as exc:
            if not _is_outage(exc):
                raise
            self._fail(exc)
            return False
        if self._degraded:
            self._recover()
        return True

    async def connect(self) -> None:
        try:
            await self.inner.connect()
        except Exception as exc:
            if not _is_outage(exc):
                raise
            self._fail(exc)

    async def close(self) -> None:
        try:
            await self.inner.close()
        except Exception as exc:
            if not _is_outage(exc):
                raise

    async def ping(self) -> bool:
        return await self.check()

    async def get(self, key: str) -> str | None:
        return await self._call(lambda: self.inner.get(key), None)

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        await self._call(lambda: self.inner.set(key, value, ttl=ttl), None)

    async def delete(self, *keys: str) -> int:
        return await self._call(lambda: self.inner.delete(*keys), 0)

    async def mset(self, values: Mapping[str, str]) -> None:
        await self._call(lambda: self.inner.mset(values), None)

    async def keys(self, prefix: str) -> list[str]:
        return await self._call(lambda: self.inner.keys(prefix), [])

    async def hget(self, key: str, field: str) -> str | None:
        return await self._call(lambda: self.inner.hget(key, field), None)

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        return await self._call(lambda: self.inner.hmget(key, fields), [None] * len(fields))

    async def hset(self, key: str, values: Mapping[str, str]) -> None:
        await self._call(lambda: self.inner.hset(key, values), None)

    async def hgetall(self, key: str) -> dict[str, str]:
        return await self._call(lambda: self.inner.hgetall(key), {})

    async def hdel(self, key: str, *fields: str) -> int:
        return await self._call(lambda: self.inner.hdel(key, *fields), 0)

    async def sadd(self, key: str, *members: str) -> int:
        return await self._call(lambda: self.inner.sadd(key, *members), 0)

    async def srem(self, key: str, *members: str) -> int:
        return await self._call(lambda: self.inner.srem(key, *members), 0)

    async def smembers(self, key: str) -> builtins.set[str]:
        return await self._call(lambda: self.inner.smembers(key), builtins.set())

    async def zadd(self, key: str, scores: Mapping[str, float]) -> int:
        return await self._call(lambda: self.inner.zadd(key, scores), 0)

    async def zrangebyscore(self, key: str, low: float, high: float) -> list[tuple[str, float]]:
        return await self._call(lambda: self.inner.zrangebyscore(key, low, high), [])

    async def zrem(self, key: str, *members: str) -> int:
        return await self._call(lambda: self.inner.zrem(key, *members), 0)
