"""pykalshi (a third-party Kalshi client from PyPI) against the simulator, with signed requests.

pykalshi signs every REST request and the WebSocket upgrade (RSA-PSS), parses REST answers
into pydantic models and WebSocket frames into typed messages. Here it runs against a
simulator with ``auth="required"`` and a throwaway key, doing what a market-data user does:
markets (paging), one market, events, series, trades (paging, filters), order books,
candlesticks (per market, batch, historical), exchange status and schedule, the
historical endpoints, and ticker / trade / orderbook_delta streaming. Every answer is
compared with the simulator's own truth (``sim.trades()``, ``sim.book()``, its universe).

pykalshi has no setting for the WebSocket URL (only production or demo, derived from
``api_base``), so the tests set its ``Feed._ws_url`` / ``AsyncFeed._ws_url``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import InvalidStatus

from ssmd.fixed import format_count, format_price
from ssmd.kalshi.auth import generate_key, private_pem, public_pem
from ssmd.simulator.book import ONE
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator
from ssmd.simulator.tape import TapeTrade
from ssmd.simulator.universe import S

pykalshi = pytest.importorskip("pykalshi")
from pykalshi import (  # noqa: E402
    AsyncFeed,
    AsyncKalshiClient,
    CandlestickPeriod,
    KalshiClient,
    MarketStatus,
    OrderbookDeltaMessage,
    OrderbookSnapshotMessage,
    TickerMessage,
    TradeMessage,
)
from pykalshi.exceptions import AuthenticationError  # noqa: E402
from pykalshi.orderbook import OrderbookManager  # noqa: E402

KEY_ID = "5f0c6a3e-3b1d-4a8e-9d6f-2c7b1e9a4d10"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


@pytest.fixture
def key_files(tmp_path: Path, key: rsa.RSAPrivateKey) -> tuple[str, str]:
    """(private key path for pykalshi, public key path for the simulator)."""
    private, public = tmp_path / "kalshi.pem", tmp_path / "kalshi.pub.pem"
    private.write_text(private_pem(key))
    public.write_text(public_pem(key))
    return str(private), str(public)


def settings(public_path: str, **overrides: Any) -> SimSettings:
    base: dict[str, Any] = {
        "markets": 16, "rate": 0, "lifecycle_interval": 0, "seed": 5, "auth": "required",
        "public_keys": {KEY_ID: public_path}, "rest_bucket": 1e9, "rest_tokens_per_second": 1e9,
    }
    base.update(overrides)
    return SimSettings(**base)


def epoch_ns(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()) * S


def same_trade(got: Any, truth: TapeTrade) -> bool:
    return (got.trade_id == truth.trade_id and got.ticker == truth.ticker
            and got.yes_price_dollars == format_price(truth.yes_price)
            and got.no_price_dollars == format_price(truth.no_price)
            and got.count_fp == format_count(truth.count)
            and got.taker_outcome_side == truth.taker_side
            and got.taker_book_side == ("bid" if truth.taker_side == "yes" else "ask")
            and got.is_block_trade == truth.block and epoch_ns(got.created_time) == truth.created_ns // S * S)


def levels(side: dict[int, int]) -> list[tuple[str, str]]:
    """A book side as Kalshi lists it: [price_dollars, count_fp], ascending price."""
    return [(format_price(p), format_count(s)) for p, s in sorted(side.items())]


def best(side: dict[int, int]) -> tuple[int, int]:
    """(best bid, its size) of a book side; an empty side is price 0 with size 0 (as Kalshi shows it)."""
    price = max(side, default=0)
    return price, side.get(price, 0)


# -- REST ------------------------------------------------------------------------------------
def _rest(sim: Simulator, key_path: str) -> dict[str, Any]:
    """Every market-data call of pykalshi's sync client (run in a thread)."""
    u = sim.engine.universe
    now = sim.settings.clock.now_ns() // S
    tickers = sim.trading_tickers()
    busiest = max(tickers, key=lambda t: len(sim.trades(t)))
    old = max(sim.historical_markets(), key=lambda t: len(sim.trades(t)))
    with KalshiClient(api_key_id=KEY_ID, private_key_path=key_path, api_base=sim.rest_url, max_retries=0) as c:
        market = c.get_market(busiest)
        event = c.get_event(u.markets[busiest].event, with_nested_markets=True)
        open_s = u.markets[busiest].open_ns // S
        candles = market.get_candlesticks(open_s - 3600, now + 7200, CandlestickPeriod.ONE_HOUR)
        cutoff_s = sim.cutoff_ns() // S
        return {
            "markets_paged": c.get_markets(limit=7, fetch_all=True),
            "markets_page": c.get_markets(limit=7),
            "markets_open": c.get_markets(status=MarketStatus.OPEN, limit=1000),
            "market": market,
            "event": event,
            "event_markets": event.get_markets(),
            "events_paged": c.get_events(limit=3, fetch_all=True),
            "events_open": c.get_events(status=MarketStatus.OPEN, limit=200),
            "series": event.get_series(),
            "all_series": c.get_all_series(fetch_all=True),
            "trades": c.get_trades(limit=250, fetch_all=True),
            "ticker_trades": market.get_trades(limit=40, fetch_all=True),
            "window_trades": c.get_trades(min_ts=cutoff_s + 600, max_ts=cutoff_s + 3600, limit=1000),
            "book": market.get_orderbook(),
            "book_depth": market.get_orderbook(depth=2),
            "candles": candles,
            "minute_candles": market.get_candlesticks(now - 1800, now + 60, CandlestickPeriod.ONE_MINUTE),
            "batch": c.get_candlesticks_batch([busiest, *tickers[:2]], open_s - 3600, now + 7200),
            "status": c.exchange.get_status(),
            "trading": c.exchange.is_trading(),
            "schedule": c.exchange.get_schedule(),
            "cutoff": c.history.get_cutoff(),
            "old_markets": c.history.get_markets(limit=3, fetch_all=True),
            "old_market": c.history.get_market(old),
            "old_candles": c.history.get_candlesticks(old, start_ts=now - 30 * 3600, end_ts=now,
                                                      period=CandlestickPeriod.ONE_HOUR),
            "old_trades": c.history.get_trades(limit=1000, fetch_all=True),
            "old_ticker_trades": c.history.get_trades(ticker=old, limit=1000),
            "busiest": busiest, "old": old, "tickers": tickers,
        }


