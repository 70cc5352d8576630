"""The WebSocket stream against a real Gateway on the memory bus."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
import pytest
from websockets.exceptions import ConnectionClosed

from ssmd import metrics
from ssmd.clock import ManualClock
from tests.gateway.conftest import Harness, make_env, recv, recv_until, running, send
from tests.gateway.records import A, B, book, delta, lifecycle, ticker, trade
from tests.waiting import until


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or None) or 0.0


async def test_subscribe_gets_snapshot_then_live_updates_with_exact_decimals(gw: Harness) -> None:
    async with gw.client("?symbols=*") as watcher:
        await recv(watcher)  # subscribed
        await gw.publish(book(A), ticker(A))
        await recv_until(watcher, lambda m: m["type"] == "ticker")
        async with gw.client() as ws:
            await send(ws, {"action": "subscribe", "symbols": [A], "id": 1})
            reply = await recv(ws)
            assert reply["type"] == "subscribed" and reply["symbols"] == [A] and reply["id"] == 1
            assert reply["request"] == {"action": "subscribe", "symbols": [A], "id": 1}
            full = await recv(ws)
            assert full["type"] == "orderbook" and full["snapshot"] is True
            assert full["bids"] == [["0.2900", "10.00"], ["0.2800", "5.00"]]
            assert (await recv(ws))["type"] == "ticker"
            await gw.publish(delta(A, change=-400), trade(A, price=3000, size=1), trade(B))
            level = await recv(ws)
            assert level["snapshot"] is False and level["bids"] == [["0.2900", "6.00"]]
            t = await recv(ws)
            assert t["type"] == "trade" and t["price"] == "0.3000" and t["size"] == "0.01" and t["ticker"] == A
            await send(ws, {"action": "snapshot", "symbols": [A]})
            again = await recv(ws)
            assert again["type"] == "orderbook" and again["snapshot"] and again["bids"][0] == ["0.2900", "6.00"]
            _, before = await recv_until(ws, lambda m: m["type"] == "snapshot_complete")
            assert [m["type"] for m in before] == ["ticker"]
            sent_before = _sample("ssmd_gateway_messages_sent_total", type="trade")
            gw.gateway.status()  # status() brings the sent counters up to date
            assert _sample("ssmd_gateway_messages_sent_total", type="trade") >= sent_before + 2


async def test_wildcard_gets_every_market_and_unsubscribe_stops_it(gw: Harness) -> None:
    async with gw.client() as ws:
        await send(ws, {"action": "subscribe", "symbols": ["*"]})
        assert (await recv(ws))["type"] == "subscribed"
        assert _sample("ssmd_gateway_subscriptions_active", symbol="*") == 1
        await gw.publish(trade(A, n=1), trade(B, n=2), lifecycle(B))
        got = [await recv(ws) for _ in range(3)]
        assert [(m["type"], m["ticker"]) for m in got] == [("trade", A), ("trade", B), ("lifecycle", B)]
        assert got[2]["settlement_value"] == "1.0000"
        await send(ws, {"action": "unsubscribe", "symbols": ["*", "NOT-MINE"]})
        reply = await recv(ws)
        assert reply["type"] == "unsubscribed" and reply["symbols"] == ["*"] and reply["not_subscribed"] == ["NOT-MINE"]
        assert _sample("ssmd_gateway_subscriptions_active", symbol="*") == 0
        await gw.publish(trade(A, n=3))
        await send(ws, {"action": "subscribe", "symbols": [A]})
        msg = await recv(ws)
        assert msg["type"] == "subscribed"  # the trade published while unsubscribed never came


async def test_bad_input_gets_errors_and_the_connection_stays_up(gw: Harness) -> None:
    async with gw.client() as ws:
        await ws.send("{oops")
        assert (await recv(ws))["error"].startswith("invalid JSON")
        await send(ws, {"action": "fly", "id": 9})
        err = await recv(ws)
        assert err["type"] == "error" and "unknown action 'fly'" in err["error"] and err["id"] == 9
        await send(ws, {"action": "subscribe", "symbols": ["NO-SUCH-MARKET"]})
        err = await recv(ws)
        assert err["error"] == "unknown symbol(s): NO-SUCH-MARKET"
        assert err["request"] == {"action": "subscribe", "symbols": ["NO-SUCH-MARKET"]}
        await ws.send("x" * (70 * 1024))
        assert "frame too large" in (await recv(ws))["error"]
        await send(ws, {"action": "subscribe", "symbols": ["*"], "mode": "realtime"})
        assert (await recv(ws))["type"] == "subscribed"


async def test_abusive_frame_size_closes_the_connection(gw: Harness) -> None:
    async with gw.client(max_size=None) as ws:
        await ws.send("x" * (2 * 1024 * 1024))
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1009
        else:
            raise AssertionError("the connection stayed open")


async def test_request_flood_is_rate_limited_then_closed(gw: Harness) -> None:
    async with gw.client() as ws:
        frame = msgspec.json.encode({"action": "unsubscribe", "symbols": ["X"]}).decode()
        for _ in range(400):
            try:
                await ws.send(frame)
            except ConnectionClosed:
                break
        kinds = []
        try:
            while True:
                kinds.append((await recv(ws))["type"])
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1008 and exc.rcvd.reason == "too many requests"
        assert "error" in kinds and "unsubscribed" in kinds


async def test_conflated_mode_sends_the_latest_state_per_market(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(make_env(tmp_path), clock) as h, h.client() as ws:
        await h.known(ticker(A, n=0))
        await send(ws, {"action": "subscribe", "symbols": [A], "mode": "conflated", "interval_ms": 50})
        reply = await recv(ws)
        assert reply["mode"] == "conflated" and reply["interval_ms"] == 50
        assert (await recv(ws))["price"] == "0.3000"  # the snapshot
        await h.known(*[ticker(A, price=1000 + i, n=i + 1) for i in range(200)])
        clock.advance(0.05)
        last, before = await recv_until(ws, lambda m: m["price"] == "0.1199")
        assert last["ticker"] == A
        assert len(before) <= 1  # at most one interval flushed before the clock moved
        info = h.gateway.clients()
        assert [i.mode for i in info] == ["conflated"] and info[0].dropped == 0


async def test_clients_status_and_operator_disconnect(gw: Harness) -> None:
    await gw.known(trade(A))
    async with gw.client("?symbols=" + A) as ws:
        assert (await recv(ws))["type"] == "subscribed"
        infos = gw.gateway.clients()
        assert len(infos) == 1 and infos[0].symbols == 1 and infos[0].peer.startswith("127.0.0.1:")
        status = gw.gateway.status()
        assert status.state == "running" and status.details["clients"] == 1
        gw.gateway.disconnect(infos[0].id)
        try:
            while True:
                await recv(ws)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.reason == "disconnected by the operator"


async def test_clients_sent_counts_clients_that_left(gw: Harness) -> None:
    await gw.known(trade(A))
    before = gw.gateway.status().counters["clients_sent"]
    async with gw.client("?symbols=" + A) as ws:
        assert (await recv(ws))["type"] == "subscribed"
        await gw.publish(trade(A, n=2), trade(A, n=3))
        await recv_until(ws, lambda m: m.get("trade_id") == "t3")
    await until(lambda: not gw.gateway.connections, what="the client's handler to end")
    status = gw.gateway.status()
    assert status.details["clients"] == 0
    assert status.counters["clients_sent"] >= before + 3  # the reply and both trades stay counted


async def test_drain_sends_queued_messages_then_a_close_frame_with_a_reason(gw: Harness) -> None:
    async with gw.client("?symbols=*") as ws:
        assert (await recv(ws))["type"] == "subscribed"
        await gw.publish(trade(A))
        assert (await recv(ws))["type"] == "trade"
        await gw.gateway.drain("end of trading day")
        try:
            await recv(ws)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and (exc.rcvd.code, exc.rcvd.reason) == (1001, "end of trading day")
        else:
            raise AssertionError("not closed")
    assert gw.gateway.clients() == []


async def test_latest_mode_and_unknown_symbols_in_the_url(gw: Harness) -> None:
    await gw.known(ticker(A, n=0), ticker(B, n=0))
    async with gw.client(f"?symbols={A},NOPE") as ws:
        assert (await recv(ws))["symbols"] == [A]
        err = await recv(ws)
        assert err["error"] == "unknown symbol(s): NOPE" and err["request"] == {"symbols": [A, "NOPE"]}
        assert (await recv(ws))["ticker"] == A  # A's snapshot
        await send(ws, {"action": "subscribe", "symbols": [B], "mode": "latest"})
        reply = await recv(ws)
        assert reply["mode"] == "latest" and reply["symbols"] == [B]
        assert (await recv(ws))["ticker"] == B  # B's snapshot
        await gw.publish(*[ticker(B, price=2000 + i, n=i + 1) for i in range(50)])
        last, _ = await recv_until(ws, lambda m: m["type"] == "ticker" and m["price"] == "0.2049")
        assert last["ticker"] == B and gw.gateway.clients()[0].dropped == 0
        await send(ws, {"action": "snapshot", "symbols": ["NOPE", B]})
        assert (await recv(ws))["error"] == "unknown symbol(s): NOPE"
        _, got = await recv_until(ws, lambda m: m["type"] == "snapshot_complete")
        assert [(m["type"], m["price"]) for m in got] == [("ticker", "0.2049")]


async def test_unsubscribe_then_normal_close_logs_no_error(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    # a client that leaves while its writer is sending: the writer sees the closed
    # connection (ConnectionClosed), the handler ends cleanly, nothing is logged as an error
    caplog.set_level(logging.WARNING, logger="ssmd")
    await gw.known(trade(A))
    for i in range(12):
        async with gw.client() as ws:
            await send(ws, {"action": "subscribe", "symbols": ["*"] if i % 2 else [A]})
            assert (await recv(ws))["type"] == "subscribed"
            await gw.publish(*[trade(A, n=k + 1) for k in range(40 * i)])
            await send(ws, {"action": "unsubscribe", "symbols": ["*"] if i % 2 else [A]})
    async with gw.client("?symbols=*") as ws:  # every earlier handler has ended by now, or ends with the gateway
        assert (await recv(ws))["type"] == "subscribed"
    await asyncio.wait_for(gw.gateway.drain(), 10)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [(r.name, r.getMessage(), r.exc_info) for r in errors]
