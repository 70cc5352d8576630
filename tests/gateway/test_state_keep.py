"""``LiveState.keep`` (no client subscribed) leaves the same state as ``apply``."""

from __future__ import annotations

from ssmd import codec
from ssmd.gateway.state import LiveState
from tests.gateway.records import A, B, book, delta, lifecycle, ticker, trade


def test_keep_leaves_the_state_apply_leaves() -> None:
    records = [trade(n=1), ticker(n=1), book(n=1), delta(n=2), trade(B, n=2), lifecycle(n=3), ticker(B, n=4)]
    applied, kept = LiveState(), LiveState()
    for record in records:
        applied.apply(record)
        kept.keep(record)
    assert kept.records == applied.records == len(records)
    for t in (A, B):
        assert kept.snapshot(t) == applied.snapshot(t)
        assert kept.recent_trades(t, 10) == applied.recent_trades(t, 10)
        assert kept.top(t) == applied.top(t)


def test_fast_decoder_reads_what_decode_reads() -> None:
    fast = codec.fast_decoder("trade")
    assert fast is not None
    data = codec.encode(trade(n=5))
    assert fast(data) == codec.decode("trade", data) == trade(n=5)
