"""REST market data on the simulator's port: trades (newest first, bounds, same ids as the
WS), order books equal to the WS book, candles agreeing with trades, exchange status and
schedule, 429 faults and 400s naming the parameter."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
import pytest

from ssmd.clock import rfc3339_ns
from ssmd.fixed import parse_count, parse_price
from ssmd.simulator import Simulator
from ssmd.simulator.universe import S
from tests.simulator.client import Client

FAST = {"rest_bucket": 1e9, "rest_tokens_per_second": 1e9}


async def get(url: str, **params: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as resp:
        return resp.status, await resp.json(content_type=None)


async def all_trades(sim: Simulator, path: str = "/markets/trades", **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(10_000):
        status, body = await get(sim.rest_url + path, cursor=cursor, **params)
        assert status == 200, body
        out.extend(body["trades"])
        cursor = body["cursor"]
        if not cursor:
            return out
    raise AssertionError("cursor never ended")


async def test_trades_page_newest_first_covering_every_trade_once(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(**FAST) as sim:
        sim.pump_now(3000)
        truth = sim.trades()
        assert len(truth) > 300
        got = await all_trades(sim, limit=37)
        assert [t["trade_id"] for t in got] == [t.trade_id for t in reversed(truth)]
        times = [rfc3339_ns(t["created_time"]) for t in got]
        assert times == sorted(times, reverse=True)
        ticker = truth[0].ticker
        mine = await all_trades(sim, ticker=ticker, limit=5)
        assert [t["trade_id"] for t in mine] == [t.trade_id for t in reversed(sim.trades(ticker))]
        one = got[0]
        assert set(one) >= {"trade_id", "ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_side",
                            "taker_outcome_side", "taker_book_side", "created_time", "is_block_trade"}
        status, body = await get(sim.rest_url + "/markets/trades")
        assert status == 200 and len(body["trades"]) == 100 and body["cursor"]


async def test_min_and_max_ts_are_inclusive_unix_seconds(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(history_hours=2, history_trades=3000, **FAST) as sim:
        truth = sim.trades()
        lo, hi = truth[500].created_ns // S, truth[2500].created_ns // S
        got = await all_trades(sim, "/historical/trades", min_ts=lo, max_ts=hi, limit=1000)
        got += await all_trades(sim, min_ts=lo, max_ts=hi, limit=1000)
        want = [t.trade_id for t in truth if lo * S <= t.created_ns <= hi * S]
        assert sorted(t["trade_id"] for t in got) == sorted(want) and want


async def test_rest_trades_are_the_trades_a_ws_client_received(sim: Simulator, client: Client) -> None:
    sim.bucket.capacity = sim.bucket.tokens = 1e9
    await client.subscribe(["trade"])
    sim.pump_now(1500)
    ws = [f["msg"] for f in await client.barrier() if f.get("type") == "trade"]
    rest = {t["trade_id"]: t for t in await all_trades(sim, limit=1000)}
    assert ws and set(rest) == {m["trade_id"] for m in ws}
    for m in ws:
        r = rest[m["trade_id"]]
        assert (r["ticker"], r["yes_price_dollars"], r["count_fp"], r["taker_outcome_side"]) == (
            m["market_ticker"], m["yes_price_dollars"], m["count_fp"], m["taker_outcome_side"])
        assert rfc3339_ns(r["created_time"]) == m["ts_ms"] * 1_000_000
        assert r["is_block_trade"] == m["is_block_trade"]


async def test_trades_lost_to_skipped_seqs_are_served(sim: Simulator, client: Client) -> None:
    (sid,) = await client.subscribe(["trade"])
    sim.pump_now(200)
    sim.skip_seq("trade", 3)
    sim.pump_now(400)
    frames = [f for f in await client.barrier() if f.get("type") == "trade"]
    seqs = [f["seq"] for f in frames]
    jumps = [b - a for a, b in itertools.pairwise(seqs) if b - a != 1]
    assert jumps == [4] and frames[0]["sid"] == sid
    received = {f["msg"]["trade_id"] for f in frames}
    lost = [t.trade_id for t in sim.trades() if t.trade_id not in received]
    assert len(lost) == 3
    served = {t["trade_id"] for t in await all_trades(sim, limit=1000)}
    assert set(lost) <= served


async def test_orderbook_equals_the_ws_book(sim: Simulator, client: Client) -> None:
    tickers = sim.trading_tickers()[:3]
    await client.subscribe(["orderbook_delta"], market_tickers=tickers)
    sim.pump_now(800)
    books: dict[str, dict[str, dict[int, int]]] = {}
    for f in await client.barrier():
        m = f["msg"]
        if f["type"] == "orderbook_snapshot":
            books[m["market_ticker"]] = {
                side: {parse_price(p): parse_count(c) for p, c in m.get(f"{side}_dollars_fp", [])}
                for side in ("yes", "no")}
        elif f["type"] == "orderbook_delta":
            side = books[m["market_ticker"]][m["side"]]
            price = parse_price(m["price_dollars"])
            side[price] = side.get(price, 0) + parse_count(m["delta_fp"])
            if side[price] == 0:
                del side[price]
    for ticker in tickers:
        status, body = await get(f"{sim.rest_url}/markets/{ticker}/orderbook")
        assert status == 200
        rest = {side: {parse_price(p): parse_count(c) for p, c in body["orderbook_fp"][f"{side}_dollars"]}
                for side in ("yes", "no")}
        assert rest == books[ticker] and (rest["yes"], rest["no"]) == sim.book(ticker)
        levels = body["orderbook_fp"]["yes_dollars"]
        assert levels == sorted(levels, key=lambda lv: parse_price(lv[0]))
        status, top = await get(f"{sim.rest_url}/markets/{ticker}/orderbook", depth=1)
        assert top["orderbook_fp"]["yes_dollars"] == levels[-1:]
    status, body = await get(sim.rest_url + "/markets/orderbooks", tickers=",".join(tickers))
    assert status == 200 and [b["ticker"] for b in body["orderbooks"]] == tickers
    status, _ = await get(sim.rest_url + "/markets/NOPE/orderbook")
    assert status == 404


async def test_candles_agree_with_trades(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(history_hours=3, history_trades=4000, **FAST) as sim:
        sim.pump_now(500)
        ticker = max(sim.trading_tickers(), key=lambda t: len(sim.trades(t)))
        m = sim.engine.universe.markets[ticker]
        trades = sim.trades(ticker)
        now = sim.settings.clock.now_ns() // S
        start, end = now - 4 * 3600, now + 3600  # candles end on or before end_ts: the open hour too
        status, body = await get(f"{sim.rest_url}/series/{m.series}/markets/{ticker}/candlesticks",
                                 start_ts=start, end_ts=end, period_interval=1)
        assert status == 200 and body["ticker"] == ticker
        sticks = body["candlesticks"]
        assert sum(parse_count(c["volume_fp"]) for c in sticks) == sum(t.count for t in trades)
        for c in sticks:
            e = c["end_period_ts"]
            inside = [t for t in trades if (e - 60) * S < t.created_ns <= e * S]
            assert parse_count(c["volume_fp"]) == sum(t.count for t in inside)
            if inside:
                prices = [t.yes_price for t in inside]
                p = c["price"]
                assert [parse_price(p[k + "_dollars"]) for k in ("open", "high", "low", "close")] == [
                    prices[0], max(prices), min(prices), prices[-1]]
                assert parse_price(c["yes_bid"]["low_dollars"]) <= parse_price(c["yes_ask"]["high_dollars"])
        hourly = (await get(f"{sim.rest_url}/series/{m.series}/markets/{ticker}/candlesticks",
                            start_ts=start, end_ts=end, period_interval=60))[1]["candlesticks"]
        assert sum(parse_count(c["volume_fp"]) for c in hourly) == sum(t.count for t in trades)
        status, batch = await get(sim.rest_url + "/markets/candlesticks", market_tickers=ticker, start_ts=start,
                                  end_ts=end, period_interval=60, include_latest_before_start="true")
        assert status == 200 and batch["markets"][0]["market_ticker"] == ticker
        status, _ = await get(f"{sim.rest_url}/series/KXNOPE/markets/{ticker}/candlesticks",
                              start_ts=start, end_ts=end, period_interval=60)
        assert status == 404


async def test_exchange_status_and_schedule(sim: Simulator) -> None:
    status, body = await get(sim.rest_url + "/exchange/status")
    assert status == 200 and body["exchange_active"] and body["trading_active"]
    assert body["exchange_estimated_resume_time"] is None
    sim.set_exchange_status(trading_active=False, resume_ns=sim.settings.clock.now_ns() + 3600 * S)
    _, body = await get(sim.rest_url + "/exchange/status")
    assert not body["trading_active"] and body["exchange_estimated_resume_time"].endswith("Z")
    _, body = await get(sim.rest_url + "/exchange/schedule")
    week = body["schedule"]["standard_hours"][0]
    assert week["thursday"] == [{"open_time": "00:00", "close_time": "23:59"}]
    assert all(w["start_datetime"] < w["end_datetime"] for w in body["schedule"]["maintenance_windows"])


async def test_rate_limit_faults_apply_to_market_data(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(rest_tokens_per_second=10, rest_bucket=10, rest_cost=10) as sim:
        sim.rest_fail_next(1)
        status, body = await get(sim.rest_url + "/markets/trades")
        assert (status, body) == (429, {"error": "too many requests"})
        assert (await get(sim.rest_url + "/exchange/status"))[0] == 200
        assert (await get(sim.rest_url + "/historical/cutoff"))[0] == 429  # bucket empty


@pytest.mark.parametrize(("path", "params", "name"), [
    ("/markets/trades", {"limit": "0"}, "limit"),
    ("/markets/trades", {"limit": "1001"}, "limit"),
    ("/markets/trades", {"min_ts": "soon"}, "min_ts"),
    ("/historical/trades", {"max_ts": "1.5"}, "max_ts"),
    ("/markets/trades", {"cursor": "bm9wZQ=="}, "cursor"),
    ("/markets/trades", {"is_block_trade": "maybe"}, "is_block_trade"),
    ("/markets/orderbooks", {}, "tickers"),
    ("/markets/orderbooks", {"tickers": ",".join(f"T{i}" for i in range(101))}, "tickers"),
    ("/markets/candlesticks", {"start_ts": "1", "end_ts": "2", "period_interval": "60"}, "market_tickers"),
    ("/historical/markets", {"limit": "5000"}, "limit"),
])
async def test_bad_query_values_answer_400_naming_the_parameter(sim: Simulator, path: str, params: dict[str, str],
                                                                name: str) -> None:
    status, body = await get(sim.rest_url + path, **params)
    assert status == 400 and name in body["error"]["message"] and body["error"]["details"] == name


@pytest.mark.parametrize(("params", "name"), [
    ({"end_ts": "2", "period_interval": "60"}, "start_ts"),
    ({"start_ts": "1", "period_interval": "60"}, "end_ts"),
    ({"start_ts": "1", "end_ts": "2", "period_interval": "5"}, "period_interval"),
    ({"start_ts": "9", "end_ts": "2", "period_interval": "60"}, "end_ts"),
])
async def test_bad_candle_queries_name_the_parameter(sim: Simulator, params: dict[str, str], name: str) -> None:
    m = sim.engine.universe.markets[sim.trading_tickers()[0]]
    status, body = await get(f"{sim.rest_url}/series/{m.series}/markets/{m.ticker}/candlesticks", **params)
    assert status == 400 and body["error"]["details"] == name, body
