"""One contract for every cache: memory, the local SQLite file and Redis."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ssmd.errors import CacheError


@pytest.fixture(params=["memory", "local", "redis", "degrading-redis"])
async def kv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        from ssmd.middleware.cache.memory import MemoryCache

        c: Any = MemoryCache()
    elif request.param == "local":
        from ssmd.middleware.cache.local import LocalCache

        c = LocalCache(tmp_path / "cache.sqlite")
    else:
        from ssmd.middleware.cache.degrading import DegradingCache
        from ssmd.middleware.cache.redis import RedisCache

        c = RedisCache(request.getfixturevalue("redis_server").url)
        if request.param == "degrading-redis":  # the wrapper open_backends hands out is transparent
            c = DegradingCache(c)
    await c.connect()
    yield c
    await c.close()


@pytest.fixture
def env() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


async def test_strings_and_ttl(kv: Any, env: str) -> None:
    assert await kv.ping()
    assert await kv.get(f"{env}:day:current") is None
    await kv.set(f"{env}:day:current", "2026-07-19")
    assert await kv.get(f"{env}:day:current") == "2026-07-19"
    await kv.set(f"{env}:lock", "me", ttl=0.2)
    assert await kv.get(f"{env}:lock") == "me"
    deadline = asyncio.get_running_loop().time() + 10
    while await kv.get(f"{env}:lock") is not None:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert f"{env}:lock" not in await kv.keys(f"{env}:")


async def test_delete(kv: Any, env: str) -> None:
    await kv.set(f"{env}:k", "first")
    await kv.set(f"{env}:n", "42")
    assert await kv.delete(f"{env}:k", f"{env}:n", f"{env}:missing") == 2
    assert await kv.get(f"{env}:k") is None


async def test_mset_and_keys_by_prefix(kv: Any, env: str) -> None:
    await kv.mset({f"{env}:a": "1", f"{env}:b": "2"})
    assert [await kv.get(f"{env}:{k}") for k in ("a", "nope", "b")] == ["1", None, "2"]
    await kv.hset(f"{env}:secmaster:markets", {"T": "{}"})
    assert await kv.keys(f"{env}:") == sorted([f"{env}:a", f"{env}:b", f"{env}:secmaster:markets"])
    assert await kv.keys(f"{env}:secmaster") == [f"{env}:secmaster:markets"]


async def test_hashes(kv: Any, env: str) -> None:
    key = f"{env}:secmaster:markets"
    await kv.hset(key, {"KXBTCD-26JUL2317-T118999.99": '{"status":"active"}', "B": "2"})
    await kv.hset(key, {"B": "3"})
    assert await kv.hget(key, "KXBTCD-26JUL2317-T118999.99") == '{"status":"active"}'
    assert await kv.hget(key, "nope") is None
    many = [f"M{i}" for i in range(1200)]  # more than one SQLite IN list
    await kv.hset(key, {m: str(i) for i, m in enumerate(many) if i % 3 == 0})
    assert await kv.hmget(key, [*many, "B", "nope"]) == [
        *(str(i) if i % 3 == 0 else None for i in range(1200)), "3", None]
    assert await kv.hmget(f"{env}:missing", ["a", "b"]) == [None, None]
    assert await kv.hmget(key, []) == []
    await kv.hdel(key, *many)
    assert await kv.hgetall(key) == {"KXBTCD-26JUL2317-T118999.99": '{"status":"active"}', "B": "3"}
    assert await kv.hdel(key, "B", "nope") == 1
    assert await kv.hgetall(f"{env}:missing") == {}
    assert await kv.hdel(key, "KXBTCD-26JUL2317-T118999.99") == 1
    assert await kv.keys(f"{env}:") == []


async def test_sets(kv: Any, env: str) -> None:
    key = f"{env}:secmaster:markets:by_category:Crypto"
    assert await kv.sadd(key, "A", "B", "A") == 2
    assert await kv.sadd(key, "B", "C") == 1
    assert await kv.smembers(key) == {"A", "B", "C"}
    assert await kv.srem(key, "A", "Z") == 1
    assert await kv.smembers(key) == {"B", "C"}
    assert await kv.smembers(f"{env}:none") == set()


async def test_sorted_sets(kv: Any, env: str) -> None:
    key = f"{env}:secmaster:markets:expiring"
    assert await kv.zadd(key, {"late": 300.0, "early": 100.0, "mid": 200.0}) == 3
    assert await kv.zadd(key, {"mid": 150.0}) == 0
    assert await kv.zrangebyscore(key, 100, 200) == [("early", 100.0), ("mid", 150.0)]
    assert await kv.zrangebyscore(key, -math.inf, math.inf) == [("early", 100.0), ("mid", 150.0), ("late", 300.0)]
    assert await kv.zrem(key, "early", "nope") == 1
    assert [m for m, _ in await kv.zrangebyscore(key, 0, 1000)] == ["mid", "late"]


async def test_wrong_kind_is_an_error_not_an_outage(kv: Any, env: str) -> None:
    await kv.set(f"{env}:s", "x")
    with pytest.raises(CacheError) as info:
        await kv.hset(f"{env}:s", {"f": "v"})
    assert not info.value.retryable
    with pytest.raises(CacheError):
        await kv.sadd(f"{env}:s", "m")
