"""Lifecycle application, the open/close sweep and connector selection: pure logic."""

from __future__ import annotations

import msgspec

from ssmd.config.model import MarketSelector
from ssmd.secmaster.lifecycle import apply_lifecycle, sweep
from ssmd.secmaster.model import EventInfo, parse_time_ns
from ssmd.secmaster.selection import delta, selected, selects
from tests.secmaster.helpers import lifecycle, market

TICKER = "KXBTCD-26JUL2318-T118999.99"


def test_created_builds_an_initialized_market_from_the_message() -> None:
    record = lifecycle(
        TICKER, "created", open_ts=1784840400, close_ts=1784844000,
        metadata={
            "price_level_structure": "linear_cent",
            "additional_metadata": {
                "name": "Bitcoin price today at 6pm EDT?", "title": "Bitcoin above $118,999.99?",
                "yes_sub_title": "$119,000 or above", "event_ticker": "KXBTCD-26JUL2318",
                "expected_expiration_ts": 1784844300, "strike_type": "greater", "floor_strike": 118999.99,
            },
        },
    )
    new = apply_lifecycle(None, record, EventInfo(series_ticker="KXBTCD", category="Crypto", title="BTC 6pm"))
    assert new is not None
    assert new.status == "initialized"
    assert (new.event_ticker, new.series_ticker, new.category) == ("KXBTCD-26JUL2318", "KXBTCD", "Crypto")
    assert new.open_time == "2026-07-23T21:00:00Z"
    assert new.close_time == "2026-07-23T22:00:00Z"
    assert new.expected_expiration_time == "2026-07-23T22:05:00Z"
    assert new.floor_strike == 118999.99
    assert new.price_level_structure == "linear_cent"


def test_pause_and_resume_move_between_active_and_inactive() -> None:
    paused = apply_lifecycle(market(TICKER), lifecycle(TICKER, "deactivated", is_deactivated=True))
    assert paused is not None and paused.status == "inactive"
    resumed = apply_lifecycle(paused, lifecycle(TICKER, "activated", is_deactivated=False))
    assert resumed is not None and resumed.status == "active"
    done = market(TICKER, status="determined", result="no")
    assert apply_lifecycle(done, lifecycle(TICKER, "deactivated", is_deactivated=True)) == done
    assert apply_lifecycle(done, lifecycle(TICKER, "activated")) == done


def test_close_date_determination_and_settlement() -> None:
    m = market(TICKER)
    moved = apply_lifecycle(m, lifecycle(TICKER, "close_date_updated", close_ts=1784959200))
    assert moved is not None and moved.close_time == "2026-07-25T06:00:00Z"
    determined = apply_lifecycle(moved, lifecycle(TICKER, "determined", result="no", settlement_value=0))
    assert determined is not None
    assert (determined.status, determined.result, determined.settlement_value_dollars) == ("determined", "no", "0.0000")
    settled = apply_lifecycle(determined, lifecycle(TICKER, "settled", settled_ts=1784500206))
    assert settled is not None
    assert (settled.status, settled.result) == ("finalized", "no")
    assert settled.settlement_ts == "2026-07-19T22:30:06Z"


def test_determined_falls_back_to_the_result_in_additional_metadata() -> None:
    record = lifecycle(TICKER, "determined", metadata={"additional_metadata": {"result": "yes"}})
    new = apply_lifecycle(market(TICKER), record)
    assert new is not None and new.result == "yes"


def test_metadata_update_and_unknown_or_event_records() -> None:
    record = lifecycle(TICKER, "metadata_updated",
                       metadata={"strike_type": "between", "floor_strike": 119000, "cap_strike": 119250})
    new = apply_lifecycle(market(TICKER), record)
    assert new is not None and (new.strike_type, new.floor_strike, new.cap_strike) == ("between", 119000.0, 119250.0)
    assert apply_lifecycle(None, lifecycle(TICKER, "determined", result="yes")) is None
    event = msgspec.structs.replace(lifecycle("KXBTCD-26JUL2319", "created"), kind="event_lifecycle")
    assert apply_lifecycle(None, event) is None