async def test_pykalshi_rest_market_data(key_files: tuple[str, str]) -> None:
    key_path, public_path = key_files
    async with Simulator(settings(public_path, history_hours=8, live_window_hours=4, history_trades=2500)) as sim:
        sim.pump_now(600)
        got = await asyncio.to_thread(_rest, sim, key_path)
        signed, requests = sim.http.rest_verified, sim.rest_requests
        refused = sim.http.rest_refused
    u = sim.engine.universe
    busiest, old = got["busiest"], got["old"]
    live = sorted(t for t in u.markets if not sim.hidden(t))

    # Every pykalshi request was signed, and the simulator verified each signature.
    assert requests > 30 and signed == requests and refused == 0

    # Markets: cursor paging (7 a page) walks the whole live list, in ticker order.
    assert [m.ticker for m in got["markets_paged"]] == live
    assert [m.ticker for m in got["markets_page"]] == live[:7]
    assert sorted(m.ticker for m in got["markets_open"]) == sorted(got["tickers"])
    assert {m.status for m in got["markets_open"]} == {MarketStatus.ACTIVE}

    # One market: top of book and last price as the simulator's book and tape have them.
    m, truth = got["market"], u.markets[busiest]
    yes, no = sim.book(busiest)
    assert (m.ticker, m.event_ticker, m.title, m.status) == (busiest, truth.event, truth.title, MarketStatus.ACTIVE)
    (bid, bid_size), (no_bid, no_size) = best(yes), best(no)
    assert m.yes_bid_dollars == format_price(bid) and m.yes_ask_dollars == format_price(ONE - no_bid)
    assert m.no_bid_dollars == format_price(no_bid) and m.no_ask_dollars == format_price(ONE - bid)
    assert m.yes_bid_size_fp == format_count(bid_size) and m.yes_ask_size_fp == format_count(no_size)
    assert m.last_price_dollars == format_price(sim.trades(busiest)[-1].yes_price)
    assert epoch_ns(m.close_time) == truth.close_ns // S * S

    # Event, its markets and series.
    event = got["event"]
    assert event.event_ticker == truth.event and event.series_ticker == truth.series
    assert event.title == u.events[truth.event].title
    assert [x.ticker for x in got["event_markets"]] == sorted(x.ticker for x in u.event_markets(truth.event)
                                                             if not sim.hidden(x.ticker))
    events = [e for e in u.sorted_events if not u.events[e].series.startswith("KXMVE")]
    assert [e.event_ticker for e in got["events_paged"]] == events
    assert {e.event_ticker for e in got["events_open"]} == {u.markets[t].event for t in got["tickers"]}
    series = got["series"]
    assert (series.ticker, series.title, series.category) == (truth.series, u.series[truth.series].title,
                                                             u.series[truth.series].category)
    assert sorted(s.ticker for s in got["all_series"]) == sorted(u.series)

    # Trades: newest first, paged 250 at a time through the live window; every field matches.
    cutoff = sim.cutoff_ns()
    tape = [t for t in reversed(sim.trades()) if t.created_ns >= cutoff]
    assert len(got["trades"]) == len(tape) > 250
    assert all(same_trade(g, t) for g, t in zip(got["trades"], tape, strict=True))
    mine = [t for t in tape if t.ticker == busiest]
    assert len(got["ticker_trades"]) == len(mine) > 40
    assert all(same_trade(g, t) for g, t in zip(got["ticker_trades"], mine, strict=True))
    lo, hi = cutoff // S + 600, cutoff // S + 3600
    window = [t for t in tape if lo * S <= t.created_ns <= hi * S]
    assert [t.trade_id for t in got["window_trades"]] == [t.trade_id for t in window] and window

    # Order book: both sides' bids, ascending, exactly the simulator's book; depth keeps the best.
    book = got["book"]
    assert book.orderbook.yes_dollars == levels(yes) and book.orderbook.no_dollars == levels(no)
    assert book.best_yes_bid is not None and Decimal(book.best_yes_bid) == Decimal(format_price(bid))
    assert book.best_yes_ask is not None and Decimal(book.best_yes_ask) == Decimal(format_price(ONE - no_bid))
    assert got["book_depth"].orderbook.yes_dollars == levels(yes)[-2:]
    assert got["book_depth"].orderbook.no_dollars == levels(no)[-2:]

    # Candles: hourly over the market's whole life hold all its trades; closes are the last trades.
    candles = got["candles"]
    assert candles.ticker == busiest and candles.candlesticks
    trades = sim.trades(busiest)
    total = Decimal(format_count(sum(t.count for t in trades)))
    assert sum(Decimal(c.volume_fp) for c in candles.candlesticks) == total
    traded = [c for c in candles.candlesticks if c.price.close_dollars is not None]
    assert traded
    for c in traded:
        inside = [t for t in trades if (c.end_period_ts - 3600) * S < t.created_ns <= c.end_period_ts * S]
        assert c.price.close_dollars == format_price(inside[-1].yes_price)
        assert c.price.high_dollars == format_price(max(t.yes_price for t in inside))
        assert Decimal(c.volume_fp) == Decimal(format_count(sum(t.count for t in inside)))
    assert [c.end_period_ts % 60 for c in got["minute_candles"].candlesticks] == [0] * len(
        got["minute_candles"].candlesticks)
    batch = got["batch"]
    assert list(batch) == list(dict.fromkeys([busiest, *got["tickers"][:2]]))
    assert batch[busiest].candlesticks == candles.candlesticks

    # Exchange.
    assert got["status"].exchange_active and got["status"].trading_active and got["trading"] is True
    schedule = got["schedule"]
    assert schedule["standard_hours"][0]["thursday"] == [{"open_time": "00:00", "close_time": "23:59"}]
    assert all(w["start_datetime"] < w["end_datetime"] for w in schedule["maintenance_windows"])

    # Historical: cutoff, settled markets (paged), their candles and the trades before the cutoff.
    assert epoch_ns(got["cutoff"].trades_created_ts) == cutoff // S * S
    assert epoch_ns(got["cutoff"].market_settled_ts) == cutoff // S * S
    assert [x.ticker for x in got["old_markets"]] == sim.historical_markets()
    old_market = got["old_market"]
    assert old_market.ticker == old and old_market.status == MarketStatus.FINALIZED
    assert old_market.result == u.markets[old].result
    old_trades = sim.trades(old)
    assert sum(Decimal(c.volume or "0") for c in got["old_candles"]) == Decimal(
        format_count(sum(t.count for t in old_trades)))
    before = [t for t in reversed(sim.trades()) if t.created_ns < cutoff]
    assert len(got["old_trades"]) == len(before) > 1000
    assert all(same_trade(g, t) for g, t in zip(got["old_trades"], before, strict=True))
    assert [t.trade_id for t in got["old_ticker_trades"]] == [t.trade_id for t in reversed(old_trades)]


