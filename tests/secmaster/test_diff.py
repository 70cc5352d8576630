"""Change computation, status mapping and categories: pure logic."""

from __future__ import annotations

import msgspec
import pytest

from ssmd.kalshi.rest import Event, Market, Series
from ssmd.secmaster.diff import FieldChange, apply, change_from_json, diff
from ssmd.secmaster.model import (
    canonical_status,
    decode,
    encode,
    event_infos,
    expiration_ns,
    from_rest,
    is_ended,
    parse_time_ns,
)
from tests.secmaster.helpers import market

T = 1_784_840_400_000_000_000


def test_new_unchanged_updated_and_removed_markets_give_one_change_each() -> None:
    a, b, c = market("A-1"), market("B-1"), market("C-1")
    previous = {"A-1": a, "B-1": b, "C-1": c}
    current = {
        "A-1": a,
        "B-1": msgspec.structs.replace(b, close_time="2026-07-23T22:00:00Z", title="later"),
        "D-1": market("D-1"),
    }
    changes = diff(previous, current, ts=T)
    assert [(ch.type, ch.ticker) for ch in changes] == [
        ("market_updated", "B-1"), ("market_added", "D-1"), ("market_removed", "C-1"),
    ]
    updated = changes[0]
    assert updated.changes == {
        "close_time": FieldChange("2026-07-23T21:00:00Z", "2026-07-23T22:00:00Z"),
        "title": FieldChange("Bitcoin above $118,999.99?", "later"),
    }
    assert changes[2].market == c  # the removed market's last state travels with it
    assert all(ch.ts == T and ch.source == "sync" for ch in changes)


def test_incremental_listing_never_removes() -> None:
    previous = {"A-1": market("A-1"), "B-1": market("B-1")}
    assert diff(previous, {"A-1": market("A-1")}, ts=T, full=False) == []


def test_finalized_is_a_settlement_carrying_the_result() -> None:
    old = market("A-1", status="determined", result="yes")
    new = msgspec.structs.replace(old, status="finalized", settlement_ts="2026-07-23T21:10:00Z")
    (change,) = diff({"A-1": old}, {"A-1": new}, ts=T)
    assert change.type == "market_settled"
    assert change.result == "yes"
    assert change.changes["status"] == FieldChange("determined", "finalized")


def test_updated_time_alone_is_not_a_change() -> None:
    old = market("A-1", updated_time="2026-07-23T16:00:00Z")
    new = msgspec.structs.replace(old, updated_time="2026-07-23T17:00:00Z")
    assert diff({"A-1": old}, {"A-1": new}, ts=T) == []


def test_changes_round_trip_through_journal_json_and_apply() -> None:
    previous = {"A-1": market("A-1"), "C-1": market("C-1")}
    current = {"A-1": market("A-1", status="closed"), "B-1": market("B-1")}
    changes = diff(previous, current, ts=T)
    decoded = [change_from_json(msgspec.json.decode(msgspec.json.encode(ch.to_json()))) for ch in changes]
    assert decoded == changes
    state = dict(previous)
    apply(state, decoded)
    assert state == current


@pytest.mark.parametrize(
    ("given", "expected"),
    [("settled", "finalized"), ("finalized", "finalized"), ("open", "active"), ("unopened", "initialized"),
     ("paused", "inactive"), ("deactivated", "inactive"), ("Active", "active"), ("closed", "closed")],
)
def test_status_spellings_map_to_rest_values(given: str, expected: str) -> None:
    assert canonical_status(given) == expected


def test_pause_is_not_an_end_but_a_result_is() -> None:
    assert not is_ended("inactive")
    assert not is_ended("closed")
    assert is_ended("determined")
    assert is_ended("settled")


def test_category_comes_from_the_series_then_the_deprecated_event_field() -> None:
    events = [
        Event(event_ticker="KXBTCD-26JUL2317", series_ticker="KXBTCD", title="BTC 5pm", category="Old"),
        Event(event_ticker="POL-1", series_ticker="UNKNOWN", title="Vote", category="Politics"),
        Event(event_ticker="X-1", series_ticker="NONE", title="x"),
    ]
    series = [Series(ticker="KXBTCD", title="Bitcoin daily", category="Crypto")]
    infos = event_infos(events, series)
    assert infos["KXBTCD-26JUL2317"].category == "Crypto"
    assert infos["POL-1"].category == "Politics"
    assert infos["X-1"].category == ""
    wire = Market(ticker="KXBTCD-26JUL2317-T1", event_ticker="KXBTCD-26JUL2317", status="finalized", result="no")
    stored = from_rest(wire, infos["KXBTCD-26JUL2317"])
    assert (stored.series_ticker, stored.category, stored.event_title) == ("KXBTCD", "Crypto", "BTC 5pm")
    assert stored.status == "finalized"


def test_rest_market_decodes_tolerantly_and_stores_without_prices() -> None:
    body = (b'{"ticker":"T-1","event_ticker":"T","status":"active","yes_bid_dollars":"0.61",'
            b'"brand_new_field":{"x":1},"floor_strike":118999.99,"price_ranges":[{"start":"0","end":"1","step":"0.01"}]}')
    wire = msgspec.json.decode(body, type=Market)
    stored = from_rest(wire, None)
    assert stored.floor_strike == 118999.99
    assert "yes_bid_dollars" not in encode(stored)
    assert decode(encode(stored)) == stored


def test_expiration_prefers_expected_then_latest_then_close() -> None:
    assert expiration_ns(market("A", expected_expiration_time="2026-07-23T21:05:00Z")) == parse_time_ns(
        "2026-07-23T21:05:00Z")
    m = market("A", expected_expiration_time=None, latest_expiration_time=None)
    assert expiration_ns(m) == parse_time_ns("2026-07-23T21:00:00Z")
    assert parse_time_ns("2026-07-23T21:00:00.5Z") == parse_time_ns("2026-07-23T21:00:00Z") + 500_000_000
    assert parse_time_ns("not a time") is None
