"""The REST client against the real simulator over HTTP: paging, 404, 429 recovery, errors."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ssmd.errors import NotFoundError, TransportError
from ssmd.kalshi.rest import KalshiRest, TokenBucket
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator


def _sim(markets: int, **settings: float) -> Simulator:
    return Simulator(SimSettings(markets=markets, rate=0, lifecycle_interval=0, **settings))


def _client(url: str, **options: Any) -> KalshiRest:
    return KalshiRest(url, requests_per_second=1000, **options)


def test_token_bucket_spaces_requests_at_the_rate_after_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=2.0)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    assert bucket.reserve(0.0) == pytest.approx(0.2)
    assert bucket.reserve(1.0) == 0.0  # refilled meanwhile


async def test_markets_are_paged_until_the_cursor_is_empty() -> None:
    async with _sim(57) as sim, _client(sim.rest_url) as rest:
            pages = [page async for page in rest.market_pages(limit=10)]
            everything = await rest.markets(limit=1000)
            events = await rest.events(limit=7)
            series = await rest.series()
            one = await rest.market(everything[3].ticker)
    assert [len(p) for p in pages[:-1]] == [10] * (len(pages) - 1)
    assert sum(len(p) for p in pages) == len(everything) >= 57
    assert len({m.ticker for m in everything}) == len(everything)
    assert rest.stats.requests >= len(pages) + 1
    assert one.ticker == everything[3].ticker
    assert {e.event_ticker for e in events} >= {m.event_ticker for m in everything}
    assert {s.ticker for s in series} >= {e.series_ticker for e in events}
    assert all(s.category for s in series)


async def test_unknown_ticker_is_not_found_naming_the_path() -> None:
    async with _sim(3) as sim, _client(sim.rest_url) as rest:
            with pytest.raises(NotFoundError, match="/markets/NOPE-1"):
                await rest.market("NOPE-1")


async def test_429_is_retried_with_backoff_until_it_passes() -> None:
    # The exchange allows 2 requests/s with no burst; the client is told it may do 1000.
    settings = {"rest_tokens_per_second": 20, "rest_bucket": 10, "rest_cost": 10}
    async with _sim(30, **settings) as sim, _client(sim.rest_url, delays=lambda: iter([0.05] * 100),
                                                    attempts=40) as rest:
            markets = await rest.markets(limit=10)
    assert len(markets) >= 30
    assert rest.stats.throttled > 0
    assert rest.stats.backoff_seconds > 0


async def test_persistent_429_gives_up_with_the_path_and_status() -> None:
    settings = {"rest_tokens_per_second": 0.001, "rest_bucket": 10, "rest_cost": 10}
    async with _sim(5, **settings) as sim, _client(sim.rest_url, delays=lambda: iter([0.01] * 10),
                                                   attempts=3) as rest:
            await rest.series()  # spends the only token
            with pytest.raises(TransportError, match=r"GET /events: HTTP 429.*gave up after 3 attempts"):
                await rest.events()


async def test_a_refused_request_is_not_retried_and_names_the_status() -> None:
    async with _sim(3) as sim, _client(sim.rest_url) as rest:
            with pytest.raises(TransportError, match=r"GET /markets: HTTP 400"):
                await rest.markets(status="bogus")
            assert rest.stats.requests == 1


async def test_unreachable_server_fails_with_the_path() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(f"http://127.0.0.1:{port}/trade-api/v2", attempts=2, delays=lambda: iter([0.01] * 5)) as rest:
        with pytest.raises(TransportError, match=r"GET /series: .*gave up after 2 attempts"):
            await rest.series()


async def _serve(routes: dict[str, Any]) -> tuple[Any, str]:
    """A minimal HTTP server for answers the simulator never gives (a looping cursor, a
    paged /series)."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        return web.json_response(routes[request.path](request.query.get("cursor", "")))

    app = web.Application()
    for path in routes:
        app.router.add_get(path, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/trade-api/v2"


async def test_a_repeating_cursor_is_an_error_not_an_endless_loop() -> None:
    page = {"markets": [{"ticker": "A-1", "event_ticker": "A"}], "cursor": "same"}
    runner, url = await _serve({"/trade-api/v2/markets": lambda cursor: page})
    try:
        async with _client(url) as rest:
            with pytest.raises(TransportError, match="GET /markets: cursor 'same' repeated"):
                await rest.markets()
            assert rest.stats.requests == 2
    finally:
        await runner.cleanup()


async def test_series_follow_a_cursor_when_one_appears() -> None:
    pages = {"": {"series": [{"ticker": "S1", "category": "Crypto"}], "cursor": "p2"},
             "p2": {"series": [{"ticker": "S2", "category": "Sports"}], "cursor": ""}}
    runner, url = await _serve({"/trade-api/v2/series": lambda cursor: pages[cursor]})
    try:
        async with _client(url) as rest:
            series = await rest.series()
    finally:
        await runner.cleanup()
    assert [(s.ticker, s.category) for s in series] == [("S1", "Crypto"), ("S2", "Sports")]
