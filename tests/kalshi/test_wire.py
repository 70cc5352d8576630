"""The decoder accepts every message shape of the reference and never raises."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.kalshi import wire


def test_subscribed_both_shapes() -> None:
    m = wire.decode(b'{"id":1,"type":"subscribed","msg":{"channel":"ticker","sid":1}}')
    assert isinstance(m, wire.Subscribed) and m.msg is not None
    assert (m.id, m.msg.channel, m.msg.sid) == (1, "ticker", 1)
    bare = wire.decode('{"type":"subscribed","id":7}')
    assert isinstance(bare, wire.Subscribed) and bare.id == 7 and bare.msg is None


def test_ok_in_all_shapes() -> None:
    current = wire.decode(b'{"id":125,"sid":456,"seq":222,"type":"ok","msg":{"market_tickers":["A","B.5"]}}')
    assert isinstance(current, wire.Ok) and current.tickers == ["A", "B.5"] and current.seq == 222
    older = wire.decode(b'{"id":9,"sid":4,"seq":2,"type":"ok","market_tickers":["A"]}')
    assert isinstance(older, wire.Ok) and older.tickers == ["A"]
    listing = wire.decode(b'{"id":3,"type":"ok","msg":[{"channel":"ticker","sid":1},{"channel":"trade","sid":2}]}')
    assert isinstance(listing, wire.Ok) and listing.tickers is None
    assert [(s.channel, s.sid) for s in listing.subscriptions or []] == [("ticker", 1), ("trade", 2)]


def test_unsubscribed_and_error() -> None:
    u = wire.decode(b'{"id":124,"sid":2,"seq":7,"type":"unsubscribed"}')
    assert isinstance(u, wire.Unsubscribed) and (u.id, u.sid, u.seq) == (124, 2, 7)
    e = wire.decode(b'{"type":"error","sid":5,"seq":9,"msg":{"code":25,"msg":"Subscription buffer overflow"}}')
    assert isinstance(e, wire.Error) and e.code == 25 and e.id is None
    assert e.reason == "error 25: Subscription buffer overflow"
    e26 = wire.decode(b'{"id":4,"type":"error","msg":{"code":26,"msg":"x","market_tickers":["A"]}}')
    assert isinstance(e26, wire.Error) and e26.msg is not None and e26.msg.market_tickers == ["A"]


def test_extra_fields_are_ignored() -> None:
    m = wire.decode(b'{"type":"trade","sid":2,"seq":3,"new":{"x":[1]},"msg":{"market_ticker":"T","trade_id":"t",'
                    b'"yes_price_dollars":"0.5000","count_fp":"1.00","taker_outcome_side":"no","future":1.5}}')
    assert isinstance(m, wire.Trade) and m.msg.taker_outcome_side == "no"


def test_unknown_type_keeps_raw_and_envelope() -> None:
    raw = b'{"type":"market_metrics","sid":9,"seq":4,"msg":{}}'
    m = wire.decode(raw)
    assert isinstance(m, wire.Undecodable)
    assert (m.error_type, m.raw, m.type, m.sid, m.seq) == ("unknown_type", raw, "market_metrics", 9, 4)


def test_wrong_shape_is_a_parse_problem_naming_the_field() -> None:
    m = wire.decode(b'{"type":"ticker","sid":1,"msg":{"price_dollars":"0.5"}}')
    assert isinstance(m, wire.Undecodable) and m.error_type == "parse" and "market_ticker" in m.reason
    assert m.type == "ticker" and m.sid == 1


def test_lifecycle_keeps_free_form_fields_verbatim() -> None:
    m = wire.decode(b'{"type":"market_lifecycle_v2","sid":1,"seq":2,"msg":{"market_ticker":"M","event_type":'
                    b'"metadata_updated","floor_strike":118999.99,"custom_strike":{"a":[1,2]}}}')
    assert isinstance(m, wire.MarketLifecycle)
    assert bytes(m.msg.floor_strike) == b"118999.99" and bytes(m.msg.custom_strike) == b'{"a":[1,2]}'
    assert not m.msg.cap_strike


@given(st.binary(max_size=200))
def test_decode_never_raises_on_bytes(data: bytes) -> None:
    assert wire.decode(data) is not None


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10),
       st.sampled_from([*sorted(wire.KNOWN_TYPES), "other"]))
def test_decode_never_raises_on_any_json(payload: object, msg_type: str) -> None:
    import msgspec

    frame = msgspec.json.encode({"type": msg_type, "sid": 1, "seq": 2, "msg": payload})
    assert wire.decode(frame) is not None


def test_a_frame_nested_past_the_recursion_limit_is_a_decode_error_not_a_crash() -> None:
    for opener, closer in ((b"[", b"]"), (b'{"n":', b"}")):
        frame = b'{"type":"trade","sid":2,"seq":1,"zz":' + opener * 50_000 + b"1" + closer * 50_000 + b"}"
        with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
            wire.decode_strict(frame)
        bad = wire.decode(frame)
        assert isinstance(bad, wire.Undecodable) and bad.error_type == "parse"
