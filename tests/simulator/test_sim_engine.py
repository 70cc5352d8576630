"""The exchange model: determinism, realistic listings, time-based status, lifecycle messages."""

from __future__ import annotations

import json
import re

from ssmd.clock import ManualClock
from ssmd.fixed import parse_count, parse_price
from ssmd.simulator import SimSettings, Simulator
from ssmd.simulator.engine import MarketEngine
from ssmd.simulator.universe import S
from tests.simulator.client import Client

EPOCH = 1_784_840_400 * S


def stream(seed: int, markets: int = 30) -> tuple[list[str], list[bytes]]:
    engine = MarketEngine(seed, markets, EPOCH)
    out = []
    for i in range(20):
        out.extend(e.body for e in engine.generate(50, EPOCH + i * S))
    out.extend(e.body for e in engine.lifecycle_step(EPOCH + 30 * S))
    return sorted(engine.universe.markets), out


def test_same_seed_same_exchange() -> None:
    assert stream(5) == stream(5)
    assert stream(5) != stream(6)
    assert len(MarketEngine(5, 200, EPOCH).universe.markets) == 200


def test_listings_look_like_kalshi() -> None:
    engine = MarketEngine(3, 120, EPOCH, mve_markets=1)
    u = engine.universe
    tickers = list(u.markets)
    assert any(re.fullmatch(r"KXBTCD-\d\d[A-Z]{3}\d{4}-T\d+\.99", t) for t in tickers)
    assert any("." in t for t in tickers)
    assert any(re.fullmatch(r"KXBTC15M-\d\d[A-Z]{3}\d{6}-\d+", t) for t in tickers)
    assert {m.status for m in u.markets.values()} >= {"initialized", "active", "inactive", "closed", "determined",
                                                      "finalized"}
    assert {s.category for s in u.series.values()} >= {"Crypto", "Sports", "Economics", "Politics"}
    for m in u.markets.values():
        assert m.event in u.events and u.events[m.event].series == m.series
        assert m.ticker.startswith(m.event + "-")
        assert m.open_ns < m.close_ns
        if m.status in ("active", "inactive"):
            assert m.open_ns <= EPOCH < m.close_ns
        if m.status == "initialized":
            assert m.open_ns > EPOCH
        if m.status in ("closed", "determined", "finalized"):
            assert m.close_ns <= EPOCH


def test_prices_and_sizes_are_exact_strings_with_sub_penny_and_fractions() -> None:
    engine = MarketEngine(9, 60, EPOCH)
    prices, sizes = set(), set()
    for e in engine.generate(5000, EPOCH):
        msg = json.loads(e.body)
        if e.type == "orderbook_delta":
            prices.add(msg["price_dollars"])
            sizes.add(msg["delta_fp"])
        elif e.type == "trade":
            assert parse_price(msg["yes_price_dollars"]) + parse_price(msg["no_price_dollars"]) == 10_000
            sizes.add(msg["count_fp"])
    assert all(re.fullmatch(r"[01]\.\d{4}", p) for p in prices)
    assert all(re.fullmatch(r"-?\d+\.\d\d", s) for s in sizes)
    assert any(parse_price(p) % 100 for p in prices)  # sub-penny levels exist
    assert any(parse_count(s) % 100 for s in sizes)  # fractional contracts exist


def test_trades_and_tickers_agree_with_the_book() -> None:
    engine = MarketEngine(4, 10, EPOCH)
    tickers = trades = 0
    for _ in range(2000):
        events = engine.generate(1, EPOCH)
        book = engine.books[events[0].ticker]
        assert book.best_yes() + book.best_no() < 10_000  # never crossed
        if events[-1].type != "ticker":
            continue
        tickers += 1
        msg = json.loads(events[-1].body)
        bid, bid_size, ask, ask_size = book.top()
        assert (parse_price(msg["yes_bid_dollars"]), parse_count(msg["yes_bid_size_fp"])) == (bid, bid_size)
        assert (parse_price(msg["yes_ask_dollars"]), parse_count(msg["yes_ask_size_fp"])) == (ask, ask_size)
        assert parse_count(msg["volume_fp"]) == book.volume
        if events[0].type == "trade":
            trades += 1
            trade = json.loads(events[0].body)
            delta = json.loads(events[1].body)
            assert trade["count_fp"] == delta["delta_fp"].lstrip("-")
            assert msg["price_dollars"] == trade["yes_price_dollars"]
            assert msg["last_trade_size_fp"] == trade["count_fp"]
            hit_no = delta["side"] == "no"
            assert trade["taker_outcome_side"] == ("yes" if hit_no else "no")
    assert tickers > 100 and trades > 50


