"""Cap'n Proto encoding of records is exact and lossless."""

from __future__ import annotations

import pytest

from ssmd.codec import decode, encode
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade

RECORDS: list[Record] = [
    Trade(ts=1784475900544000000, received_at=1784475900545123456, ticker="KXBTCD-26JUL2317-T118999.99",
          trade_id="9c1f0a52", price=9990, size=11, side="no", sid=2, seq=2574, is_block_trade=True),
    Ticker(ts=1, received_at=2, ticker="A", price=None, yes_bid=0, yes_ask=10000, yes_bid_size=0,
           yes_ask_size=None, last_trade_size=11, volume=223348748, open_interest=None, dollar_volume=-5,
           dollar_open_interest=309350, sid=1),
    OrderbookSnapshot(ts=1, received_at=2, ticker="B", yes=((6100, 12000), (6300, 1550)), no=(), sid=5, seq=1),
    OrderbookDelta(ts=1, received_at=2, ticker="B", side="yes", price=6300, delta=-1550, sid=5, seq=2),
    Lifecycle(ts=1, received_at=2, ticker="M", kind="market_lifecycle_v2", event_type="determined", sid=1,
              seq=279597, determination_ts=1784501722, result="no", settlement_value=0),
    Lifecycle(ts=1, received_at=2, ticker="E", kind="event_lifecycle", event_type="event_created", sid=1, seq=3,
              metadata='{"title":"x"}', is_deactivated=False),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip(record: Record) -> None:
    assert decode(record.TYPE, encode(record)) == record


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown record type"):
        decode("quote", b"")
