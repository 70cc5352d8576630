"""Normalization is exact: dollar strings and fractional counts become scaled ints without loss."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from ssmd.fixed import format_count, format_price
from ssmd.kalshi.normalize import Problem, derived_trade_id, normalize
from ssmd.kalshi.wire import decode
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Ticker, Trade

RECV = 1_784_840_410_000_000_000


def one(frame: object) -> object:
    result = normalize(decode(msgspec.json.encode(frame)), RECV)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def trade(**msg: object) -> dict:
    base = {"trade_id": "t1", "market_ticker": "KX-1.5", "yes_price_dollars": "0.6400", "count_fp": "25.00",
            "taker_outcome_side": "yes", "ts_ms": 1784840410123}
    base.update(msg)
    return {"type": "trade", "sid": 2, "seq": 7, "msg": {k: v for k, v in base.items() if v is not None}}


@given(st.integers(0, 10_000), st.integers(0, 10**12), st.integers(-(10**9), 10**9))
def test_fixed_point_round_trip(price: int, count: int, delta: int) -> None:
    t = one(trade(yes_price_dollars=format_price(price), count_fp=format_count(count)))
    assert isinstance(t, Trade) and (t.price, t.size) == (price, count)
    d = one({"type": "orderbook_delta", "sid": 5, "seq": 2, "msg": {
        "market_ticker": "M", "price_dollars": format_price(price), "delta_fp": format_count(delta), "side": "no"}})
    assert isinstance(d, OrderbookDelta) and (d.price, d.delta) == (price, delta)


@given(st.integers(0, 10_000), st.integers(0, 2))
def test_extra_zero_decimals_are_exact(price: int, extra: int) -> None:
    text = format_price(price) + "0" * extra
    t = one(trade(yes_price_dollars=text))
    assert isinstance(t, Trade) and t.price == price


def test_trade_side_aliases_and_time() -> None:
    assert one(trade(taker_outcome_side=None, taker_side="no")).side == "no"  # type: ignore[attr-defined]
    assert one(trade(taker_outcome_side=None, taker_book_side="ask")).side == "no"  # type: ignore[attr-defined]
    t = one(trade(ts_ms=None, ts=1773331880))
    assert isinstance(t, Trade) and t.ts == 1773331880 * 10**9
    legacy = one(trade(yes_price_dollars=None, count_fp=None, yes_price=89, count=3))
    assert isinstance(legacy, Trade) and (legacy.price, legacy.size) == (8900, 300)


def test_ticker_empty_string_is_no_value_and_rfc3339_fallback() -> None:
    t = one({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "price_dollars": "", "price": 0,
                                                  "yes_bid_dollars": "0.0010", "time": "2026-07-19T15:45:00.544125Z"}})
    assert isinstance(t, Ticker)
    assert t.price is None and t.yes_bid == 10 and t.yes_ask is None
    assert t.ts == 1784475900544125000


def test_snapshot_levels_sorted_and_missing_side_empty() -> None:
    s = one({"type": "orderbook_snapshot", "sid": 4, "seq": 1, "msg": {
        "market_ticker": "M", "yes_dollars_fp": [["0.6300", "15.50"], ["0.6100", "0.11"]]}})
    assert isinstance(s, OrderbookSnapshot)
    assert s.yes == ((6100, 11), (6300, 1550)) and s.no == ()


def test_lifecycle_fields() -> None:
    det = one({"type": "market_lifecycle_v2", "sid": 1, "seq": 3, "msg": {
        "market_ticker": "M", "event_type": "determined", "result": "scalar", "settlement_value": "0.4370",
        "determination_ts": 1784840405}})
    assert isinstance(det, Lifecycle)
    assert (det.result, det.settlement_value, det.determination_ts, det.ts) == ("scalar", 4370, 1784840405, RECV)
    old = one({"type": "market_lifecycle_v2", "sid": 1, "seq": 4, "msg": {
        "market_ticker": "M", "event_type": "determined", "settlement_value": 100}})
    assert isinstance(old, Lifecycle) and old.settlement_value == 10000


def problem(frame: object) -> Problem:
    result = normalize(decode(msgspec.json.encode(frame)), RECV)
    assert isinstance(result, Problem), result
    return result


def test_malformed_numbers_are_problems_naming_the_field() -> None:
    for bad in ("0.6.2", "abc", "1e-2", "0.12345", "-0.10", "1.5000", "NaN"):
        p = problem(trade(yes_price_dollars=bad))
        assert p.error_type == "bad_value" and "yes_price_dollars" in p.reason
    p = problem(trade(count_fp="12,00"))
    assert p.error_type == "bad_value" and "count_fp" in p.reason
    assert problem(trade(count_fp="-1.00")).error_type == "bad_value"
    assert problem(trade(taker_outcome_side="maybe")).error_type == "missing_field"


def test_undecodable_becomes_problem() -> None:
    assert normalize(decode(b"{nope"), RECV) == Problem("parse", normalize(decode(b"{nope"), RECV).reason)  # type: ignore[union-attr]
    p = normalize(decode(b'{"type":"new_thing"}'), RECV)
    assert isinstance(p, Problem) and p.error_type == "unknown_type"


def test_control_messages_have_no_records() -> None:
    assert normalize(decode(b'{"id":1,"type":"subscribed","msg":{"channel":"trade","sid":2}}'), RECV) == []


def test_trade_without_trade_id_gets_a_stable_derived_id() -> None:
    legacy = {"trade_id": None, "yes_price_dollars": None, "count_fp": None, "taker_outcome_side": None,
              "yes_price": 12, "count": 5, "taker_side": "yes", "ts_ms": None, "ts": 1732579882}
    first, again = one(trade(**legacy)), one(trade(**legacy))
    assert isinstance(first, Trade) and isinstance(again, Trade)
    assert first.trade_id_derived and first.trade_id == again.trade_id
    assert first.trade_id.startswith("derived-") and len(first.trade_id) == len("derived-") + 32
    assert derived_trade_id("KX-1.5", 1732579882 * 10**9, 1200, 500, "yes", 2, 7) == first.trade_id
    # the same content in the current string form is the same trade
    current = one(trade(trade_id="", yes_price_dollars="0.1200", count_fp="5.00", ts_ms=None, ts=1732579882))
    assert isinstance(current, Trade) and current.trade_id == first.trade_id and current.trade_id_derived
    # an equal trade later in the stream is another trade
    later = one({**trade(**legacy), "seq": 8})
    assert isinstance(later, Trade) and later.trade_id != first.trade_id
    plain = one(trade())
    assert isinstance(plain, Trade) and (plain.trade_id, plain.trade_id_derived, plain.source) == ("t1", False, "ws")


def test_rfc3339_times_are_exact_to_the_nanosecond() -> None:
    d = one({"type": "orderbook_delta", "sid": 5, "seq": 2, "msg": {
        "market_ticker": "M", "price_dollars": "0.5000", "delta_fp": "1.00", "side": "yes",
        "ts": "2026-01-01T12:00:00.539836022Z"}})
    assert isinstance(d, OrderbookDelta) and d.ts % 10**9 == 539836022
    assert d.ts == 1767268800_539836022
    t = one({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "time": "2026-01-01T12:00:00.000000001Z"}})
    assert isinstance(t, Ticker) and t.ts == 1767268800_000000001
    bad = problem({"type": "orderbook_delta", "sid": 5, "seq": 2, "msg": {
        "market_ticker": "M", "price_dollars": "0.5000", "delta_fp": "1.00", "side": "yes", "ts": "yesterday"}})
    assert bad.error_type == "bad_value" and "ts" in bad.reason


def test_market_id_and_clock_are_kept() -> None:
    uuid = "0f6f2c1e-52a4-4e55-9d1b-2c7b0e0a3f11"
    t = one({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "market_id": uuid, "Clock": 6598272994}})
    assert isinstance(t, Ticker) and (t.market_id, t.clock) == (uuid, 6598272994)
    bare = one({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "market_id": ""}})
    assert isinstance(bare, Ticker) and (bare.market_id, bare.clock) == (None, None)
    s = one({"type": "orderbook_snapshot", "sid": 4, "seq": 1, "msg": {"market_ticker": "M", "market_id": uuid}})
    assert isinstance(s, OrderbookSnapshot) and s.market_id == uuid
    d = one({"type": "orderbook_delta", "sid": 4, "seq": 2, "msg": {
        "market_ticker": "M", "market_id": uuid, "price_dollars": "0.5000", "delta_fp": "1.00", "side": "no"}})
    assert isinstance(d, OrderbookDelta) and d.market_id == uuid
