"""In-memory cache for tests and single-process runs; same semantics as Redis."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ssmd.errors import CacheError


def _wrong_type(key: str) -> CacheError:
    return CacheError(f"cache: key {key!r} holds another kind of value", retryable=False)


class MemoryCache:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, Any] = {}
        self._expires: dict[str, float] = {}
        self._now = now

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    def _live(self, key: str) -> Any:
        deadline = self._expires.get(key)
        if deadline is not None and deadline <= self._now():
            self._data.pop(key, None)
            del self._expires[key]
        return self._data.get(key)

    def _typed(self, key: str, kind: type, create: bool) -> Any:
        value = self._live(key)
        if value is None:
            if not create:
                return None
            value = self._data[key] = kind()
        elif type(value) is not kind:
            raise _wrong_type(key)
        return value

    # -- strings -----------------------------------------------------------------------
    async def get(self, key: str) -> str | None:
        value = self._live(key)
        if value is not None and not isinstance(value, str):
            raise _wrong_type(key)
        return value

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        self._data[key] = value
        if ttl is not None:
            self._expires[key] = self._now() + ttl
        else:
            self._expires.pop(key, None)

    async def delete(self, *keys: str) -> int:
        n = 0
        for key in keys:
            if self._live(key) is not None:
                n += 1
            self._data.pop(key, None)
            self._expires.pop(key, None)
        return n

    async def mset(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            await self.set(key, value)

    async def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in list(self._data) if k.startswith(prefix) and self._live(k) is not None)

    # -- hashes ------------------------------------------------------------------------
    async def hget(self, key: str, field: str) -> str | None:
        h = self._typed(key, dict, False)
        return None if h is None else h.get(field)

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        h = self._typed(key, dict, False) or {}
        return [h.get(f) for f in fields]

    async def hset(self, key: str, values: Mapping[str, str]) -> None:
        if values:
            self._typed(key, dict, True).update(values)

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._typed(key, dict, False) or {})

    async def hdel(self, key: str, *fields: str) -> int:
        h = self._typed(key, dict, False)
        if h is None:
            return 0
        n = sum(1 for f in fields if h.pop(f, None) is not None)
        if not h:
            self._data.pop(key, None)
        return n

    # -- sets --------------------------------------------------------------------------
    async def sadd(self, key: str, *members: str) -> int:
        if not members:
            return 0
        s = self._typed(key, builtins.set, True)
        before = len(s)
        s.update(members)
        return len(s) - before

    async def srem(self, key: str, *members: str) -> int:
        s = self._typed(key, builtins.set, False)
        if s is None:
            return 0
        before = len(s)
        s.difference_update(members)
        if not s:
            self._data.pop(key, None)
        return before - len(s)

    async def smembers(self, key: str) -> builtins.set[str]:
        return builtins.set(self._typed(key, builtins.set, False) or ())

    # -- sorted sets -------------------------------------------------------------------
    async def zadd(self, key: str, scores: Mapping[str, float]) -> int:
        if not scores:
            return 0
        z = self._typed(key, _ZSet, True)
        added = sum(1 for m in scores if m not in z)
        z.update({m: float(s) for m, s in scores.items()})
        return added

    async def zrangebyscore(self, key: str, low: float, high: float) -> list[tuple[str, float]]:
        z = self._typed(key, _ZSet, False) or {}
        return sorted(((m, s) for m, s in z.items() if low <= s <= high), key=lambda p: (p[1], p[0]))

    async def zrem(self, key: str, *members: str) -> int:
        z = self._typed(key, _ZSet, False)
        if z is None:
            return 0
        n = sum(1 for m in members if z.pop(m, None) is not None)
        if not z:
            self._data.pop(key, None)
        return n


class _ZSet(dict[str, float]):
    """A sorted set (member -> score); its own type so a hash is never taken for one."""
