"""Simulated history across the cutoff: deterministic from the seed, trades split at the
trades cutoff (disjoint, union = the truth), settled markets before it only historical."""

from __future__ import annotations

from typing import Any

from ssmd.clock import rfc3339_ns
from ssmd.simulator import Simulator
from ssmd.simulator.engine import MarketEngine
from ssmd.simulator.history import HistorySpec
from ssmd.simulator.universe import S
from tests.simulator.test_sim_rest_data import FAST, all_trades, get

EPOCH = 1_784_840_400 * S
HISTORY = {"history_hours": 6, "live_window_hours": 3, "history_trades": 5000, **FAST}


def test_history_is_deterministic_and_leaves_the_live_stream_alone() -> None:
    spec = HistorySpec(hours=6, live_window_hours=3, trades=3000)
    a, b = MarketEngine(5, 30, EPOCH, history=spec), MarketEngine(5, 30, EPOCH, history=spec)
    assert [t.trade_id for t in a.tape.all()] == [t.trade_id for t in b.tape.all()]
    assert 2900 <= len(a.tape) <= 3000
    assert sorted(a.universe.markets) == sorted(b.universe.markets)
    plain = MarketEngine(5, 30, EPOCH)
    assert len(plain.tape) == 0 and plain.cutoff_ns == EPOCH - 2160 * 3600 * S
    for engine in (a, plain):
        engine.generate(500, EPOCH + S)
    live = [t.trade_id for t in a.tape.all() if t.created_ns >= EPOCH]
    assert live == [t.trade_id for t in plain.tape.all()]
    times = [t.created_ns for t in a.tape.all()]
    assert times == sorted(times) and times[0] >= EPOCH - 6 * 3600 * S
    assert MarketEngine(6, 30, EPOCH, history=spec).tape.all()[0].trade_id != a.tape.all()[0].trade_id


async def test_trades_split_at_the_cutoff(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(**HISTORY) as sim:
        sim.pump_now(500)
        cutoff = sim.cutoff_ns()
        status, body = await get(sim.rest_url + "/historical/cutoff")
        assert status == 200 and set(body) >= {"market_settled_ts", "trades_created_ts", "orders_updated_ts"}
        live = await all_trades(sim, limit=1000)
        old = await all_trades(sim, "/historical/trades", limit=1000)
        truth = sim.trades()
        assert old and live
        assert {t["trade_id"] for t in live}.isdisjoint(t["trade_id"] for t in old)
        assert [t["trade_id"] for t in live + old] == [t.trade_id for t in reversed(truth)]
        split = sum(1 for t in truth if t.created_ns < cutoff)
        assert len(old) == split
        ticker = old[0]["ticker"]
        mine = await all_trades(sim, "/historical/trades", ticker=ticker)
        assert [t["trade_id"] for t in mine] == [t.trade_id for t in reversed(sim.trades(ticker))
                                                 if t.created_ns < cutoff]


async def _markets(sim: Simulator, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, body = await get(sim.rest_url + path, cursor=cursor, **params)
        assert status == 200, body
        out.extend(body["markets"])
        cursor = body["cursor"]
        if not cursor:
            return out


async def test_markets_settled_before_the_cutoff_are_only_historical(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(**HISTORY) as sim:
        cutoff = sim.cutoff_ns()
        historical = sim.historical_markets()
        assert historical
        got = await _markets(sim, "/historical/markets", limit=3)
        assert [m["ticker"] for m in got] == historical
        for m in got:
            assert m["status"] == "finalized" and m["result"] in ("yes", "no")
            assert m["settlement_value_dollars"] == ("1.0000" if m["result"] == "yes" else "0.0000")
            assert rfc3339_ns(m["close_time"]) < rfc3339_ns(m["settlement_ts"]) < cutoff
        live = {m["ticker"] for m in await _markets(sim, "/markets", limit=1000)}
        assert live.isdisjoint(historical)
        settled_live = [m for m in sim.engine.universe.markets.values()
                        if m.settled_ns is not None and m.settled_ns >= cutoff]
        assert settled_live and {m.ticker for m in settled_live} <= live
        one = historical[0]
        assert (await get(f"{sim.rest_url}/markets/{one}"))[0] == 404
        status, body = await get(f"{sim.rest_url}/historical/markets/{one}")
        assert status == 200 and body["market"]["ticker"] == one
        assert (await get(f"{sim.rest_url}/historical/markets/{sim.trading_tickers()[0]}"))[0] == 404
        m = sim.engine.universe.markets[one]
        status, body = await get(f"{sim.rest_url}/historical/markets/{one}/candlesticks",
                                 start_ts=(m.open_ns - 3600 * S) // S, end_ts=m.close_ns // S + 3600,
                                 period_interval=60)
        assert status == 200 and body["candlesticks"]
        volume = sum(round(float(c["volume"]) * 100) for c in body["candlesticks"])
        assert volume == sum(t.count for t in sim.trades(one)) > 0
        status, _ = await get(f"{sim.rest_url}/series/{m.series}/markets/{one}/candlesticks",
                              start_ts=m.open_ns // S, end_ts=m.close_ns // S, period_interval=60)
        assert status == 404
        sim.set_cutoff(cutoff - 30 * 86400 * S)  # nothing historical any more
        assert sim.historical_markets() == [] and (await get(f"{sim.rest_url}/markets/{one}"))[0] == 200