def test_sweep_opens_by_open_time_and_closes_by_close_time() -> None:
    waiting = market("W-1", status="initialized", open_time="2026-07-23T16:00:00Z")
    open_ = market("O-1", status="active", close_time="2026-07-23T21:00:00Z")
    paused = market("P-1", status="inactive", close_time="2026-07-23T17:00:00Z")
    done = market("F-1", status="finalized", close_time="2026-07-23T10:00:00Z")
    at = parse_time_ns("2026-07-23T18:00:00Z")
    assert at is not None
    moved = {old.ticker: new.status for old, new in sweep([waiting, open_, paused, done], at)}
    assert moved == {"W-1": "active", "P-1": "closed"}
    before = sweep([waiting], at - 3 * 3600 * 10**9)
    assert before == []


def test_selection_all_list_and_selector() -> None:
    markets = [
        market("KXBTCD-A-1", series_ticker="KXBTCD", category="Crypto", status="active"),
        market("KXBTCD-A-2", series_ticker="KXBTCD", category="Crypto", status="inactive"),
        market("KXBTCD-A-3", series_ticker="KXBTCD", category="Crypto", status="determined"),
        market("NBA-B-1", series_ticker="NBA", category="Sports", status="initialized"),
        market("NBA-B-2", series_ticker="NBA", category="Sports", status="closed"),
        market("POL-C-1", series_ticker="POL", category="Politics", status="finalized"),
    ]
    assert selected("all", markets) == {"KXBTCD-A-1", "KXBTCD-A-2", "NBA-B-1", "NBA-B-2"}
    assert selected(["NBA-B-1", "POL-C-1", "NOPE"], markets) == {"NBA-B-1"}
    crypto = MarketSelector(categories=["Crypto"])  # default status: active, initialized
    assert selected(crypto, markets) == {"KXBTCD-A-1", "KXBTCD-A-2"}  # a paused market stays
    nba = MarketSelector(series=["NBA"], status=["open", "closed"], tickers=["KXBTCD-A-1"])
    assert selected(nba, markets) == {"NBA-B-2", "KXBTCD-A-1"}
    assert not selects(MarketSelector(tickers=["POL-C-1"]), markets[-1])  # ended markets never


def test_delta_says_what_to_subscribe_and_unsubscribe() -> None:
    change = delta({"A", "B"}, {"B", "C"})
    assert (change.add, change.remove) == (["C"], ["A"])
    assert not delta({"A"}, {"A"})


def test_created_and_structure_updates_carry_tick_size_ranges_and_fees() -> None:
    ranges = [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
    info = EventInfo(series_ticker="KXBTCD", category="Crypto", title="BTC 6pm", fee_type="quadratic",
                     fee_multiplier=1.0, fee_type_override="flat", fee_multiplier_override=0.5)
    created = apply_lifecycle(None, lifecycle(TICKER, "created", metadata={
        "price_level_structure": "linear_cent", "price_ranges": ranges,
        "additional_metadata": {"event_ticker": "KXBTCD-26JUL2318"}}), info)
    assert created is not None
    assert (created.tick_size_dollars, created.price_ranges) == ("0.0100", msgspec.json.encode(ranges).decode())
    assert (created.fee_type, created.fee_multiplier, created.fee_type_override, created.fee_multiplier_override) == (
        "quadratic", 1.0, "flat", 0.5)
    tapered = [{"start": "0.0000", "end": "0.1000", "step": "0.0010"},
               {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
               {"start": "0.9000", "end": "1.0000", "step": "0.0010"}]
    updated = apply_lifecycle(created, lifecycle(TICKER, "price_level_structure_updated", metadata={
        "price_level_structure": "tapered_deci_cent", "price_ranges": tapered}))
    assert updated is not None and updated.price_level_structure == "tapered_deci_cent"
    assert updated.tick_size_dollars == "0.0010" and updated.price_ranges == msgspec.json.encode(tapered).decode()
    bare = apply_lifecycle(created, lifecycle(TICKER, "price_level_structure_updated", metadata={
        "price_level_structure": "deci_cent"}))
    assert bare is not None and (bare.tick_size_dollars, bare.price_ranges) == ("0.0010", None)


def test_tick_size_prefers_rest_then_ranges_then_structure() -> None:
    from ssmd.kalshi.rest import PriceRange
    from ssmd.secmaster.model import tick_size

    assert tick_size(1, None, "deci_cent") == "0.0100"
    assert tick_size(None, [PriceRange(step="0.0100"), PriceRange(step="0.0010")], "linear_cent") == "0.0010"
    assert tick_size(None, [PriceRange(step="bad"), PriceRange(step="0")], "linear_cent") == "0.0100"
    assert tick_size(None, None, "banded_centi_cent") is None
    assert tick_size(None, None, None) is None
