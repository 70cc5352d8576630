"""REST objects → records: exact decimals, exact times, taker side, provenance."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pyarrow as pa
import pytest

from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.datasets import to_table
from ssmd.backfill import convert
from ssmd.errors import DataError
from ssmd.kalshi.marketdata import Candle, RestTrade, _HistCandle, from_historical
from ssmd.kalshi.rest import Market
from ssmd.kalshi.rest_records import trade_record

T = "KXBTCD-26JUL2317-T118999.99"
FETCHED = 1_784_480_000_123_456_789


def _trade(**fields: object) -> RestTrade:
    base = {"trade_id": "a1b2", "ticker": T, "yes_price_dollars": "0.9990", "no_price_dollars": "0.0010",
            "count_fp": "0.11", "taker_outcome_side": "no", "taker_side": "yes",
            "created_time": "2026-07-19T15:45:01.123456789Z", "is_block_trade": True}
    base.update(fields)
    return msgspec.convert(base, RestTrade)


def test_trade_is_exact_and_marked_rest() -> None:
    t = trade_record(_trade(), FETCHED)
    assert (t.ticker, t.trade_id, t.price, t.size) == (T, "a1b2", 9990, 11)
    assert t.side == "no"  # the taker's outcome side wins over the deprecated alias
    assert t.ts == 1_784_475_901_123_456_789
    assert (t.received_at, t.sid, t.seq, t.source, t.is_block_trade) == (FETCHED, 0, 0, "rest", True)
    assert trade_record(_trade(taker_outcome_side=None), FETCHED).side == "yes"
    assert trade_record(_trade(yes_price_dollars="", no_price_dollars="0.0001"), FETCHED).price == 9999
    assert trade_record(_trade(created_time="2026-07-19T17:45:01+02:00"), FETCHED).ts == 1_784_475_901 * 10**9
    # through the archive's column contract: DECIMAL(18,4) / (18,2), no float on the way
    buf = ColumnBuffer("trade")
    buf.append(trade_record(_trade(yes_price_dollars="0.0001", count_fp="123456.78"), FETCHED))
    row = buf.to_table().to_pylist()[0]
    assert (row["price"], row["size"], row["source"]) == (Decimal("0.0001"), Decimal("123456.78"), "rest")


@pytest.mark.parametrize(("fields", "message"), [
    ({"count_fp": "1.234"}, "more than 2 decimal places"),
    ({"count_fp": ""}, "no count_fp"),
    ({"yes_price_dollars": "", "no_price_dollars": ""}, "no yes_price_dollars"),
    ({"taker_outcome_side": "", "taker_side": ""}, "no taker side"),
    ({"created_time": "yesterday"}, "not an RFC 3339 time"),
])
def test_bad_trades_name_the_trade(fields: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=f"trade 'a1b2' of {T}.*{message}"):
        trade_record(_trade(**fields), FETCHED)


def test_candles_live_and_historical_agree() -> None:
    live = msgspec.convert({
        "end_period_ts": 1_784_475_960,
        "price": {"open_dollars": "0.4100", "high_dollars": "0.4300", "low_dollars": "0.4050",
                  "close_dollars": "0.4299"},
        "yes_bid": {"open_dollars": "0.40", "high_dollars": "0.42", "low_dollars": "0.40", "close_dollars": "0.4290"},
        "yes_ask": {"open_dollars": "0.42", "high_dollars": "0.44", "low_dollars": "0.41", "close_dollars": "0.4310"},
        "volume_fp": "12.34", "open_interest_fp": "1000.00"}, Candle)
    old = from_historical(msgspec.convert({
        "end_period_ts": 1_784_475_960,
        "price": {"open": "0.4100", "high": "0.4300", "low": "0.4050", "close": "0.4299"},
        "yes_bid": {"open": "0.40", "high": "0.42", "low": "0.40", "close": "0.4290"},
        "yes_ask": {"open": "0.42", "high": "0.44", "low": "0.41", "close": "0.4310"},
        "volume": "12.34", "open_interest": "1000.00"}, _HistCandle))
    a, b = convert.candle(T, "1m", live, FETCHED), convert.candle(T, "1m", old, FETCHED)
    assert a == b
    assert (a.end_period_ts, a.open, a.high, a.low, a.close) == (1_784_475_960 * 10**9, 4100, 4300, 4050, 4299)
    assert (a.yes_bid_close, a.yes_ask_low, a.volume, a.open_interest) == (4290, 4100, 1234, 100000)
    quiet = convert.candle(T, "1h", msgspec.convert({"end_period_ts": 1_784_476_800}, Candle), FETCHED)
    assert quiet.open is None and quiet.close is None and quiet.volume == 0
    row = to_table("candles", [a, quiet]).to_pylist()
    assert row[0]["close"] == Decimal("0.4299") and row[1]["close"] is None and row[0]["period"] == "1m"
    assert to_table("candles", [a]).schema.field("end_period_ts").type == pa.timestamp("us", tz="UTC")


def _market(**fields: object) -> Market:
    base = {"ticker": T, "event_ticker": "KXBTCD-26JUL2317", "title": "Bitcoin above?", "status": "finalized",
            "result": "yes", "settlement_value_dollars": "1.0000", "settlement_ts": "2026-07-23T21:10:00Z",
            "settlement_timer_seconds": 60, "open_time": "2026-07-23T16:00:00Z", "close_time": "2026-07-23T21:00:00Z",
            "volume_fp": "18234.00", "open_interest_fp": "9120.00", "expiration_value": "119,204.11"}
    base.update(fields)
    return msgspec.convert(base, Market)


def test_settlement_of_a_settled_market_only() -> None:
    s = convert.settlement(_market(), "KXBTCD", FETCHED)
    assert s is not None
    assert (s.ticker, s.series_ticker, s.result, s.settlement_value) == (T, "KXBTCD", "yes", 10000)
    assert s.settled_ts == 1_784_841_000 * 10**9 and s.determination_ts == s.settled_ts - 60 * 10**9
    assert (s.volume, s.open_interest, s.expiration_value) == (1823400, 912000, "119,204.11")
    assert convert.settlement(_market(status="active", result=""), "KXBTCD", FETCHED) is None
    assert convert.settlement(_market(status="determined"), "KXBTCD", FETCHED) is None  # not paid out yet
    row = to_table("settlements", [s]).to_pylist()[0]
    assert row["settlement_value"] == Decimal("1.0000") and row["volume"] == Decimal("18234.00")
