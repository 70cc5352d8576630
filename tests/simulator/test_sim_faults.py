"""Every fault switch, observed by a real client; and the sent-frame counters."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from ssmd.simulator import Simulator
from tests.simulator.client import Client


async def subscribed(sim: Simulator, client: Client) -> None:
    await client.subscribe(["ticker", "trade", "market_lifecycle_v2"])
    await client.subscribe(["orderbook_delta"], market_tickers=sim.trading_tickers())
    await client.barrier()


def seqs(frames: list[dict], sid: int) -> list[int]:  # type: ignore[type-arg]
    return [f["seq"] for f in frames if f.get("sid") == sid and "seq" in f and f["type"] != "error"]


async def test_skip_seq_on_one_channel(sim: Simulator, client: Client) -> None:
    await subscribed(sim, client)
    sim.pump_now(100)
    before = await client.barrier()
    last = max(seqs(before, 2))
    sim.skip_seq("trade", 3)
    sim.pump_now(300)
    after = seqs(await client.barrier(), 2)
    assert after[0] == last + 4
    assert after == list(range(last + 4, last + 4 + len(after)))
    await client.barrier()
    book = seqs(client.received, 4)
    assert book == list(range(1, len(book) + 1))  # other channels untouched


async def test_duplicate_frames(sim: Simulator, client: Client) -> None:
    await subscribed(sim, client)
    sim.duplicate_next("orderbook_delta", 2)
    sim.pump_now(50)
    frames = [f for f in await client.barrier() if f["sid"] == 4]
    texts = [json.dumps(f) for f in frames]
    assert texts[0] == texts[1] and texts[2] == texts[3]
    assert [f["seq"] for f in frames[4:]] == list(range(frames[3]["seq"] + 1, frames[3]["seq"] + 1 + len(frames) - 4))


@pytest.mark.parametrize("code", [1000, 1001, 1011])
async def test_drop_connections_with_a_close_code(sim: Simulator, client: Client, code: int) -> None:
    await subscribed(sim, client)
    assert await sim.drop_connections(code, "maintenance") == 1
    with pytest.raises(ConnectionClosed) as info:
        await client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == code
    # after reconnecting, sids start again at 1
    again = await Client.open(sim.ws_url)
    assert await again.subscribe(["trade"]) == [1]
    await again.close()


async def test_abrupt_reset(sim: Simulator, client: Client) -> None:
    await subscribed(sim, client)
    await sim.drop_connections(abrupt=True)
    with pytest.raises(ConnectionClosedError) as info:
        await client.recv()
    assert info.value.rcvd is None  # no close frame


async def test_stall_stops_everything_then_resumes(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(ping_interval=0.05) as sim:
        client = await Client.open(sim.ws_url)
        await subscribed(sim, client)
        conn = next(iter(sim.conns.values()))
        sim.stall(True)
        sent = sim.frames_sent()
        pings = conn.pings
        sim.pump_now(100)
        await client.send("list_subscriptions")
        with pytest.raises(TimeoutError):
            await client.recv(timeout=0.3)
        assert sim.frames_sent() == sent and conn.pings == pings
        sim.stall(False)
        ok = await client.until(lambda f: f["type"] == "ok")
        assert len(ok[-1]["msg"]) == 4
        await client.close()


@pytest.mark.parametrize("code", [10, 25])
async def test_terminal_error_then_silence(sim: Simulator, client: Client, code: int) -> None:
    await subscribed(sim, client)
    sim.pump_now(50)
    before = await client.barrier()
    assert sim.send_error("trade", code) == 1
    frames = await client.barrier()
    error = frames[0]
    assert error["type"] == "error" and error["sid"] == 2 and error["msg"]["code"] == code
    assert error["seq"] == max(seqs(before, 2))
    sim.pump_now(300)
    frames = await client.barrier()
    assert frames and all(f["sid"] != 2 for f in frames)


async def test_malformed_unknown_type_extra_fields_and_bad_numbers(sim: Simulator, client: Client) -> None:
    await subscribed(sim, client)
    sim.send_malformed()
    sim.send_unknown_type()
    frames = await client.barrier()
    assert frames[0]["type"] == "<unparseable>"
    assert frames[1]["type"] == "market_metrics"
    sim.extra_fields(True)
    sim.malformed_numbers(1)
    sim.pump_now(200)
    frames = await client.barrier()
    assert all(f["x_sim_envelope"] is True and "x_sim_extra" in f["msg"] for f in frames)
    trades = [f for f in frames if f["type"] == "trade"]
    assert trades[0]["msg"]["count_fp"] == "1.2.3"
    assert all(t["msg"]["count_fp"] != "1.2.3" for t in trades[1:])
    sim.extra_fields(False)
    sim.pump_now(20)
    assert all("x_sim_envelope" not in f for f in await client.barrier())


async def test_slow_client_overflow_is_error_25(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(buffer_limit=20) as sim:
        client = await Client.open(sim.ws_url)
        await client.subscribe(["trade", "ticker"])
        await client.barrier()
        sim.pump_now(500)
        frames = await client.barrier()
        errors = [f for f in frames if f["type"] == "error"]
        assert {(e["sid"], e["msg"]["code"]) for e in errors} == {(1, 25), (2, 25)}
        id_ = await client.send("list_subscriptions")
        assert (await client.reply(id_))["msg"] == []
        await client.close()


async def test_counters_match_what_the_client_received(sim: Simulator) -> None:
    clients = [await Client.open(sim.ws_url) for _ in range(2)]
    for c in clients:
        await subscribed(sim, c)
    sim.pump_now(400)
    sim.lifecycle_step()
    sim.send_unknown_type()
    for c in clients:
        await c.barrier()
    counters = sim.counters()
    for cid, c in zip(("c1", "c2"), clients, strict=True):
        assert sum(counters[cid].values()) == len(c.texts)
        assert [x.decode() for x in sim.sent_log(cid)] == c.texts
        by_type: dict[str, int] = {}
        for f in c.received:
            if f["type"] in ("ticker", "trade", "orderbook_snapshot", "orderbook_delta"):
                channel = "orderbook_delta" if f["type"].startswith("orderbook") else f["type"]
                by_type[channel] = by_type.get(channel, 0) + 1
        for channel, n in by_type.items():
            acks = sum(1 for f in c.received if f["type"] in ("subscribed",) and f["msg"]["channel"] == channel)
            assert counters[cid][channel] == n + acks
        assert counters[cid]["unknown"] == 1
    for c in clients:
        await c.close()


async def test_heartbeat_pings_and_missed_pongs(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(ping_interval=0.05, max_missed_pongs=2) as sim, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(sim.ws_url, autoping=False)
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.PING and msg.data == b"heartbeat"
        while msg.type == aiohttp.WSMsgType.PING:  # never answered: the server gives up
            msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1011
        await ws.close()
    async with make_sim(ping_interval=0.05) as sim:
        client = await Client.open(sim.ws_url)
        await client.subscribe(["ticker"])
        conn = next(iter(sim.conns.values()))
        while conn.pongs < 2:
            conn.pong_seen.clear()
            await asyncio.wait_for(conn.pong_seen.wait(), 5)
        assert conn.pongs >= 2 and conn.missed_pongs == 0
        await client.close()
