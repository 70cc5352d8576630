"""Time bounds given by users (`--from`, `--to`, replay `from`/`to`) and RFC 3339 times, exact to the nanosecond."""

from __future__ import annotations

import pytest

from ssmd.clock import parse_moment, rfc3339, rfc3339_ns

DAY = "2026-07-19"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:45", "2026-07-19T15:45:00.000Z"),
        ("15:45:01.500", "2026-07-19T15:45:01.500Z"),
        ("15:45Z", "2026-07-19T15:45:00.000Z"),
        ("2026-07-19T15:45:03Z", "2026-07-19T15:45:03.000Z"),
        ("2026-07-19 17:45:03+02:00", "2026-07-19T15:45:03.000Z"),
        ("2026-07-20", "2026-07-20T00:00:00.000Z"),
    ],
)
def test_parse_moment(text: str, expected: str) -> None:
    assert rfc3339(parse_moment(text, DAY)) == expected


def test_microseconds_are_exact() -> None:
    assert parse_moment("15:45:01.000001", DAY) % 1_000_000_000 == 1_000


@pytest.mark.parametrize("bad", ["25:00", "soon", "15h45", ""])
def test_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(bad, DAY)


def test_nanoseconds_are_exact() -> None:
    assert parse_moment("15:45:01.000000001", DAY) % 1_000_000_000 == 1
    assert parse_moment("2026-07-19T15:45:01.539836022Z", DAY) % 1_000_000_000 == 539_836_022


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T12:00:00.539836022Z", 1_767_268_800_539_836_022),
        ("2026-01-01T12:00:00Z", 1_767_268_800_000_000_000),
        ("2026-01-01T12:00:00.5z", 1_767_268_800_500_000_000),
        ("2026-01-01T14:00:00.000001+02:00", 1_767_268_800_000_001_000),
        ("2026-01-01 12:00:00.1234567891", 1_767_268_800_123_456_789),  # no offset: UTC; past ns: dropped
        ("1969-12-31T23:59:59.25Z", -750_000_000),
    ],
)
def test_rfc3339_ns(text: str, expected: int) -> None:
    assert rfc3339_ns(text) == expected


@pytest.mark.parametrize("bad", ["", "2026-01-01", "2026-01-01T12:00Z", "2026-01-01T12:00:00.Z", "soon",
                                 "2026-13-01T12:00:00Z", "2026-01-01T12:00:00+25:00"])
def test_rfc3339_ns_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        rfc3339_ns(bad)
