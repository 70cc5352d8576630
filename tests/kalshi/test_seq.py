"""Per-sid sequence tracking: gaps at once with details, duplicates dropped, restarts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssmd.kalshi.seq import SeqGap, SeqResult, SeqTracker


def test_gap_reports_sid_expected_received_time() -> None:
    t = SeqTracker()
    assert [t.check(5, s, 10) for s in (1, 2, 3)] == [SeqResult.OK] * 3
    assert t.check(5, 6, 99) is SeqResult.GAP
    assert t.last_gap == SeqGap(sid=5, expected=4, received=6, at_ns=99)
    assert t.check(5, 7, 100) is SeqResult.OK


def test_duplicates_and_older_are_dropped() -> None:
    t = SeqTracker()
    t.check(1, 1, 0)
    t.check(1, 2, 0)
    assert t.check(1, 2, 0) is SeqResult.DUPLICATE
    assert t.check(1, 1, 0) is SeqResult.DUPLICATE
    assert t.duplicates == 2 and t.last(1) == 2


def test_sids_are_independent_and_restart() -> None:
    t = SeqTracker()
    t.check(1, 1, 0)
    assert t.check(2, 1, 0) is SeqResult.OK
    assert t.check(3, 4, 0) is SeqResult.GAP  # a new sid starts at 1
    t.forget(1)
    assert t.check(1, 1, 0) is SeqResult.OK
    t.clear()
    assert t.check(2, 1, 0) is SeqResult.OK


def test_control_response_may_or_may_not_consume_a_number() -> None:
    t = SeqTracker()
    t.check(4, 1, 0)
    t.control(4, 1)  # reports the current seq: consumes nothing
    assert t.check(4, 2, 0) is SeqResult.OK
    t.control(4, 3)  # one ahead: it consumed 3
    assert t.check(4, 4, 0) is SeqResult.OK
    t.control(4, 5)
    assert t.check(4, 5, 0) is SeqResult.OK
    assert t.gaps == 0


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3), st.booleans()), max_size=60))
def test_matches_a_reference_model(steps: list[tuple[int, int, bool]]) -> None:
    """Each step sends on a sid after skipping ``skip`` numbers, optionally repeating a frame."""
    t = SeqTracker()
    sent = {1: 0, 2: 0, 3: 0}
    gaps = dups = 0
    for sid, skip, repeat in steps:
        seq = sent[sid] + 1 + skip
        expected = SeqResult.GAP if skip else SeqResult.OK
        result = t.check(sid, seq, seq)
        assert result is expected
        if skip:
            gaps += 1
            assert t.last_gap == SeqGap(sid=sid, expected=sent[sid] + 1, received=seq, at_ns=seq)
        sent[sid] = seq
        if repeat:
            assert t.check(sid, seq, 0) is SeqResult.DUPLICATE
            dups += 1
    assert (t.gaps, t.duplicates) == (gaps, dups)
