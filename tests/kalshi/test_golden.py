"""Normalizing every fixture frame gives exactly the golden output, and it survives Cap'n Proto."""

from __future__ import annotations

import json

import pytest

from ssmd.codec import decode as capnp_decode
from ssmd.codec import encode as capnp_encode
from ssmd.kalshi.normalize import Problem, normalize
from ssmd.kalshi.wire import decode
from tests.kalshi.golden import FRAMES, GOLDEN, golden_lines

FIXTURE = [json.loads(line) for line in FRAMES.read_text().splitlines() if line.strip()]


def test_golden_matches_exactly() -> None:
    expected = GOLDEN.read_text().splitlines()
    actual = golden_lines()
    assert len(actual) == len(FIXTURE)
    for want, got in zip(expected, actual, strict=True):
        assert json.loads(got) == json.loads(want)
        assert got == want


@pytest.mark.parametrize("line", FIXTURE, ids=lambda d: d["type"])
def test_records_round_trip_through_capnp(line: dict) -> None:
    result = normalize(decode(line["frame"]), line["received_at"])
    if isinstance(result, Problem):
        return
    for record in result:
        assert capnp_decode(record.TYPE, capnp_encode(record)) == record


def test_fixture_covers_every_outcome() -> None:
    golden = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    classes = {r["class"] for g in golden for r in g.get("records", [])}
    assert classes == {"Ticker", "Trade", "OrderbookSnapshot", "OrderbookDelta", "Lifecycle"}
    problems = {g["problem"]["error_type"] for g in golden if "problem" in g}
    assert problems == {"unknown_type", "parse", "bad_value"}
