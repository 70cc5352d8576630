"""A real Gateway on the memory transport, and real websockets clients against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect

from ssmd import codec
from ssmd.clock import Clock, SystemClock, rfc3339
from ssmd.config.model import Environment
from ssmd.gateway import Gateway
from ssmd.middleware.factory import Backends, open_backends
from ssmd.records import Record
from ssmd.subjects import record_subject

TIMEOUT = 10.0


def make_env(tmp_path: Path, keys: dict[str, Any] | None = None, **gateway: Any) -> Environment:
    return msgspec.convert({
        "name": "gwtest", "feed": "kalshi", "schema": "trade:v1",
        "transport": {"type": "memory"},
        "storage": {"type": "local", "path": str(tmp_path / "data"),
                    "buckets": {"raw": "raw", "normalized": "normalized"}},
        "cache": {"type": "memory"}, "journal": {"type": "memory"},
        "gateway": {"host": "127.0.0.1", "port": 0, **gateway},
        "keys": keys or {},
    }, Environment)


class Harness:
    def __init__(self, env: Environment, backends: Backends, gateway: Gateway, url: str) -> None:
        self.env = env
        self.backends = backends
        self.gateway = gateway
        self.url = url
        self.http = url.replace("ws://", "http://").removesuffix("/v1/stream")

    async def publish(self, *records: Record) -> None:
        for r in records:
            await self.backends.transport.publish(record_subject(self.env.name, self.env.feed, r.TYPE, r.ticker),
                                                  codec.encode(r))

    async def known(self, *records: Record) -> None:
        """Publish ``records`` and wait until the gateway has applied them."""
        async with self.client("?symbols=*") as watcher:
            await recv(watcher)
            await self.publish(*records)
            last = records[-1]
            await recv_until(watcher, lambda m: m["type"] == last.TYPE and m["ticker"] == last.ticker
                             and m["ts"] == rfc3339(last.ts))

    def client(self, query: str = "", **kwargs: Any) -> Any:
        return connect(self.url + query, open_timeout=TIMEOUT, **kwargs)


@asynccontextmanager
async def running(env: Environment, clock: Clock | None = None) -> AsyncIterator[Harness]:
    backends = await open_backends(env)
    gw = Gateway(env, backends, clock=clock or SystemClock())
    task = asyncio.create_task(gw.run())
    try:
        url = await asyncio.wait_for(gw.ready(), TIMEOUT)
        yield Harness(env, backends, gw, url)
    finally:
        await asyncio.wait_for(gw.stop(), TIMEOUT)
        await asyncio.wait_for(task, TIMEOUT)
        await backends.close()


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(make_env(tmp_path)) as h:
        yield h


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return msgspec.json.decode(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def recv_until(ws: ClientConnection, pred: Callable[[dict[str, Any]], bool],
                     limit: int = 10_000) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read messages until one matches ``pred``; returns it and the ones before."""
    seen = []
    for _ in range(limit):
        msg = await recv(ws)
        if pred(msg):
            return msg, seen
        seen.append(msg)
    raise AssertionError(f"no matching message in {limit}")


async def send(ws: ClientConnection, obj: Any) -> None:
    await ws.send(msgspec.json.encode(obj).decode())
