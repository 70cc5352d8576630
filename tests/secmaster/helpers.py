"""Builders shared by the secmaster tests."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from ssmd.clock import ManualClock
from ssmd.config.model import Environment
from ssmd.middleware.factory import Backends
from ssmd.records import Lifecycle
from ssmd.secmaster.model import SecMarket, decode, expiration_ns
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator
from ssmd.subjects import cache_key


def market(ticker: str = "KXBTCD-26JUL2317-T118999.99", **fields: Any) -> SecMarket:
    base: dict[str, Any] = {
        "event_ticker": ticker.rsplit("-", 1)[0],
        "series_ticker": ticker.split("-", 1)[0],
        "category": "Crypto",
        "title": "Bitcoin above $118,999.99?",
        "status": "active",
        "open_time": "2026-07-23T16:00:00Z",
        "close_time": "2026-07-23T21:00:00Z",
        "expected_expiration_time": "2026-07-23T21:05:00Z",
    }
    base.update(fields)
    return SecMarket(ticker=ticker, **base)


def lifecycle(ticker: str, event_type: str, ts: int = 1_784_840_400_000_000_000, **fields: Any) -> Lifecycle:
    metadata = fields.pop("metadata", None)
    return Lifecycle(
        ts=ts, received_at=ts, ticker=ticker, kind="market_lifecycle_v2", event_type=event_type,
        sid=1, seq=1, metadata=None if metadata is None else msgspec.json.encode(metadata).decode(), **fields,
    )


def sim_settings(markets: int = 40) -> SimSettings:
    """A quiet simulator whose clock stands still: no market opens or closes by time mid-test."""
    return SimSettings(markets=markets, rate=0, lifecycle_interval=0, clock=ManualClock(start_ns=time.time_ns()))


def quiet(sim: Simulator) -> Simulator:
    """Apply the simulator's time-based opens and closes now, so later syncs see only our changes."""
    sim.engine.advance(sim.settings.clock.now_ns())
    return sim


async def check_layout(env: Environment, backends: Backends, sim: Simulator) -> None:
    universe = {t: m for t, m in sim.engine.universe.markets.items() if not m.mve}
    stored = await backends.cache.hgetall(cache_key(env.name, "secmaster", "markets"))
    assert set(stored) == set(universe)
    markets = {t: decode(v) for t, v in stored.items()}
    for ticker, m in markets.items():
        assert m.status == universe[ticker].status
        assert m.series_ticker == universe[ticker].series
        assert m.category == sim.engine.universe.series[m.series_ticker].category != ""
    categories = {m.category for m in markets.values()}
    for category in categories:
        members = await backends.cache.smembers(cache_key(env.name, "secmaster", "markets", "by_category", category))
        assert members == {t for t, m in markets.items() if m.category == category}
    expiring = await backends.cache.zrangebyscore(cache_key(env.name, "secmaster", "markets", "expiring"), 0, 1e12)
    assert {t: s for t, s in expiring} == pytest.approx({t: expiration_ns(m) / 1e9 for t, m in markets.items()})
    last = msgspec.json.decode(await backends.cache.get(cache_key(env.name, "secmaster", "last_sync")))
    assert last["total"] == len(universe)