async def test_pykalshi_async_client_and_feed(key_files: tuple[str, str]) -> None:
    key_path, public_path = key_files
    async with Simulator(settings(public_path, markets=4)) as sim:
        sim.pump_now(50)
        ticker = sim.trading_tickers()[0]
        yes, no = sim.book(ticker)
        async with AsyncKalshiClient(api_key_id=KEY_ID, private_key_path=key_path, api_base=sim.rest_url) as c:
            market = await c.get_market(ticker)
            book = await market.get_orderbook()
            feed = AsyncFeed(c)
            feed._ws_url = sim.ws_url
            feed.subscribe("orderbook_delta", market_ticker=ticker)
            async with feed:
                snapshot = await asyncio.wait_for(anext(aiter(feed)), 5)
        assert sim.http.rest_verified == 2 and sim.refused == 0 and sim.connections == 1
    assert market.ticker == ticker and market.yes_bid_dollars == format_price(best(yes)[0])
    assert book.orderbook.yes_dollars == levels(yes) and book.orderbook.no_dollars == levels(no)
    assert isinstance(snapshot, OrderbookSnapshotMessage) and snapshot.market_ticker == ticker
    assert snapshot.yes_dollars == levels(yes) and snapshot.no_dollars == levels(no)


async def test_pykalshi_with_the_wrong_key_is_refused(key_files: tuple[str, str], tmp_path: Path) -> None:
    key_path, public_path = key_files
    other = tmp_path / "other.pem"
    other.write_text(private_pem(generate_key()))
    async with Simulator(settings(public_path, markets=4)) as sim:
        ticker = sim.trading_tickers()[0]

        def call(key_id: str, path: str) -> AuthenticationError:
            with KalshiClient(api_key_id=key_id, private_key_path=path, api_base=sim.rest_url) as c:
                with pytest.raises(AuthenticationError) as info:
                    c.get_market(ticker)
                return info.value

        bad = await asyncio.to_thread(call, KEY_ID, str(other))
        unknown = await asyncio.to_thread(call, "someone-else", key_path)
        assert bad.status_code == unknown.status_code == 401
        assert isinstance(bad.response_body, dict) and isinstance(unknown.response_body, dict)
        assert bad.response_body["error"]["details"] == "INCORRECT_API_KEY_SIGNATURE"
        assert unknown.response_body["error"]["details"] == "NOT_FOUND"
        assert sim.http.rest_refused == 2 and sim.http.rest_verified == 0

        async with AsyncKalshiClient(api_key_id=KEY_ID, private_key_path=str(other), api_base=sim.rest_url) as c:
            feed = AsyncFeed(c)
            feed._ws_url = sim.ws_url
            with pytest.raises(InvalidStatus) as refused:
                await feed.connect()
        assert refused.value.response.status_code == 401 and sim.refused == 1 and sim.connections == 0


