"""The running secmaster: lifecycle records, the sweep, the connector hook, Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from ssmd import codec
from ssmd.archive import duck
from ssmd.clock import ManualClock
from ssmd.config.model import Environment, MarketSelector, SecmasterConfig, SubscriptionConfig
from ssmd.kalshi.rest import KalshiRest
from ssmd.middleware.factory import Backends, open_backends
from ssmd.middleware.transport.base import StartPosition
from ssmd.secmaster import history
from ssmd.secmaster.model import decode, encode, parse_time_ns
from ssmd.secmaster.service import SecmasterService
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator
from ssmd.subjects import cache_key, journal_topic, record_subject
from tests.secmaster.conftest import make_env
from tests.secmaster.helpers import check_layout, lifecycle, market, quiet
from tests.secmaster.helpers import sim_settings as _sim_settings


def sim_settings() -> SimSettings:
    return _sim_settings(30)


def _rest(url: str) -> KalshiRest:
    return KalshiRest(url, requests_per_second=1000, delays=lambda: iter([0.02] * 100))


class Target:
    """A connector stand-in that records what it was asked to follow."""

    def __init__(self) -> None:
        self.following: set[str] = set()
        self.calls: list[tuple[str, list[str]]] = []
        self.changed = asyncio.Event()

    async def add_markets(self, tickers: list[str]) -> None:
        self.calls.append(("add", tickers))
        self.following.update(tickers)
        self.changed.set()

    def remove_markets(self, tickers: list[str]) -> None:
        self.calls.append(("remove", tickers))
        self.following.difference_update(tickers)
        self.changed.set()

    async def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


async def _journal(backends: Backends, env: Environment) -> list[dict[str, Any]]:
    topic = journal_topic(env.name, "secmaster.changes")
    return [e.data async for e in backends.journal.read(topic, StartPosition.beginning())]


async def test_lifecycle_records_update_the_cache_and_the_journal_between_syncs(env: Environment,
                                                                               backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        await service.close()
    ticker = sorted(t for t, m in service.markets.items() if m.status == "active")[0]
    key = cache_key(env.name, "secmaster", "markets")

    paused = await service.apply_lifecycle(lifecycle(ticker, "deactivated", is_deactivated=True))
    assert paused is not None and paused.type == "market_updated" and paused.source == "lifecycle"
    assert decode(await backends.cache.hget(key, ticker)).status == "inactive"

    await service.apply_lifecycle(lifecycle(ticker, "determined", result="yes", settlement_value=10_000))
    settled = await service.apply_lifecycle(lifecycle(ticker, "settled", settled_ts=1_784_844_600))
    assert settled is not None and settled.type == "market_settled" and settled.result == "yes"
    stored = decode(await backends.cache.hget(key, ticker))
    assert (stored.status, stored.result, stored.settlement_value_dollars) == ("finalized", "yes", "1.0000")
    assert await service.apply_lifecycle(lifecycle(ticker, "settled", settled_ts=1_784_844_600)) is None

    tail = (await _journal(backends, env))[-3:]
    assert [(e["type"], e["ticker"], e["source"]) for e in tail] == [
        ("market_updated", ticker, "lifecycle"), ("market_updated", ticker, "lifecycle"),
        ("market_settled", ticker, "lifecycle"),
    ]
    assert tail[0]["changes"] == {"status": {"old": "active", "new": "inactive"}}
    assert tail[2]["market"]["status"] == "finalized"


async def test_created_market_is_known_at_once_then_completed_from_rest(env: Environment,
                                                                       backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        sim.not_found_window(3600)  # REST does not know the new markets yet
        new = sim.create_event()
        created = lifecycle(new[0], "created", open_ts=1_784_840_400, close_ts=1_784_844_000,
                            metadata={"additional_metadata": {"title": "Fresh", "event_ticker": "EV-NEW"}})
        change = await service.apply_lifecycle(created)
        assert change is not None and change.type == "market_added"
        assert service.markets[new[0]].status == "initialized"
        assert await service.complete_created() == 0  # 404: kept for the next round
        sim.hidden_until.clear()
        assert await service.complete_created() == 1
        await service.close()
    completed = service.markets[new[0]]
    series = sim.engine.universe.markets[new[0]].series
    assert completed.series_ticker == series
    assert completed.category == sim.engine.universe.series[series].category
    assert completed.event_ticker == sim.engine.universe.markets[new[0]].event


async def test_a_record_for_a_market_never_seen_makes_it_fetched(env: Environment, backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        (ticker, *_) = sim.create_event()  # its `created` message never reached the secmaster
        sim.determine(ticker, result="no")
        assert await service.apply_lifecycle(lifecycle(ticker, "determined", result="no")) is None
        assert ticker not in service.markets
        assert await service.complete_created() == 1
        await service.close()
    assert (service.markets[ticker].status, service.markets[ticker].result) == ("determined", "no")
    assert service.markets[ticker].category != ""


async def test_sweep_opens_and_closes_by_time_and_tells_the_connector(tmp_path: Path) -> None:
    env = make_env(tmp_path, subscriptions=SubscriptionConfig(markets=MarketSelector(status=["active"])))
    clock = ManualClock(start_ns=parse_time_ns("2026-07-23T15:00:00Z") or 0)
    target = Target()
    async with await open_backends(env) as backends:
        waiting = market("W-1", status="initialized", open_time="2026-07-23T16:00:00Z",
                         close_time="2026-07-23T21:00:00Z")
        await backends.cache.hset(cache_key(env.name, "secmaster", "markets"), {"W-1": encode(waiting)})
        service = SecmasterService(env, backends, clock=clock, base_url="http://127.0.0.1:9/unused",
                                   connector=target)
        await service.load()
        await service.hook.reset(service.markets)  # type: ignore[union-attr]
        assert target.following == set()
        assert await service.sweep() == []
        clock.advance(3600)
        (opened,) = await service.sweep()
        assert (opened.type, opened.source, opened.changes["status"].new) == ("market_updated", "sweep", "active")
        assert target.following == {"W-1"}
        clock.advance(5 * 3600)
        (closed,) = await service.sweep()
        assert closed.changes["status"].new == "closed"
        assert target.calls == [("add", ["W-1"]), ("remove", ["W-1"])]
        await service.close()


async def test_running_service_follows_lifecycle_from_the_transport(tmp_path: Path) -> None:
    env = make_env(tmp_path, secmaster=SecmasterConfig(refresh_minutes=60))
    target = Target()
    async with Simulator(sim_settings()) as sim, await open_backends(env) as backends:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url), connector=target, sweep_seconds=3600)
        task = asyncio.create_task(service.run())
        await asyncio.wait_for(service.ready.wait(), 10)
        live = {t for t, m in sim.engine.universe.markets.items() if m.status not in ("determined", "finalized")}
        assert target.following == live
        assert service.status().state == "running"
        ticker = sorted(target.following)[0]
        record = lifecycle(ticker, "determined", result="no", settlement_value=0)
        await backends.transport.publish(record_subject(env.name, env.feed, "lifecycle", ticker), codec.encode(record))
        await target.wait_for(lambda: ticker not in target.following)
        assert service.markets[ticker].status == "determined"
        await service.stop()
        await asyncio.wait_for(task, 10)
        assert service.status().state == "stopped"
        assert service.status().counters["lifecycle"] == 1
        con = duck.connect(backends.storage)
        history.register_views(con, env, backends.storage)
        rows = con.execute("SELECT source, status FROM market_history WHERE ticker = ? ORDER BY valid_from",
                           [ticker]).fetchall()
    assert rows == [("sync", "active"), ("lifecycle", "determined")]  # buffered change written at stop


async def test_layout_on_redis(redis_server: Any, tmp_path: Path) -> None:
    env = make_env(tmp_path, cache="redis", cache_url=redis_server.url)
    env = msgspec.structs.replace(env, name=f"r{tmp_path.name[-6:].replace('_', '')}")
    async with Simulator(sim_settings()) as sim, await open_backends(env) as backends:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url), page_limit=9)
        summary = await service.sync()
        await service.close()
        assert summary.added == 30
        await check_layout(env, backends, sim)
        again = SecmasterService(env, backends, base_url=sim.rest_url)
        assert await again.load() == service.markets  # a second process reads what the first stored
        await again.close()


async def test_a_connector_in_another_process_follows_through_the_journal(tmp_path: Path) -> None:
    from ssmd.secmaster.journal import ChangeFollower

    env = make_env(tmp_path, cache="local", journal="file")
    target = Target()
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        async with await open_backends(env) as writer:
            service = SecmasterService(env, writer, rest=_rest(sim.rest_url))
            await service.sync()
            async with await open_backends(env) as reader:  # what the other process opens
                follower = ChangeFollower(env, reader, target)
                await follower.start()
                live = {t for t, m in service.markets.items() if m.status not in ("determined", "finalized")}
                assert target.following == live
                ticker = sorted(live)[0]
                await service.apply_lifecycle(lifecycle(ticker, "determined", result="yes"))
                await service.apply_lifecycle(lifecycle(ticker, "deactivated", is_deactivated=True))
                assert await follower.poll() == 1  # the second record changed nothing: no entry
                assert ticker not in target.following
                assert await follower.poll() == 0
            await service.close()


async def test_uses_the_simulator_the_runtime_passes_in(env: Environment, backends: Backends) -> None:
    from ssmd.config.model import Endpoints
    from ssmd.simulator import ensure_running

    async with ensure_running(env) as (ws, rest):
        passed_in = msgspec.structs.replace(env, endpoints=Endpoints(ws=ws, rest=rest))  # as `ssmd up` does
        service = SecmasterService(passed_in, backends)
        summary = await service.sync()
        await service.close()
    assert env.simulator.enabled
    assert summary.total == summary.added == env.simulator.markets


async def test_a_new_event_announced_live_gives_its_markets_series_and_category(env: Environment,
                                                                              backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        await service.close()
    known = next(iter(service.markets.values()))
    event = msgspec.structs.replace(
        lifecycle("EVNEW-26NOV30", "event_created", metadata={"series_ticker": known.series_ticker, "title": "New"}),
        kind="event_lifecycle")
    assert await service.apply_lifecycle(event) is None
    created = lifecycle("EVNEW-26NOV30-A", "created", open_ts=1_784_840_400, close_ts=1_784_844_000,
                        metadata={"additional_metadata": {"event_ticker": "EVNEW-26NOV30", "title": "A?"}})
    change = await service.apply_lifecycle(created)
    assert change is not None and change.market is not None
    assert (change.market.series_ticker, change.market.category, change.market.event_title) == (
        known.series_ticker, known.category, "New")
