"""A connector run on its own (`ssmd run connector`) follows the secmaster of another
process through the change journal: new markets get subscribed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ssmd.config.model import (
    CacheConfig,
    Endpoints,
    Environment,
    JournalConfig,
    StorageConfig,
    SubscriptionConfig,
)
from ssmd.middleware.factory import open_backends
from ssmd.runtime.app import Runtime
from ssmd.secmaster.service import SecmasterService
from ssmd.simulator import SimSettings, Simulator
from tests.waiting import until


async def test_standalone_connector_subscribes_markets_the_secmaster_adds(tmp_path: Path) -> None:
    async with Simulator(SimSettings(markets=6, rate=0, lifecycle_interval=0)) as sim:
        env = Environment(
            name="follow", feed="kalshi", schema="trade:v1",
            storage=StorageConfig(type="local", path=str(tmp_path)), cache=CacheConfig(type="local"),
            journal=JournalConfig(type="file"), endpoints=Endpoints(ws=sim.ws_url, rest=sim.rest_url),
            subscriptions=SubscriptionConfig(channels=["orderbook_delta"], markets="all"),
        )
        backends = await open_backends(env)
        secmaster = SecmasterService(env, backends)  # "another process": shares only cache and journal
        await secmaster.sync()
        runtime = Runtime(env, backends, components=["connector"], mode="run", scheduler=False, control=False,
                          metrics=False, simulator=False, follow_interval=0.05)
        await runtime.prepare()
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop.wait()))
        try:
            def planned() -> set[str]:
                connector = runtime.supervisor.component("connector")
                return set(connector.planner.markets) if connector is not None else set()

            before = set(secmaster.selected_markets())
            assert before
            await until(lambda: planned() == before, what="the cached markets", timeout=15)
            new = sim.create_event()
            for ticker in new:
                sim.open_now(ticker)
            await secmaster.sync()
            added = set(secmaster.selected_markets()) - before
            assert added and added <= set(new)
            await until(lambda: added <= planned(), what="the new markets from the change journal", timeout=15)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await secmaster.close()
            await backends.close()
