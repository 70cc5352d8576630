"""Replay through the gateway from an archive written by the archiver."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ssmd.clock import ManualClock, rfc3339
from ssmd.records import Trade
from tests.archiver.helpers import DAY, MS, T0, archive, make_backends, sample_records
from tests.gateway.conftest import make_env, recv, recv_until, running, send

A = "KXBTCD-26JUL2317-T118999.99"
B = "KXETH-OTHER"


async def test_replay_streams_archived_records_in_the_live_shapes(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    records = sample_records(A) + sample_records(B, base=T0 + 500 * MS, n=1)
    await archive(env, make_backends(env), records)
    async with running(env) as h, h.client() as ws:
        await send(ws, {"action": "replay", "symbols": [A], "date": DAY, "speed": 0, "id": "r1"})
        started = await recv(ws)
        assert started["type"] == "replay_started" and started["id"] == "r1"
        done, msgs = await recv_until(ws, lambda m: m["type"] == "replay_finished")
        assert done["messages"] == len(msgs) == len(sample_records(A))
        assert all(m["replay"] is True and m["ticker"] == A for m in msgs)
        assert [m["type"] for m in msgs] == ["orderbook", "trade", "orderbook", "trade", "ticker", "trade",
                                             "lifecycle"]
        book, first_trade, level = msgs[0], msgs[1], msgs[2]
        assert book["snapshot"] is True and book["bids"] == [["0.4100", "2.50"], ["0.4000", "1.00"]]
        assert book["asks"] == [["0.5000", "3.00"]]
        assert first_trade["price"] == "0.9990" and first_trade["size"] == "0.11"
        assert first_trade["ts"] == rfc3339(T0 + 1000 * MS)
        assert level == {"type": "orderbook", "ticker": A, "snapshot": False, "bids": [["0.4100", "2.00"]],
                         "asks": [], "ts": rfc3339(T0 + 1500 * MS), "replay": True}
        # a window from 1.7 s to 3 s: the book as of 1.7 s first, then the records in the window
        await send(ws, {"action": "replay", "symbols": [A], "date": DAY, "speed": 0,
                        "from": rfc3339(T0 + 1700 * MS), "to": rfc3339(T0 + 3000 * MS)})
        await recv(ws)
        done, msgs = await recv_until(ws, lambda m: m["type"] == "replay_finished")
        assert [m["type"] for m in msgs] == ["orderbook", "trade", "ticker"]
        assert msgs[0]["snapshot"] is True and msgs[0]["bids"] == [["0.4100", "2.00"], ["0.4000", "1.00"]]


async def test_replay_errors_keep_the_connection(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    await archive(env, make_backends(env), sample_records(A, n=1))
    async with running(env) as h, h.client() as ws:
        await send(ws, {"action": "replay", "symbols": [A], "date": "2001-01-01"})
        err = await recv(ws)
        assert err["type"] == "error" and err["error"] == "replay: no archived data for 2001-01-01"
        await send(ws, {"action": "replay", "symbols": [A], "date": DAY, "from": "noon"})
        assert "from must be RFC 3339" in (await recv(ws))["error"]
        await send(ws, {"action": "replay", "symbols": [A], "date": DAY, "speed": 1000})
        assert (await recv(ws))["type"] == "replay_started"
        done, msgs = await recv_until(ws, lambda m: m["type"] == "replay_finished")
        assert len(msgs) == done["messages"] == len(sample_records(A, n=1))


async def test_rest_trades_come_from_the_archive_and_the_live_ring(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    await archive(env, make_backends(env), sample_records(A, n=3))
    async with running(env, ManualClock(T0 + 10_000 * MS)) as h:
        live = Trade(ts=T0 + 9000 * MS, received_at=T0 + 9000 * MS, ticker=A, trade_id="live-1", price=5000,
                     size=100, side="no", sid=1, seq=9)
        await h.known(live)
        async with aiohttp.ClientSession() as http, http.get(f"{h.http}/v1/markets/{A}/trades?limit=3") as resp:
            body = await resp.json()
        assert resp.status == 200 and body["source"] == "live+archive"
        assert [t["trade_id"] for t in body["trades"]] == [f"{A}-t1", f"{A}-t2", "live-1"]
        assert body["trades"][0]["price"] == "0.4101"
