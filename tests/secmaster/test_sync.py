"""Syncs against the real simulator over HTTP: cache layout, journal, failures, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd import metrics
from ssmd.archive import duck
from ssmd.config.model import Environment
from ssmd.errors import TransportError
from ssmd.kalshi.rest import KalshiRest
from ssmd.middleware.factory import Backends, open_backends
from ssmd.middleware.transport.base import StartPosition
from ssmd.secmaster import history
from ssmd.secmaster.model import encode
from ssmd.secmaster.service import SecmasterService
from ssmd.simulator.simulator import Simulator
from ssmd.subjects import cache_key, journal_topic
from tests.secmaster.conftest import make_env
from tests.secmaster.helpers import check_layout, market, quiet, sim_settings


def _active(service: SecmasterService) -> list[str]:
    """Tickers of the open markets, sorted."""
    return sorted(t for t, m in service.markets.items() if m.status == "active")


def _rest(url: str, attempts: int = 8) -> KalshiRest:
    return KalshiRest(url, requests_per_second=1000, attempts=attempts, delays=lambda: iter([0.02] * 100))


async def _journal(backends: Backends, env: Environment) -> list[dict]:
    return [e.data async for e in backends.journal.read(journal_topic(env.name, "secmaster.changes"),
                                                          StartPosition.beginning())]


@pytest.mark.parametrize(("cache", "journal"), [("memory", "memory"), ("local", "file")])
async def test_full_sync_pages_and_stores_the_original_cache_layout(tmp_path: Path, cache: str, journal: str) -> None:
    env = make_env(tmp_path, cache=cache, journal=journal)
    async with Simulator(sim_settings()) as sim, await open_backends(env) as backends:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url), page_limit=7)
        summary = await service.sync()
        await service.close()
        assert (summary.total, summary.added, summary.updated, summary.removed) == (40, 40, 0, 0)
        assert summary.requests >= 40 // 7 + 1 + 2  # market pages, events, series
        await check_layout(env, backends, sim)
        topic = journal_topic(env.name, "secmaster.changes")
        seqs = [e.seq async for e in backends.journal.read(topic, StartPosition.beginning())]
        assert seqs == list(range(1, 41))
        entries = await _journal(backends, env)
        assert sorted(e["ticker"] for e in entries) == sorted(service.markets)
        assert {e["type"] for e in entries} == {"market_added"}
        assert entries[0]["market"]["ticker"] == entries[0]["ticker"]


async def test_second_sync_reports_updates_settlements_and_removals(env: Environment, backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        ghost = market("GONE-26JUL23-X1")
        await backends.cache.hset(cache_key(env.name, "secmaster", "markets"), {ghost.ticker: encode(ghost)})
        await backends.cache.sadd(cache_key(env.name, "secmaster", "markets", "by_category", "Crypto"), ghost.ticker)
        service._loaded = False  # another process wrote the cache: read it again
        tickers = _active(service)
        sim.determine(tickers[0], result="yes")
        sim.settle(tickers[0])
        sim.update_metadata(tickers[1])
        summary = await service.sync()
        await service.close()
    assert (summary.total, summary.added, summary.updated, summary.settled, summary.removed) == (40, 0, 1, 1, 1)
    entries = (await _journal(backends, env))[40:]
    by_type = {e["type"]: e for e in entries}
    assert set(by_type) == {"market_settled", "market_updated", "market_removed"}
    assert by_type["market_settled"]["ticker"] == tickers[0]
    assert by_type["market_settled"]["result"] == "yes"
    assert by_type["market_settled"]["changes"]["status"] == {"old": "active", "new": "finalized"}
    assert by_type["market_updated"]["changes"]["yes_sub_title"]["new"].endswith(" *")
    assert by_type["market_removed"]["ticker"] == ghost.ticker
    assert await backends.cache.hget(cache_key(env.name, "secmaster", "markets"), ghost.ticker) is None
    crypto = await backends.cache.smembers(cache_key(env.name, "secmaster", "markets", "by_category", "Crypto"))
    assert ghost.ticker not in crypto


async def test_429_from_the_exchange_is_backed_off_and_the_sync_completes(env: Environment,
                                                                         backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        sim.rest_fail_next(3, 429)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url), page_limit=10)
        summary = await service.sync()
        await service.close()
    assert summary.total == 40
    assert summary.throttled == 3
    assert service.rest.stats.backoff_seconds > 0


async def test_failed_sync_keeps_the_previous_state_and_reports_the_error(env: Environment,
                                                                         backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url, attempts=3), page_limit=10)
        await service.sync()
        key = cache_key(env.name, "secmaster", "markets")
        before = await backends.cache.hgetall(key)
        last_before = await backends.cache.get(cache_key(env.name, "secmaster", "last_sync"))
        journal_before = await _journal(backends, env)
        errors_before = metrics.SECMASTER_SYNC_ERRORS._value.get()
        sim.determine(sorted(before)[0], result="no")
        sim.rest_fail_next(100, 500)  # every request fails from now on
        with pytest.raises(TransportError, match=r"GET /(series|events|markets): HTTP 500"):
            await service.sync()
        await service.close()
    assert await backends.cache.hgetall(key) == before
    assert await backends.cache.get(cache_key(env.name, "secmaster", "last_sync")) == last_before
    assert await _journal(backends, env) == journal_before
    assert metrics.SECMASTER_SYNC_ERRORS._value.get() == errors_before + 1
    status = service.status()
    assert status.last_error is not None and "HTTP 500" in status.last_error
    assert status.counters["sync_errors"] == 1


async def test_incremental_sync_asks_only_for_updated_markets(env: Environment, backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        ticker = _active(service)[5]
        sim.deactivate(ticker)
        summary = await service.sync(full=False)
        await service.close()
    assert summary.kind == "incremental"
    assert (summary.updated, summary.removed, summary.total) == (1, 0, 40)
    assert service.markets[ticker].status == "inactive"


async def test_history_answers_what_a_market_looked_like_at_a_time(env: Environment, backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        first = await service.sync()
        ticker = _active(service)[2]
        sim.determine(ticker, result="yes")
        second = await service.sync()
        await service.close()
    con = duck.connect(backends.storage)
    assert history.register_views(con, env, backends.storage)
    at = con.execute("SELECT status, result FROM markets_as_of(make_timestamptz(?::BIGINT)) WHERE ticker = ?",
                     [first.finished_at // 1000, ticker]).fetchall()
    now = con.execute("SELECT status, result FROM markets_as_of(make_timestamptz(?::BIGINT)) WHERE ticker = ?",
                      [second.finished_at // 1000, ticker]).fetchall()
    assert at == [("active", "")]
    assert now == [("determined", "yes")]
    rows = con.execute("SELECT count(*), count(*) FILTER (WHERE is_current) FROM market_history").fetchall()
    assert rows == [(41, 40)]
    changed = con.execute("SELECT changed_fields FROM market_history WHERE ticker = ? AND change = 'market_updated'",
                          [ticker]).fetchall()
    assert "status" in changed[0][0] and "result" in changed[0][0]


def test_views_are_empty_not_broken_before_any_sync(env: Environment, tmp_path: Path) -> None:
    from ssmd.middleware.factory import make_storage

    storage = make_storage(env)
    con = duck.connect(storage)
    assert not history.register_views(con, env, storage)
    assert con.execute("SELECT count(*) FROM market_history").fetchall() == [(0,)]


async def test_history_on_memory_storage_through_fsspec(tmp_path: Path) -> None:
    import msgspec

    from ssmd.config.model import StorageConfig

    env = make_env(tmp_path)
    env = msgspec.structs.replace(env, name=f"m{abs(hash(tmp_path)) % 10**8}",
                                  storage=StorageConfig(type="memory", buckets=env.storage.buckets))
    async with Simulator(sim_settings()) as sim, await open_backends(env) as backends:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        await service.close()
        con = duck.connect(backends.storage)
        assert history.register_views(con, env, backends.storage)
        assert con.execute("SELECT count(*) FROM market_history WHERE is_current").fetchall() == [(40,)]
