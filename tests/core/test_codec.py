"""Cap'n Proto encoding of records is exact and lossless."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmd.codec import decode, encode, reference_decode, reference_encode
from ssmd.codec import encoding as codec
from ssmd.errors import DataError
from ssmd.records import RECORD_TYPES, Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade
from ssmd.resources import schemas_dir

RECORDS: list[Record] = [
    Trade(ts=1784475900544000000, received_at=1784475900545123456, ticker="KXBTCD-26JUL2317-T118999.99",
          trade_id="9c1f0a52", price=9990, size=11, side="no", sid=2, seq=2574, is_block_trade=True),
    Trade(ts=1732579880000000000, received_at=2, ticker="A", trade_id="derived-0f3a", price=1200, size=100,
          side="yes", sid=2, seq=7, source="rest", trade_id_derived=True),
    Ticker(ts=1, received_at=2, ticker="A", price=None, yes_bid=0, yes_ask=10000, yes_bid_size=0,
           yes_ask_size=None, last_trade_size=11, volume=223348748, open_interest=None, dollar_volume=-5,
           dollar_open_interest=309350, sid=1),
    Ticker(ts=1, received_at=2, ticker="A", price=12, yes_bid=None, yes_ask=None, yes_bid_size=None,
           yes_ask_size=None, last_trade_size=None, volume=None, open_interest=None, dollar_volume=None,
           dollar_open_interest=None, sid=1, market_id="2ee24704-7e13-4248-97f5-3b7ffabf4325", clock=6598272994),
    Ticker(ts=1, received_at=2, ticker="A", price=12, yes_bid=None, yes_ask=None, yes_bid_size=None,
           yes_ask_size=None, last_trade_size=None, volume=None, open_interest=None, dollar_volume=None,
           dollar_open_interest=None, sid=1, market_id="", clock=0),
    OrderbookSnapshot(ts=1, received_at=2, ticker="B", yes=((6100, 12000), (6300, 1550)), no=(), sid=5, seq=1),
    OrderbookSnapshot(ts=1, received_at=2, ticker="B", yes=(), no=((3500, 1),), sid=5, seq=1,
                      market_id="0f6f2c1e-52a4-4e55-9d1b-2c7b0e0a3f11"),
    OrderbookDelta(ts=1, received_at=2, ticker="B", side="yes", price=6300, delta=-1550, sid=5, seq=2),
    OrderbookDelta(ts=1, received_at=2, ticker="B", side="no", price=6300, delta=5, sid=5, seq=3, market_id=""),
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


# --- the fast codec against pycapnp, the reference implementation ---

I64 = st.integers(-(2**63), 2**63 - 1)
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "KXBTCD-26JUL2317-T118999.99", "A.B.C", ".", "é☃-ticker", "a\x00b"]),
    st.text(min_size=100, max_size=1500),
)
SIDES = st.sampled_from(["yes", "no"])
LEVELS = st.one_of(
    st.lists(st.tuples(I64, I64), max_size=8),
    st.lists(st.tuples(I64, I64), min_size=400, max_size=600),  # around the one-segment limit
).map(tuple)


def _optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


TRADES = st.builds(Trade, ts=I64, received_at=I64, ticker=TEXT, trade_id=TEXT, price=I64, size=I64,
                   side=SIDES, sid=U32, seq=U64, is_block_trade=st.booleans(),
                   source=st.sampled_from(["ws", "rest"]), trade_id_derived=st.booleans())
TICKERS = st.builds(Ticker, ts=I64, received_at=I64, ticker=TEXT, sid=U32, market_id=_optional(TEXT),
                    clock=_optional(I64),
                    **{name: _optional(I64) for name in (
                        "price", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size", "last_trade_size",
                        "volume", "open_interest", "dollar_volume", "dollar_open_interest")})
SNAPSHOTS = st.builds(OrderbookSnapshot, ts=I64, received_at=I64, ticker=TEXT, yes=LEVELS, no=LEVELS,
                      sid=U32, seq=U64, market_id=_optional(TEXT))
DELTAS = st.builds(OrderbookDelta, ts=I64, received_at=I64, ticker=TEXT, side=SIDES, price=I64, delta=I64,
                   sid=U32, seq=U64, market_id=_optional(TEXT))
LIFECYCLES = st.builds(Lifecycle, ts=I64, received_at=I64, ticker=TEXT, kind=TEXT, event_type=TEXT, sid=U32,
                       seq=U64, open_ts=_optional(I64), close_ts=_optional(I64), determination_ts=_optional(I64),
                       settled_ts=_optional(I64), result=_optional(TEXT), settlement_value=_optional(I64),
                       is_deactivated=_optional(st.booleans()), metadata=_optional(TEXT))
ANY_RECORD = st.one_of(TRADES, TICKERS, SNAPSHOTS, DELTAS, LIFECYCLES)


def _segments(data: bytes) -> int:
    return int.from_bytes(data[:4], "little") + 1


def _refuse(*args: object) -> NoReturn:
    raise AssertionError("the reference codec was used")


def _check_against_pycapnp(record: Record) -> None:
    expected = reference_encode(record)
    if _segments(expected) == 1:  # the generated codec handles it without pycapnp
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(codec, "reference_encode", _refuse)
            patch.setattr(codec, "reference_decode", _refuse)
            assert encode(record) == expected
            assert decode(record.TYPE, expected) == record
    assert encode(record) == expected
    assert decode(record.TYPE, expected) == record
    assert reference_decode(record.TYPE, encode(record)) == record


@settings(max_examples=150, deadline=None)
@given(TRADES)
def test_trade_bytes_match_pycapnp(record: Trade) -> None:
    _check_against_pycapnp(record)


@settings(max_examples=150, deadline=None)
@given(TICKERS)
def test_ticker_bytes_match_pycapnp(record: Ticker) -> None:
    _check_against_pycapnp(record)


@settings(max_examples=100, deadline=None)
@given(SNAPSHOTS)
def test_snapshot_bytes_match_pycapnp(record: OrderbookSnapshot) -> None:
    _check_against_pycapnp(record)


@settings(max_examples=150, deadline=None)
@given(DELTAS)
def test_delta_bytes_match_pycapnp(record: OrderbookDelta) -> None:
    _check_against_pycapnp(record)


@settings(max_examples=150, deadline=None)
@given(LIFECYCLES)
def test_lifecycle_bytes_match_pycapnp(record: Lifecycle) -> None:
    _check_against_pycapnp(record)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_examples_match_pycapnp(record: Record) -> None:
    _check_against_pycapnp(record)


@pytest.mark.parametrize("levels", [504, 505, 506, 2000])
def test_snapshot_at_the_segment_limit(levels: int) -> None:
    # 504 levels are the most pycapnp's first segment (1024 words) holds; 505 spill into a second one.
    yes = tuple((i, -i) for i in range(levels))
    record = OrderbookSnapshot(ts=1, received_at=2, ticker="x", yes=yes, no=(), sid=1, seq=1)
    data = encode(record)
    assert data == reference_encode(record)
    assert _segments(data) == (1 if levels <= 504 else 2)
    assert decode("orderbook", data) == record


@pytest.mark.parametrize("length", [8047, 8048, 8055, 8056, 8057, 8064])
def test_long_text_at_the_segment_limit(length: int) -> None:
    record = Lifecycle(ts=1, received_at=2, ticker="M", kind="k", event_type="e", sid=1, seq=1,
                       metadata="m" * length)
    data = encode(record)
    assert data == reference_encode(record)
    assert decode("lifecycle", data) == record


def test_out_of_range_value_is_a_data_error() -> None:
    bad = Trade(ts=1, received_at=2, ticker="T", trade_id="t", price=1, size=1, side="yes", sid=-1, seq=1)
    with pytest.raises(DataError, match="out-of-range"):
        encode(bad)
    with pytest.raises(DataError, match="no such enumerant"):
        encode(msgspec.structs.replace(bad, sid=1, side="maybe"))


# --- malformed bytes: a DataError with the reason, never a crash, never a wrong record ---

def _reference_or_error(record_type: str, data: bytes) -> object:
    try:
        return reference_decode(record_type, data)
    except Exception:  # pycapnp's own errors
        return DataError


@settings(max_examples=300, deadline=None)
@given(ANY_RECORD, st.data())
def test_corrupted_bytes_never_decode_wrongly(record: Record, data: st.DataObject) -> None:
    raw = bytearray(encode(record)[:8 * 80])
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), len(raw) - 8, len(raw) + 8, data.draw(st.integers(0, len(raw)))]))
    corrupted = bytes(raw[:cut]) + b"\0" * max(0, cut - len(raw))
    try:
        got = decode(record.TYPE, corrupted)
    except DataError:
        return  # pycapnp may read some of these (it does not check every rule), never mind
    assert got == _reference_or_error(record.TYPE, corrupted)  # what is read agrees with pycapnp


POINTERS = st.one_of(
    st.integers(0, 2**64 - 1),  # anything
    st.builds(lambda offset, size, count, kind: kind | (offset % 2**30) << 2 | size << 32 | count << 35,
              st.integers(-40, 40), st.integers(0, 7), st.integers(0, 300), st.integers(0, 3)),
)


@settings(max_examples=300, deadline=None)
@given(ANY_RECORD, st.data())
def test_corrupted_pointers_never_decode_wrongly(record: Record, data: st.DataObject) -> None:
    raw = bytearray(encode(record))
    if _segments(raw) != 1:
        return
    pointers, words = int.from_bytes(raw[14:16], "little"), int.from_bytes(raw[12:14], "little")
    index = data.draw(st.integers(0, pointers))  # one of the pointers, or the root pointer
    at = 16 + 8 * (words + index - 1) if index else 8
    raw[at:at + 8] = data.draw(POINTERS).to_bytes(8, "little")
    try:
        got = decode(record.TYPE, bytes(raw))
    except DataError:
        return
    assert got == _reference_or_error(record.TYPE, bytes(raw))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(RECORD_TYPES)), st.binary(max_size=200))
def test_random_bytes_raise_data_error(record_type: str, data: bytes) -> None:
    try:
        decode(record_type, data)
    except DataError as exc:
        assert str(exc).startswith(f"cannot decode {record_type} record")


TRADE_BYTES = encode(RECORDS[0])


@pytest.mark.parametrize(("data", "reason"), [
    (TRADE_BYTES[:-8], "premature"),
    (TRADE_BYTES[:4], "premature|multiple of eight"),
    (b"", "root pointer"),
    (TRADE_BYTES[:-8] + b"\xff" + TRADE_BYTES[-7:], "tradeId: text not NUL-terminated"),
    (TRADE_BYTES[:-16] + b"\xff" + TRADE_BYTES[-15:], "tradeId: text is not UTF-8"),
    (TRADE_BYTES[:76] + b"\xfa\xff\xff\xff" + TRADE_BYTES[80:], "ticker: text out of bounds"),  # its length
], ids=["truncated", "torn header", "empty", "no NUL", "bad utf-8", "text past the end"])
def test_malformed_trade_names_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DataError, match=f"cannot decode trade record .*({reason})"):
        decode("trade", data)


def test_reads_messages_of_a_newer_schema_version(tmp_path: Path) -> None:
    import capnp

    newer = (schemas_dir() / "trade.capnp").read_text()
    newer = newer.replace("@0xd1a6f3c1b2e4a701;", "@0xd1a6f3c1b2e4a7f1;").replace(
        "  tradeIdDerived @11 :Bool;\n", "  tradeIdDerived @11 :Bool;\n  venue @12 :Text;\n  fee @13 :Int64;\n")
    (tmp_path / "trade_v2.capnp").write_text(newer)
    message = capnp.load(str(tmp_path / "trade_v2.capnp")).Trade.new_message()
    expected = RECORDS[0]
    assert isinstance(expected, Trade)
    for field, value in {"ts": expected.ts, "receivedAt": expected.received_at, "ticker": expected.ticker,
                         "tradeId": expected.trade_id, "price": expected.price, "size": expected.size,
                         "side": expected.side, "sid": expected.sid, "seq": expected.seq,
                         "isBlockTrade": expected.is_block_trade, "source": expected.source,
                         "tradeIdDerived": expected.trade_id_derived}.items():
        setattr(message, field, value)
    message.venue = "X"
    message.fee = 7
    data = bytes(message.to_bytes())
    assert data != encode(expected)  # a wider struct: not the shape the generated decoder reads
    assert decode("trade", data) == expected


# --- v1 messages written before the appended fields still read, with the defaults ---

_APPENDED = {
    "trade": ("Trade", ["  source @10 :Source;\n", "  tradeIdDerived @11 :Bool;\n"]),
    "ticker": ("Ticker", ["  marketId @24 :Text;\n", "  hasMarketId @25 :Bool;\n", "  clock @26 :Int64;\n",
                          "  hasClock @27 :Bool;\n"]),
    "orderbook": ("OrderbookUpdate", ["  marketId @10 :Text;\n", "  hasMarketId @11 :Bool;\n"]),
}


@cache
def _first_v1(record_type: str) -> Any:
    """The schema as v1 was first published: without the appended fields (loaded once: pycapnp
    refuses a second file with the same id)."""
    import capnp

    name, appended = _APPENDED[record_type]
    text = (schemas_dir() / f"{record_type}.capnp").read_text()
    for line in appended:
        assert line in text
        text = text.replace(line, "")
    text = text.replace("0xd1a6f3c1b2e4a7", "0xd1a6f3c1b2e4b7")  # its own file id
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{record_type}_first.capnp"
        path.write_text(text)
        return getattr(capnp.load(str(path)), name)


def test_first_v1_messages_read_with_the_new_fields_defaulted() -> None:
    trade = _first_v1("trade").new_message(ts=1, receivedAt=2, ticker="T", tradeId="t", price=5,
                                                      size=100, side="no", sid=1, seq=9)
    assert decode("trade", bytes(trade.to_bytes())) == Trade(
        ts=1, received_at=2, ticker="T", trade_id="t", price=5, size=100, side="no", sid=1, seq=9)
    ticker = _first_v1("ticker").new_message(ts=1, receivedAt=2, ticker="T", sid=1, price=7,
                                                       hasPrice=True)
    got = decode("ticker", bytes(ticker.to_bytes()))
    assert isinstance(got, Ticker)
    assert (got.price, got.market_id, got.clock) == (7, None, None)
    book = _first_v1("orderbook").new_message(ts=1, receivedAt=2, ticker="B", sid=4, seq=2)
    book.init("delta").price = 6300
    got = decode("orderbook", bytes(book.to_bytes()))
    assert isinstance(got, OrderbookDelta)
    assert (got.price, got.market_id) == (6300, None)


def test_new_fields_are_ignored_by_first_v1_readers() -> None:
    record = RECORDS[1]
    assert isinstance(record, Trade)
    with _first_v1("trade").from_bytes(encode(record)) as old:
        assert (old.tradeId, old.price, old.seq) == (record.trade_id, record.price, record.seq)
