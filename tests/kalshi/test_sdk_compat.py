"""The official Kalshi SDK (kalshi-python-sync) parses the simulator's market-data answers.

The SDK's strict pydantic models are a third-party check of the simulator's JSON shapes:
trades, order books, candlesticks (live, batch, historical), the historical cutoff and
markets, and the exchange status and schedule. Skipped when the SDK is not importable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator
from ssmd.simulator.universe import S

kalshi = pytest.importorskip("kalshi_python_sync")


def _exercise(sim: Simulator) -> dict[str, Any]:
    api = kalshi.ApiClient(kalshi.Configuration(host=sim.rest_url))
    market, history, exchange = kalshi.MarketApi(api), kalshi.HistoricalApi(api), kalshi.ExchangeApi(api)
    tickers = sim.trading_tickers()[:3]
    m = sim.engine.universe.markets[tickers[0]]
    old = sim.historical_markets()[0]
    now = sim.settings.clock.now_ns() // S
    return {
        "trades": market.get_trades(limit=50),
        "ticker_trades": market.get_trades(ticker=tickers[0], limit=1000),
        "book": market.get_market_orderbook(tickers[0]),
        "books": market.get_market_orderbooks(tickers=tickers),
        "candles": market.get_market_candlesticks(m.series, m.ticker, now - 6 * 3600, now + 3600, 60),
        "batch": market.batch_get_market_candlesticks(",".join(tickers), now - 3600, now + 3600, 1,
                                                      include_latest_before_start=True),
        "cutoff": history.get_historical_cutoff(),
        "old_trades": history.get_trades_historical(limit=20),
        "old_markets": history.get_historical_markets(limit=5),
        "old_market": history.get_historical_market(old),
        "old_candles": history.get_market_candlesticks_historical(old, now - 7 * 3600, now, 60),
        "status": exchange.get_exchange_status(),
        "schedule": exchange.get_exchange_schedule(),
        "market": market.get_market(tickers[0]),
    }


async def test_official_sdk_parses_the_simulator() -> None:
    settings = SimSettings(markets=16, rate=0, lifecycle_interval=0, rest_bucket=1e9, rest_tokens_per_second=1e9,
                           history_hours=6, live_window_hours=3, history_trades=3000)
    async with Simulator(settings) as sim:
        sim.pump_now(400)
        got = await asyncio.to_thread(_exercise, sim)
        truth = sim.trades()
        ticker = sim.trading_tickers()[0]
    assert [t.trade_id for t in got["trades"].trades] == [t.trade_id for t in reversed(truth)][:50]
    assert got["trades"].cursor
    first = got["trades"].trades[0]
    assert int(first.created_time.timestamp() * 1000) * 1_000_000 == truth[-1].created_ns
    assert first.taker_outcome_side in ("yes", "no") and first.taker_book_side in ("bid", "ask")
    assert {t.ticker for t in got["ticker_trades"].trades} == {ticker}
    assert got["book"].orderbook_fp.yes_dollars and len(got["books"].orderbooks) == 3
    assert got["candles"].ticker == ticker and got["candles"].candlesticks
    assert [m.market_ticker for m in got["batch"].markets] == sim.trading_tickers()[:3]
    cutoff = got["cutoff"]
    assert int(cutoff.trades_created_ts.timestamp()) * S == sim.cutoff_ns()
    assert all(int(t.created_time.timestamp() * 1000) * 1_000_000 < sim.cutoff_ns() for t in got["old_trades"].trades)
    assert [m.ticker for m in got["old_markets"].markets] == sim.historical_markets()[:5]
    assert got["old_market"].market.status == "finalized"
    assert got["old_candles"].candlesticks
    assert got["status"].exchange_active and got["status"].trading_active
    assert got["schedule"].schedule.standard_hours and got["market"].market.ticker == ticker