def test_open_and_close_by_time_send_nothing() -> None:
    engine = MarketEngine(8, 40, EPOCH)
    waiting = [m for m in engine.universe.markets.values() if m.status == "initialized"]
    assert waiting
    first = min(waiting, key=lambda m: m.open_ns)
    engine.advance(first.open_ns)
    assert first.status == "active" and first.ticker in [b.market.ticker for b in engine.trading()]
    live = min((m for m in engine.universe.markets.values() if m.status == "active"), key=lambda m: m.close_ns)
    engine.advance(live.close_ns)
    assert live.status == "closed"
    assert all(b.market.ticker != live.ticker for b in engine.trading())


async def test_lifecycle_messages_over_the_wire() -> None:
    clock = ManualClock(EPOCH)
    settings = SimSettings(markets=20, rate=0, lifecycle_interval=0, interleave=False, epoch_ns=EPOCH, clock=clock)
    async with Simulator(settings) as sim:
        client = await Client.open(sim.ws_url)
        [sid] = await client.subscribe(["market_lifecycle_v2"])
        created = sim.create_event("KXBTCD")
        ticker = created[0]
        event = sim.engine.market(ticker).event
        sim.deactivate(sim.trading_tickers()[0])
        sim.activate(sim.trading_tickers()[0])
        sim.update_close(ticker, EPOCH + 7200 * S)
        sim.update_metadata(ticker)
        sim.update_price_structure(ticker, "deci_cent")
        sim.update_event_fee(event, "flat", 0.25)
        sim.update_event_fee(event, None, None)
        sim.close_now(ticker)
        sim.determine(ticker, "yes")
        sim.settle(ticker)
        frames = await client.barrier()
        assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
        assert all(f["sid"] == sid for f in frames)
        kinds = [(f["type"], f["msg"].get("event_type")) for f in frames]
        assert kinds[0] == ("event_lifecycle", None)
        assert kinds[1:len(created) + 1] == [("market_lifecycle_v2", "created")] * len(created)
        assert [k[1] for k in kinds[len(created) + 1:]] == [
            "deactivated", "activated", "close_date_updated", "metadata_updated", "price_level_structure_updated",
            None, None, "determined", "settled"]
        ev = frames[0]["msg"]
        assert ev["event_ticker"] == event and ev["series_ticker"] == "KXBTCD" and "subtitle" in ev
        made = frames[1]["msg"]
        assert made["market_ticker"] == ticker and made["price_ranges"] and made["additional_metadata"]["event_ticker"]
        assert isinstance(made["open_ts"], int) and made["open_ts"] < 10**11
        fees = [f["msg"] for f in frames if f["type"] == "event_fee_update"]
        assert fees == [{"event_ticker": event, "fee_type_override": "flat", "fee_multiplier_override": 0.25},
                        {"event_ticker": event, "fee_type_override": None, "fee_multiplier_override": None}]
        determined = frames[-2]["msg"]
        assert determined["result"] == "yes" and determined["settlement_value"] == "1.0000"
        assert frames[-1]["msg"]["settled_ts"] == EPOCH // S
        assert sim.engine.market(ticker).status == "finalized"
        # opening by time: no message, but the market starts trading
        soon = sim.create_event("KXETHD")
        await client.barrier()
        clock.advance(3600)
        sim.pump_now(1)
        assert soon[0] in sim.trading_tickers()
        rest = await client.barrier()
        assert rest == []
        await client.close()


async def test_same_seed_same_rest_and_wire() -> None:
    async def capture() -> tuple[object, list[str]]:
        import aiohttp

        settings = SimSettings(markets=25, rate=0, lifecycle_interval=0, interleave=False, epoch_ns=EPOCH,
                               clock=ManualClock(EPOCH), seed=21)
        async with Simulator(settings) as sim, aiohttp.ClientSession() as http:
            async with http.get(sim.rest_url + "/markets", params={"limit": "1000"}) as resp:
                listing = await resp.json()
            client = await Client.open(sim.ws_url)
            await client.subscribe(["trade", "ticker"])
            sim.pump_now(300)
            await client.barrier()
            await client.close()
            return listing, client.texts

    first, second = await capture(), await capture()
    assert first == second
    assert len(first[1]) > 50
