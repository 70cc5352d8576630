"""REST endpoints and client keys on the gateway's port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ssmd.subjects import cache_key
from tests.gateway.conftest import Harness, make_env, recv, running, send
from tests.gateway.records import A, B, book, delta, ticker, trade

KEY = "k-3b1f0c8e-client-one"


async def get(h: Harness, path: str, **headers: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(h.http + path, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_markets_from_live_data_then_from_the_secmaster_cache(gw: Harness) -> None:
    await gw.known(ticker(A), book(A), delta(A), trade(A, n=1), trade(A, n=2), trade(B, n=3))
    status, body = await get(gw, "/v1/markets")
    assert status == 200 and body["source"] == "live" and [m["ticker"] for m in body["markets"]] == [A, B]
    status, body = await get(gw, "/v1/markets/" + A.replace(".", "%2E"))
    assert status == 200 and body["ticker"] == A and body["metadata"] is None
    assert body["latest"]["yes_bid"] == "0.2900"
    assert body["book"]["bid"] == ["0.2900", "6.00"] and body["book"]["ask"] == ["0.3000", "3.00"]
    status, body = await get(gw, f"/v1/markets/{A}/trades?limit=1")
    assert status == 200 and [t["trade_id"] for t in body["trades"]] == ["t2"]
    assert body["trades"][0]["price"] == "0.3000"
    await gw.backends.cache.hset(cache_key(gw.env.name, "secmaster", "markets"), {
        A: msgspec.json.encode({"ticker": A, "title": "BTC above 118999.99", "status": "active"}).decode(),
        "KX-QUIET": msgspec.json.encode({"ticker": "KX-QUIET", "status": "active"}).decode()})
    status, body = await get(gw, "/v1/markets")
    assert body["source"] == "secmaster" and [m["ticker"] for m in body["markets"]] == sorted([A, "KX-QUIET"])
    status, body = await get(gw, "/v1/markets/KX-QUIET")
    assert status == 200 and body["metadata"]["status"] == "active" and body["latest"] is None
    async with gw.client() as ws:  # a secmaster market is subscribable before it trades
        await send(ws, {"action": "subscribe", "symbols": ["KX-QUIET"]})
        assert (await recv(ws))["type"] == "subscribed"


async def test_unknown_things_are_404_and_bad_limits_400(gw: Harness) -> None:
    assert (await get(gw, "/v1/markets/NOPE"))[0] == 404
    assert (await get(gw, "/v1/markets/NOPE/trades"))[0] == 404
    assert (await get(gw, "/v1/nothing"))[0] == 404
    status, body = await get(gw, f"/v1/markets/{A}/trades?limit=zero")
    assert status == 400 and "limit must be an integer" in body["error"]


async def test_health_is_200_while_running_and_503_when_draining(gw: Harness) -> None:
    status, body = await get(gw, "/v1/health")
    assert status == 200 and body["healthy"] is True and body["name"] == "gateway" and body["state"] == "running"
    gw.gateway._state = "stopping"  # what drain() sets before it stops listening
    status, body = await get(gw, "/v1/health")
    assert status == 503 and body["healthy"] is False
    gw.gateway._state = "running"


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Harness]:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    (keydir / "one").write_text(KEY + "\n")
    (keydir / "two").write_text("k-second-client\n")
    keys = {"clients": {"type": "gateway_api_key", "fields": ["one", "two"], "source": f"file:{keydir}"}}
    async with running(make_env(tmp_path, keys=keys, api_key="clients")) as h:
        yield h


async def test_rest_needs_a_valid_key(secured: Harness) -> None:
    assert (await get(secured, "/v1/health"))[0] == 401
    assert (await get(secured, "/v1/health", **{"X-API-Key": "wrong"}))[0] == 401
    assert (await get(secured, "/v1/health", **{"X-API-Key": KEY}))[0] == 200
    assert (await get(secured, "/v1/health", **{"X-API-Key": "k-second-client"}))[0] == 200


async def test_stream_without_or_with_a_wrong_key_is_401_at_the_upgrade(secured: Harness) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        with pytest.raises(InvalidStatus) as info:
            async with secured.client(additional_headers=headers):
                pass
        assert info.value.response.status_code == 401
    async with secured.client(additional_headers={"X-API-Key": KEY}) as ws:
        await send(ws, {"action": "subscribe", "symbols": ["*"]})
        assert (await recv(ws))["type"] == "subscribed"


async def test_browser_client_authenticates_with_its_first_message(secured: Harness) -> None:
    async with secured.client("?symbols=*", origin="http://localhost:3000") as ws:
        await send(ws, {"action": "auth", "key": KEY, "id": "a"})
        reply = await recv(ws)
        assert reply["type"] == "authenticated" and reply["request"]["key"] == "****"
        assert (await recv(ws))["type"] == "subscribed"  # the URL's symbols, once authenticated
    async with secured.client(origin="http://localhost:3000") as ws:
        await send(ws, {"action": "auth", "key": "guess"})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008, "invalid API key")
    async with secured.client(origin="http://localhost:3000") as ws:
        await send(ws, {"action": "subscribe", "symbols": ["*"]})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and "authentication required" in closed.value.rcvd.reason


async def test_the_key_never_reaches_logs_or_status(secured: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with secured.client(additional_headers={"X-API-Key": KEY}) as ws:
        await send(ws, {"action": "auth", "key": KEY})
        await recv(ws)
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")]
    assert any("connected" in line for line in server_side)
    text = "\n".join(server_side) + msgspec.json.encode(secured.gateway.status()).decode()
    assert KEY not in text


async def test_missing_key_values_or_a_wrong_key_type_stop_the_gateway(tmp_path: Path) -> None:
    from ssmd.errors import AuthError, ConfigError
    from ssmd.gateway import Gateway
    from ssmd.middleware.factory import open_backends

    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ({"clients": {"type": "gateway_api_key", "fields": ["one"], "source": f"file:{empty}"}}, AuthError,
         "key clients.one is not set"),
        ({"clients": {"type": "secret", "fields": ["one"], "source": f"file:{empty}"}}, ConfigError,
         "gateway.api_key: 'clients' is not a gateway_api_key entry"),
    ]
    for keys, error, message in cases:
        env = make_env(tmp_path, keys=keys, api_key="clients")
        async with await open_backends(env) as backends:
            with pytest.raises(error, match=message):
                await Gateway(env, backends).run()
