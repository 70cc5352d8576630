"""Upgrade authentication: signed headers accepted, everything else refused before the WebSocket."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import InvalidStatus

from ssmd.kalshi.auth import generate_key, private_pem, public_pem, sign_headers
from tests.simulator.client import Client

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
PATH = "/trade-api/ws/v2"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def refused(url: str, headers: dict[str, str] | None) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as info:
        await Client.open(url, additional_headers=headers or {})
    response = info.value.response
    return response.status_code, response.body or b""


async def test_good_signature_is_accepted(make_sim, key: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(auth="required", public_keys={KEY_ID: public_pem(key)}) as sim:
        client = await Client.open(sim.ws_url, additional_headers=sign_headers(KEY_ID, key, "GET", PATH, now_ms()))
        assert await client.subscribe(["orderbook_delta"], market_tickers=sim.trading_tickers()[:1]) == [1]
        await client.close()
        assert sim.refused == 0


async def test_refusals_are_401_with_a_reason(make_sim, key: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    other = generate_key()
    async with make_sim(auth="required", public_keys={KEY_ID: private_pem(key)}) as sim:
        cases = {
            "missing": None,
            "bad signature": sign_headers(KEY_ID, other, "GET", PATH, now_ms()),
            "unknown key id": sign_headers("someone-else", key, "GET", PATH, now_ms()),
            "stale timestamp": sign_headers(KEY_ID, key, "GET", PATH, now_ms() - 60_000),
            "not in milliseconds": sign_headers(KEY_ID, key, "GET", PATH, now_ms() // 1000),
            "signed for another path": sign_headers(KEY_ID, key, "GET", "/trade-api/v2/markets", now_ms()),
        }
        for what, headers in cases.items():
            status, body = await refused(sim.ws_url, headers)
            assert status == 401, what
            assert body.startswith(b"401 Unauthorized: "), what
        assert b"stale" in (await refused(sim.ws_url, cases["stale timestamp"]))[1]
        assert sim.refused == len(cases) + 1
        assert sim.connections == 0


async def test_403_mode_mimics_the_cloudfront_edge(make_sim, key: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(auth="required", public_keys={KEY_ID: public_pem(key)}, refuse_status=403) as sim:
        assert await refused(sim.ws_url, sign_headers(KEY_ID, generate_key(), "GET", PATH, now_ms())) == (
            403, b"Forbidden\n")


async def test_refuse_auth_switch(make_sim, key: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(auth="required", public_keys={KEY_ID: public_pem(key)}) as sim:
        sim.refuse_auth(True)
        status, _ = await refused(sim.ws_url, sign_headers(KEY_ID, key, "GET", PATH, now_ms()))
        assert status == 401
        sim.refuse_auth(False)
        client = await Client.open(sim.ws_url, additional_headers=sign_headers(KEY_ID, key, "GET", PATH, now_ms()))
        await client.close()
