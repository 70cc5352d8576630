"""REST on the simulator's port: paging, filters, 404, rate limit, 429 faults (aiohttp client)."""

from __future__ import annotations

from typing import Any

import aiohttp

from ssmd.simulator import Simulator


async def get(url: str, **params: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as resp:
        return resp.status, await resp.json(content_type=None), resp


async def all_markets(sim: Simulator, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        status, body, _ = await get(sim.rest_url + "/markets", cursor=cursor, **params)
        assert status == 200, body
        out.extend(body["markets"])
        cursor = body["cursor"]
        if not cursor:
            return out
    raise AssertionError("cursor never ended")


async def test_markets_paging_and_shape(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(markets=250, rest_bucket=1e9, rest_tokens_per_second=1e9) as sim:
        status, body, _ = await get(sim.rest_url + "/markets")
        assert status == 200 and len(body["markets"]) == 100 and body["cursor"]
        paged = await all_markets(sim, limit=7)
        assert [m["ticker"] for m in paged] == sorted(sim.engine.universe.markets)
        assert len(paged) == len(sim.engine.universe.markets) >= 250
        assert any("." in m["ticker"] for m in paged)
        m = paged[0]
        for key in ("ticker", "event_ticker", "market_type", "yes_sub_title", "no_sub_title", "created_time",
                    "updated_time", "open_time", "close_time", "latest_expiration_time", "settlement_timer_seconds",
                    "status", "result", "can_close_early", "yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars",
                    "no_ask_dollars", "last_price_dollars", "volume_fp", "open_interest_fp", "notional_value_dollars",
                    "rules_primary", "price_level_structure", "price_ranges"):
            assert key in m, key
        assert m["close_time"].endswith("Z")
        status, body, _ = await get(sim.rest_url + "/markets", limit=1001)
        assert status == 400
        status, body, _ = await get(sim.rest_url + "/markets", limit=1000)
        assert status == 200 and len(body["markets"]) == len(paged) and body["cursor"] == ""


async def test_market_filters(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(markets=60, mve_markets=2, rest_bucket=1e9, rest_tokens_per_second=1e9) as sim:
        u = sim.engine.universe
        expect = {"unopened": {"initialized"}, "open": {"active"}, "paused": {"inactive"},
                  "closed": {"closed", "determined"}, "settled": {"finalized"}}
        for status, statuses in expect.items():
            got = await all_markets(sim, status=status)
            assert got and {m["status"] for m in got} == statuses, status
            assert len(got) == sum(1 for m in u.markets.values() if m.status in statuses)
        event = next(iter(u.events))
        got = await all_markets(sim, event_ticker=event)
        assert {m["event_ticker"] for m in got} == {event}
        got = await all_markets(sim, series_ticker="KXBTCD")
        assert got and {m["ticker"].split("-")[0] for m in got} == {"KXBTCD"}
        two = sorted(u.markets)[:2]
        assert [m["ticker"] for m in await all_markets(sim, tickers=",".join(two))] == two
        assert sum(1 for m in await all_markets(sim, mve_filter="only")) == 2
        assert all(not m["ticker"].startswith("KXMVE") for m in await all_markets(sim, mve_filter="exclude"))
        # timestamp families
        assert await all_markets(sim, status="open", min_close_ts=0) == []  # silently empty
        status, _, _ = await get(sim.rest_url + "/markets", min_close_ts=0, min_created_ts=0)
        assert status == 400
        status, _, _ = await get(sim.rest_url + "/markets", min_updated_ts=0)
        assert status == 400  # needs mve_filter=exclude
        late = max(m.updated_ns for m in u.markets.values()) // 1_000_000_000
        ticker = sim.trading_tickers()[0]
        sim.update_metadata(ticker)
        got = await all_markets(sim, min_updated_ts=late + 1, mve_filter="exclude")
        assert ticker in [m["ticker"] for m in got]


async def test_single_objects_and_404(sim: Simulator) -> None:
    u = sim.engine.universe
    ticker = sorted(u.markets)[0]
    status, body, _ = await get(f"{sim.rest_url}/markets/{ticker}")
    assert status == 200 and body["market"]["ticker"] == ticker
    status, body, _ = await get(f"{sim.rest_url}/markets/KXNOPE-1")
    assert status == 404 and body["error"]["code"] == "not_found"
    event = u.markets[ticker].event
    status, body, _ = await get(f"{sim.rest_url}/events/{event}", with_nested_markets="true")
    assert status == 200 and ticker in [m["ticker"] for m in body["event"]["markets"]]
    status, body, _ = await get(f"{sim.rest_url}/series/{u.markets[ticker].series}")
    assert status == 200 and body["series"]["category"]
    assert (await get(f"{sim.rest_url}/series/NOPE"))[0] == 404
    assert (await get(f"{sim.rest_url}/events/NOPE"))[0] == 404


async def test_events_and_series(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(markets=40, rest_bucket=1e9, rest_tokens_per_second=1e9) as sim:
        u = sim.engine.universe
        status, body, _ = await get(sim.rest_url + "/events", limit=201)
        assert status == 400
        events: list[dict[str, Any]] = []
        cursor = ""
        while True:
            status, body, _ = await get(sim.rest_url + "/events", limit=3, cursor=cursor, with_nested_markets="true")
            events.extend(body["events"])
            cursor = body["cursor"]
            if not cursor:
                break
        assert [e["event_ticker"] for e in events] == sorted(u.events)
        assert sum(len(e["markets"]) for e in events) == len(u.markets)
        status, body, _ = await get(sim.rest_url + "/series")
        cats = {s["ticker"]: s["category"] for s in body["series"]}
        assert cats["KXBTCD"] == "Crypto" and cats["KXNBAGAME"] == "Sports"
        status, body, _ = await get(sim.rest_url + "/series", category="Economics")
        assert {s["category"] for s in body["series"]} == {"Economics"}


async def test_token_bucket_429_without_retry_after(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(rest_bucket=30, rest_tokens_per_second=0.001) as sim:
        results = [await get(sim.rest_url + "/series") for _ in range(4)]
        assert [r[0] for r in results] == [200, 200, 200, 429]
        assert results[3][1] == {"error": "too many requests"}
        assert "Retry-After" not in results[3][2].headers
        assert not any(h.lower().startswith("x-ratelimit") for h in results[3][2].headers)
        assert sim.rest_throttled == 1


async def test_fail_next_and_created_404_window(sim: Simulator) -> None:
    sim.rest_fail_next(2)
    assert [(await get(sim.rest_url + "/series"))[0] for _ in range(3)] == [429, 429, 200]
    sim.not_found_window(3600)
    created = sim.create_event("KXETHD")
    assert created
    assert (await get(f"{sim.rest_url}/markets/{created[0]}"))[0] == 404
    assert created[0] not in [m["ticker"] for m in (await get(sim.rest_url + "/markets", limit=1000))[1]["markets"]]
    sim.hidden_until.clear()  # the window is over
    status, body, _ = await get(f"{sim.rest_url}/markets/{created[0]}")
    assert status == 200 and body["market"]["status"] == "initialized"


async def test_event_filters(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(markets=40, rest_bucket=1e9, rest_tokens_per_second=1e9) as sim:
        u = sim.engine.universe
        status, body, _ = await get(sim.rest_url + "/events", status="settled")
        finalized_events = {m.event for m in u.markets.values() if m.status == "finalized"}
        assert status == 200 and {e["event_ticker"] for e in body["events"]} == finalized_events
        cut = max(m.close_ns for m in u.markets.values()) // 1_000_000_000
        status, body, _ = await get(sim.rest_url + "/events", min_close_ts=cut)
        latest = {m.event for m in u.markets.values() if m.close_ns // 1_000_000_000 >= cut}
        assert {e["event_ticker"] for e in body["events"]} == latest
        status, body, _ = await get(sim.rest_url + "/events", series_ticker="KXETHD")
        assert body["events"] and {e["series_ticker"] for e in body["events"]} == {"KXETHD"}
