"""Redis cache (redis.asyncio). Connection failures become retryable ``CacheError``s, which
``DegradingCache`` turns into a bypass; misuse (wrong type, not an integer) is not retryable.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions as rexc

from ssmd.errors import CacheError

T = TypeVar("T")
_GLOB = re.compile(r"([*?\[\]\\])")
_USERINFO = re.compile(r"//[^@/]*@")


class RedisCache:
    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self._where = _USERINFO.sub("//****@", url)
        self._timeout = timeout
        self._r: Any = None

    def _client(self) -> Any:
        if self._r is None:
            self._r = aioredis.from_url(
                self.url, decode_responses=True, socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout, retry_on_timeout=False, health_check_interval=0,
            )
        return self._r

    async def _do(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except rexc.ResponseError as exc:
            raise CacheError(f"cache: {exc}", retryable=False) from None
        except (rexc.RedisError, OSError) as exc:
            raise CacheError(f"cache: redis at {self._where} unavailable: {type(exc).__name__}: {exc}") from None

    async def connect(self) -> None:
        await self.ping()

    async def close(self) -> None:
        if self._r is not None:
            client, self._r = self._r, None
            try:
                await client.aclose()
            except (rexc.RedisError, OSError):
                pass

    async def ping(self) -> bool:
        return bool(await self._do(self._client().ping()))

    async def get(self, key: str) -> str | None:
        return await self._do(self._client().get(key))

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        await self._do(self._client().set(key, value, px=None if ttl is None else max(1, int(ttl * 1000))))

    async def delete(self, *keys: str) -> int:
        return int(await self._do(self._client().delete(*keys))) if keys else 0

    async def mset(self, values: Mapping[str, str]) -> None:
        if values:
            await self._do(self._client().mset(dict(values)))

    async def keys(self, prefix: str) -> list[str]:
        pattern = _GLOB.sub(r"\\\1", prefix) + "*"

        async def scan() -> list[str]:
            return sorted([k async for k in self._client().scan_iter(match=pattern, count=1000)])

        return await self._do(scan())

    async def hget(self, key: str, field: str) -> str | None:
        return await self._do(self._client().hget(key, field))

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        return list(await self._do(self._client().hmget(key, list(fields)))) if fields else []

    async def hset(self, key: str, values: Mapping[str, str]) -> None:
        if values:
            await self._do(self._client().hset(key, mapping=dict(values)))

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(await self._do(self._client().hgetall(key)))

    async def hdel(self, key: str, *fields: str) -> int:
        return int(await self._do(self._client().hdel(key, *fields))) if fields else 0

    async def sadd(self, key: str, *members: str) -> int:
        return int(await self._do(self._client().sadd(key, *members))) if members else 0

    async def srem(self, key: str, *members: str) -> int:
        return int(await self._do(self._client().srem(key, *members))) if members else 0

    async def smembers(self, key: str) -> builtins.set[str]:
        return builtins.set(await self._do(self._client().smembers(key)))

    async def zadd(self, key: str, scores: Mapping[str, float]) -> int:
        return int(await self._do(self._client().zadd(key, dict(scores)))) if scores else 0

    async def zrangebyscore(self, key: str, low: float, high: float) -> list[tuple[str, float]]:
        rows = await self._do(self._client().zrangebyscore(key, low, high, withscores=True))
        return [(str(m), float(s)) for m, s in rows]

    async def zrem(self, key: str, *members: str) -> int:
        return int(await self._do(self._client().zrem(key, *members))) if members else 0
