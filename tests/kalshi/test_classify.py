"""``ssmd.kalshi.classify``: every decoded message has one role for the connector."""

from __future__ import annotations

from ssmd.kalshi import classify, wire


def test_every_decoded_class_has_exactly_one_role() -> None:
    control = {classify.SUBSCRIBED, classify.OK, classify.UNSUBSCRIBED, classify.ERROR}
    for cls in (*wire.DATA_TYPES, *wire.CONTROL_TYPES, wire.Undecodable):
        roles = [cls in classify.SEQUENCED, cls is classify.UNSEQUENCED, cls is classify.UNDECODABLE, cls in control]
        assert roles.count(True) == 1, cls
    assert {classify.BOOK_SNAPSHOT, classify.BOOK_DELTA} == classify.BOOK and classify.BOOK <= classify.SEQUENCED
    assert set(classify.TYPE_NAME) == {*wire.DATA_TYPES, *wire.CONTROL_TYPES}
    assert {classify.TYPE_NAME[cls] for cls in classify.SEQUENCED | {classify.UNSEQUENCED}} <= set(
        classify.CHANNEL_OF_TYPE)
    assert classify.UNSEQUENCED_TYPE == classify.UNSEQUENCED_CHANNEL == "ticker"


def test_decode_and_book_ticker() -> None:
    frame = (b'{"type":"orderbook_delta","sid":3,"seq":7,"msg":{"market_ticker":"KXBTCD-26JUL2317-T118999.99",'
             b'"price_dollars":"0.40","delta_fp":"5.00","side":"yes"}}')
    msg = classify.decode(frame)
    assert type(msg) is classify.BOOK_DELTA and classify.book_ticker(msg) == "KXBTCD-26JUL2317-T118999.99"
    try:
        classify.decode(b'{"type":"nope"}')
    except classify.DecodeError as exc:
        bad = classify.undecodable(b'{"type":"nope"}', str(exc))
    assert type(bad) is classify.UNDECODABLE and bad.error_type == "unknown_type"