# -- WebSocket -------------------------------------------------------------------------------
async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_pykalshi_feed_streams_what_the_simulator_trades(key_files: tuple[str, str]) -> None:
    key_path, public_path = key_files
    async with Simulator(settings(public_path)) as sim:
        tickers = sim.trading_tickers()[:6]
        client = KalshiClient(api_key_id=KEY_ID, private_key_path=key_path, api_base=sim.rest_url)
        feed = client.feed()
        feed._ws_url = sim.ws_url
        got: dict[str, list[Any]] = {"ticker": [], "trade": [], "orderbook_delta": []}
        for channel, received in got.items():
            feed.on(channel, received.append)
            feed.subscribe(channel, market_tickers=tickers)
        await asyncio.to_thread(feed.start)
        try:
            assert feed.is_connected and sim.refused == 0 and sim.connections == 1
            await until(lambda: sum(isinstance(m, OrderbookSnapshotMessage) for m in got["orderbook_delta"])
                        == len(tickers), "snapshots")
            before = len(sim.trades())
            for _ in range(5):
                await sim.pump(200)
            new = [t for t in sim.trades()[before:] if t.ticker in tickers]
            assert len(new) > 10
            await until(lambda: len(got["trade"]) == len(new), "trades")
            # every frame of the channel but its one "subscribed" ack (which pykalshi consumes)
            await until(lambda: not any(c.buf for c in sim.conns.values())
                        and len(got["orderbook_delta"]) == sim.frames_sent(channel="orderbook_delta") - 1, "deltas")
            assert len(got["ticker"]) == sim.frames_sent(channel="ticker") - 1
        finally:
            await asyncio.to_thread(feed.stop)  # about 2 s: pykalshi's stop() times out on its own close
            client.close()

    # Trades: typed, in order, every field as the tape has it.
    assert all(isinstance(m, TradeMessage) for m in got["trade"])
    for msg, truth in zip(got["trade"], new, strict=True):
        assert (msg.trade_id, msg.market_ticker) == (truth.trade_id, truth.ticker)
        assert (msg.yes_price_dollars, msg.no_price_dollars) == (format_price(truth.yes_price),
                                                                 format_price(truth.no_price))
        assert msg.count_fp == format_count(truth.count) and msg.taker_outcome_side == truth.taker_side
        assert msg.ts_ms is not None and msg.ts_ms * 1_000_000 == truth.created_ns

    # Order books: pykalshi's OrderbookManager rebuilt from snapshot + deltas is the simulator's book.
    books: dict[str, OrderbookManager] = {}
    for msg in got["orderbook_delta"]:
        if isinstance(msg, OrderbookSnapshotMessage):
            books[msg.market_ticker] = OrderbookManager(msg.market_ticker)
            books[msg.market_ticker].apply_snapshot(msg.yes_dollars, msg.no_dollars)
        else:
            assert isinstance(msg, OrderbookDeltaMessage)
            books[msg.market_ticker].apply_delta(msg.side, msg.price_dollars, msg.delta_fp)
    assert set(books) == set(tickers)
    for ticker, local in books.items():
        yes, no = sim.book(ticker)
        assert {p: Decimal(q) for p, q in local.yes.items()} == {p: Decimal(q) for p, q in levels(yes)}
        assert {p: Decimal(q) for p, q in local.no.items()} == {p: Decimal(q) for p, q in levels(no)}
        if yes:
            assert local.best_bid is not None and Decimal(local.best_bid) == Decimal(format_price(best(yes)[0]))

    # Tickers: the last one of each market that moved shows its final top of book and last trade.
    assert all(isinstance(m, TickerMessage) for m in got["ticker"])
    last = {m.market_ticker: m for m in got["ticker"]}
    traded = {t.ticker: t for t in new}
    assert traded and set(traded) <= set(last)
    for ticker, msg in last.items():
        yes, no = sim.book(ticker)
        (bid, bid_size), (no_bid, no_size) = best(yes), best(no)
        assert msg.yes_bid_dollars == format_price(bid) and msg.yes_ask_dollars == format_price(ONE - no_bid)
        assert msg.yes_bid_size_fp == format_count(bid_size) and msg.yes_ask_size_fp == format_count(no_size)
        if ticker in traded:
            assert msg.price_dollars == format_price(traded[ticker].yes_price)
            assert msg.last_trade_size_fp == format_count(traded[ticker].count)
