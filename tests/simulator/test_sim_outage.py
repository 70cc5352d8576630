"""The exchange keeps trading without clients: with nobody connected, and through an
outage that drops every connection and refuses upgrades (503) until it ends."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ssmd.simulator import Simulator
from tests.simulator.client import Client
from tests.simulator.test_sim_rest_data import all_trades
from tests.waiting import until


async def test_markets_trade_while_no_client_is_connected(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(rate=2000) as sim:
        assert not sim.conns
        await until(lambda: len(sim.trades()) >= 20, what="trades with no client connected")


async def test_outage_drops_clients_refuses_upgrades_and_trades_on(sim: Simulator, client: Client) -> None:
    sim.bucket.capacity = sim.bucket.tokens = 1e9
    await client.subscribe(["trade"])
    sim.pump_now(300)
    seen = {f["msg"]["trade_id"] for f in await client.barrier() if f.get("type") == "trade"}
    assert await sim.outage(60) == 1
    with pytest.raises(ConnectionClosed):
        await client.recv()
    with pytest.raises(InvalidStatus) as refused:
        await Client.open(sim.ws_url)
    assert refused.value.response.status_code == 503 and sim.in_outage()
    sim.pump_now(300)  # the exchange trades on
    during = [t.trade_id for t in sim.trades() if t.trade_id not in seen]
    assert during
    assert {t["trade_id"] for t in await all_trades(sim, limit=1000)} == seen | set(during)
    sim.end_outage()
    again = await Client.open(sim.ws_url)
    assert await again.subscribe(["trade"]) == [1]
    await again.close()


async def test_outage_ends_by_itself(sim: Simulator) -> None:
    await sim.outage(0.2)
    assert sim.in_outage()
    await until(lambda: not sim.in_outage(), timeout=5, what="the outage to end")
    c = await Client.open(sim.ws_url)
    await c.close()
