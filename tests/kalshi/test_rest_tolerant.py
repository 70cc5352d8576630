"""Tolerant REST decoding: one odd market never costs the page; each oddity is reported."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from ssmd.kalshi.rest import KalshiRest
from ssmd.kalshi.rest_wire import Market, Series, _EventsPage, _MarketOne, _MarketsPage, _SeriesPage, decode
from ssmd.kalshi.tolerant import number_text
from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator


def _market(ticker: str | None = "KX-A", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ticker": ticker, "event_ticker": "KX", "status": "active", "volume_fp": "10.00",
                            "price_level_structure": "linear_cent",
                            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None or k in fields}


def _page(kind: type[Any], body: dict[str, Any]) -> Any:
    return decode(msgspec.json.encode(body), kind, msgspec.json.Decoder(kind))


def test_the_normal_page_is_decoded_strictly_with_nothing_to_report() -> None:
    got = _page(_MarketsPage, {"markets": [_market(), _market("KX-B")], "cursor": "c1"})
    assert [m.ticker for m in got.value.markets] == ["KX-A", "KX-B"] and got.value.cursor == "c1"
    assert got.repairs == [] and got.unkept == []


def test_odd_fields_are_coerced_and_the_page_kept() -> None:
    odd = _market("KX-ODD", settlement_timer_seconds="1800", floor_strike="13.1", cap_strike=14,
                  volume_fp=5, last_price_dollars=0.56, title=7, can_close_early="true", tick_size=1.0,
                  price_ranges=[{"start": 0, "end": 1, "step": 0.01}])
    got = _page(_MarketsPage, {"markets": [_market(), odd, _market("KX-B")], "cursor": ""})
    assert [m.ticker for m in got.value.markets] == ["KX-A", "KX-ODD", "KX-B"]
    m = got.value.markets[1]
    assert (m.settlement_timer_seconds, m.floor_strike, m.cap_strike) == (1800, 13.1, 14.0)
    assert (m.volume_fp, m.last_price_dollars, m.title, m.can_close_early, m.tick_size) == (
        "5.00", "0.5600", "7", True, 1)
    assert m.price_ranges is not None and m.price_ranges[0].step == "0.01"
    fixed = {(r.key, r.field, r.value_type, r.action) for r in got.repairs}
    assert fixed == {
        ("KX-ODD", "settlement_timer_seconds", "string", "coerced"), ("KX-ODD", "floor_strike", "string", "coerced"),
        ("KX-ODD", "volume_fp", "integer", "coerced"), ("KX-ODD", "last_price_dollars", "number", "coerced"),
        ("KX-ODD", "title", "integer", "coerced"), ("KX-ODD", "can_close_early", "string", "coerced"),
        ("KX-ODD", "tick_size", "number", "coerced"), ("KX-ODD", "price_ranges", "array", "coerced"),
    }  # cap_strike 14 is a valid number: nothing to report
    assert got.unkept == []


def test_unusable_fields_are_defaulted_and_markets_without_ticker_left_out() -> None:
    markets = [
        _market("KX-A", settlement_timer_seconds="soon", custom_strike="x", rules_primary=None),
        _market(None, title="no ticker"),
        None,
        "KX-C",
        _market("KX-D", event_ticker=None),
        _market(1234),
    ]
    got = _page(_MarketsPage, {"markets": markets})
    assert [m.ticker for m in got.value.markets] == ["KX-A", "KX-D", "1234"]
    a, d = got.value.markets[0], got.value.markets[1]
    assert (a.settlement_timer_seconds, a.custom_strike, a.rules_primary) == (None, None, "")
    assert d.event_ticker == ""
    assert {(r.key, r.field, r.action) for r in got.repairs} == {
        ("KX-A", "settlement_timer_seconds", "defaulted"), ("KX-A", "custom_strike", "defaulted"),
        ("KX-A", "rules_primary", "defaulted"), ("KX-D", "event_ticker", "defaulted"), ("1234", "ticker", "coerced")}
    assert [u.reason for u in got.unkept] == ["no ticker (null)", "not an object (null)", "not an object (string)"]


def test_legacy_integer_fields_fill_the_current_text_fields() -> None:
    got = _page(_MarketsPage, {"markets": [_market(volume_fp=None, volume=7, open_interest=3, last_price=12)]})
    m = got.value.markets[0]
    assert (m.volume_fp, m.open_interest_fp, m.last_price_dollars) == ("7.00", "3.00", "0.1200")
    assert {(r.field, r.action) for r in got.repairs} == {("volume", "coerced"), ("open_interest", "coerced"),
                                                          ("last_price", "coerced")}


def test_events_series_and_single_objects_are_tolerant_too() -> None:
    events = _page(_EventsPage, {"events": [{"event_ticker": "E1", "fee_multiplier_override": "0.5"},
                                            {"title": "no ticker"}]})
    assert [(e.event_ticker, e.fee_multiplier_override) for e in events.value.events] == [("E1", 0.5)]
    assert len(events.unkept) == 1 and events.unkept[0].kind == "event"
    series = _page(_SeriesPage, {"series": [{"ticker": "S", "fee_type": "flat", "fee_multiplier": "1",
                                             "tags": None, "categories": "Crypto"}]})
    s = series.value.series[0]
    assert isinstance(s, Series) and (s.fee_type, s.fee_multiplier, s.tags, s.categories) == ("flat", 1.0, None, None)
    one = _page(_MarketOne, {"market": _market(floor_strike="2.5")})
    assert isinstance(one.value.market, Market) and one.value.market.floor_strike == 2.5
    with pytest.raises(msgspec.ValidationError, match="market: no ticker"):
        _page(_MarketOne, {"market": _market(None)})


def test_an_odd_cursor_is_an_error_but_a_missing_list_is_empty() -> None:
    with pytest.raises(msgspec.ValidationError, match="cursor"):
        _page(_MarketsPage, {"markets": [_market()], "cursor": 5})
    got = _page(_MarketsPage, {"markets": None, "cursor": "x", "extra": 1})
    assert (got.value.markets, got.unkept) == (None, [])


def test_a_page_that_is_not_an_object_is_still_an_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        _page(_MarketsPage, {"markets": {"not": "a list"}})
    with pytest.raises(msgspec.DecodeError):
        decode(b"[1, 2]", _MarketsPage, msgspec.json.Decoder(_MarketsPage))


@pytest.mark.parametrize(("value", "places", "text"), [
    (5, 2, "5.00"), (0.56, 4, "0.5600"), (13.1, None, "13.1"), (1, None, "1"), (0.12345, 4, "0.12345"),
    (-2.5, 2, "-2.50"), (10**20, 2, "100000000000000000000.00"),
])
def test_number_text(value: float, places: int | None, text: str) -> None:
    assert number_text(value, places) == text


async def test_client_keeps_an_odd_market_logs_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    async with Simulator(SimSettings(markets=12, rate=0, lifecycle_interval=0)) as sim:
        tickers = sorted(t for t, m in sim.engine.universe.markets.items())
        sim.odd_market(tickers[1], settlement_timer_seconds="1800", floor_strike="13.1")
        with caplog.at_level(logging.WARNING, logger="ssmd.kalshi.rest"):
            async with KalshiRest(sim.rest_url, requests_per_second=1000) as rest:
                markets = await rest.markets(limit=5)
    assert sorted(m.ticker for m in markets) == tickers
    odd = next(m for m in markets if m.ticker == tickers[1])
    assert (odd.settlement_timer_seconds, odd.floor_strike) == (1800, 13.1)
    assert (rest.stats.coercions, rest.stats.skipped) == (2, 0)
    lines = [r for r in caplog.records if r.name == "ssmd.kalshi.rest"]
    assert len(lines) == 2
    fields = [r.fields for r in lines]  # type: ignore[attr-defined]
    assert {(f["ticker"], f["field"], f["value_type"], f["action"]) for f in fields} == {
        (tickers[1], "settlement_timer_seconds", "string", "coerced"),
        (tickers[1], "floor_strike", "string", "coerced")}
