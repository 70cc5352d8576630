"""The market-data client against the real simulator: trade paging (live + historical =
the truth), books, candles, cutoff, historical markets, exchange status; 429 recovery."""

from __future__ import annotations

from typing import Any

import pytest

from ssmd.clock import rfc3339_ns
from ssmd.errors import NotFoundError
from ssmd.kalshi.rest import KalshiRest
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator
from ssmd.simulator.universe import S

HISTORY: dict[str, Any] = {"history_hours": 6, "live_window_hours": 3, "history_trades": 4000}


def _sim(**settings: Any) -> Simulator:
    return Simulator(SimSettings(markets=16, rate=0, lifecycle_interval=0, rest_bucket=1e9,
                                 rest_tokens_per_second=1e9, **settings))


def _client(url: str, **options: Any) -> KalshiRest:
    return KalshiRest(url, requests_per_second=1000, delays=lambda: iter([0.01] * 100), **options)


def test_rfc3339_ns_is_exact() -> None:
    assert rfc3339_ns("1970-01-01T00:00:01Z") == S
    assert rfc3339_ns("2026-07-23T16:00:00.123456789Z") == rfc3339_ns("2026-07-23T16:00:00Z") + 123_456_789
    assert rfc3339_ns("2026-07-23T18:00:00.5+02:00") == rfc3339_ns("2026-07-23T16:00:00Z") + S // 2
    with pytest.raises(ValueError, match="RFC 3339"):
        rfc3339_ns("yesterday")


async def test_backfill_live_and_historical_trades_gets_exactly_the_truth() -> None:
    async with _sim(**HISTORY) as sim, _client(sim.rest_url) as rest:
        sim.pump_now(800)
        live = [t async for page in rest.trade_pages(limit=250) for t in page]
        old = [t async for page in rest.trade_pages(limit=1000, historical=True) for t in page]
        cutoff = (await rest.historical_cutoff()).trades_created_ns()
        truth = sim.trades()
        assert cutoff == sim.cutoff_ns()
        assert all(t.created_ns() >= cutoff for t in live) and all(t.created_ns() < cutoff for t in old)
        assert [t.trade_id for t in live + old] == [t.trade_id for t in reversed(truth)]
        by_id = {t.trade_id: t for t in truth}
        for t in live[:50] + old[:50]:
            want = by_id[t.trade_id]
            assert (t.ticker, t.yes_price(), t.no_price(), t.contracts(), t.outcome_side(), t.created_ns()) == (
                want.ticker, want.yes_price, want.no_price, want.count, want.taker_side, want.created_ns)
        lo, hi = truth[100].created_ns // S, truth[-100].created_ns // S
        window = await rest.trades(min_ts=lo, max_ts=hi, ticker=truth[100].ticker)
        assert [t.trade_id for t in window] == [t.trade_id for t in reversed(sim.trades(truth[100].ticker))
                                                if lo * S <= t.created_ns <= hi * S and t.created_ns >= cutoff]


async def test_books_candles_and_exchange() -> None:
    async with _sim(**HISTORY) as sim, _client(sim.rest_url) as rest:
        sim.pump_now(500)
        tickers = sim.trading_tickers()[:4]
        book = await rest.orderbook(tickers[0])
        assert (dict(book.yes_levels()), dict(book.no_levels())) == sim.book(tickers[0])
        books = await rest.orderbooks(tickers, depth=2)
        assert list(books) == tickers and all(len(b.yes_levels()) <= 2 for b in books.values())
        with pytest.raises(NotFoundError):
            await rest.orderbook("NOPE-1")
        now = sim.settings.clock.now_ns() // S
        m = sim.engine.universe.markets[tickers[0]]
        candles = await rest.candlesticks(m.series, m.ticker, start_ts=now - 7 * 3600, end_ts=now + 3600,
                                          period_interval=60)
        assert sum(round(float(c.volume_fp) * 100) for c in candles) == sum(t.count for t in sim.trades(m.ticker))
        batch = await rest.batch_candlesticks(tickers, start_ts=now - 7 * 3600, end_ts=now + 3600,
                                              period_interval=60)
        assert list(batch) == tickers and batch[tickers[0]] == candles
        with pytest.raises(ValueError, match="period_interval"):
            await rest.candlesticks(m.series, m.ticker, start_ts=0, end_ts=1, period_interval=5)
        status = await rest.exchange_status()
        schedule = await rest.exchange_schedule()
        assert status.exchange_active and status.trading_active
        assert schedule.standard_hours and schedule.standard_hours[0].monday[0].open_time == "00:00"


async def test_historical_markets_and_candles() -> None:
    async with _sim(**HISTORY) as sim, _client(sim.rest_url) as rest:
        pages = [p async for p in rest.historical_market_pages(limit=4)]
        got = [m.ticker for p in pages for m in p]
        assert got == sim.historical_markets() and len(pages) > 1
        one = await rest.historical_market(got[0])
        assert one.status == "finalized" and one.result in ("yes", "no") and one.settlement_ts
        with pytest.raises(NotFoundError):
            await rest.historical_market(sim.trading_tickers()[0])
        m = sim.engine.universe.markets[got[0]]
        candles = await rest.candlesticks(m.series, m.ticker, start_ts=m.open_ns // S - 3600,
                                          end_ts=m.close_ns // S + 3600, period_interval=60, historical=True)
        assert candles and sum(round(float(c.volume_fp) * 100) for c in candles) == sum(
            t.count for t in sim.trades(m.ticker))
        traded = [c for c in candles if c.price.open_dollars is not None]
        assert traded and all(c.yes_bid.close_dollars for c in candles)


async def test_429_then_success() -> None:
    async with _sim() as sim, _client(sim.rest_url) as rest:
        sim.pump_now(300)
        sim.rest_fail_next(3)
        trades = await rest.trades()
        assert len(trades) == len(sim.trades()) and rest.stats.throttled == 3
