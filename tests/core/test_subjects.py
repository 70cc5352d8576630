"""A ticker is data: it survives the trip through a subject whatever it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssmd.subjects import cache_key, decode_token, encode_token, parse_record_subject, raw_subject, record_subject


def test_kalshi_ticker_with_dot() -> None:
    subject = record_subject("kalshi-local", "kalshi", "trade", "KXBTCD-26JUL2317-T118999.99")
    assert subject.count(".") == 3
    assert parse_record_subject(subject) == ("kalshi-local", "kalshi", "trade", "KXBTCD-26JUL2317-T118999.99")


def test_plain_ticker_is_unchanged() -> None:
    assert record_subject("e", "kalshi", "ticker", "INXD-25-B4000") == "e.kalshi.ticker.INXD-25-B4000"
    assert raw_subject("e", "kalshi", "trade") == "e.kalshi.raw.trade"
    assert cache_key("e", "secmaster", "markets") == "e:secmaster:markets"


@given(st.text(max_size=40))
def test_any_ticker_round_trips(ticker: str) -> None:
    token = encode_token(ticker)
    assert not any(c in token for c in ".*> \t\r\n")
    assert decode_token(token) == ticker
