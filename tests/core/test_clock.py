"""Time bounds given by users (`--from`, `--to`, replay `from`/`to`) and RFC 3339 times, exact to the nanosecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

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


# ---- rfc3339: per-second cache, exact integer arithmetic --------------------------------------
def _rfc3339_before(ns: int) -> str:
    """The formatting ``rfc3339`` had before its per-second cache (float seconds)."""
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ns // 1_000_000) % 1000:03d}Z"


def _rfc3339_exact(ns: int) -> str:
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_NS = st.integers(min_value=-2_000_000_000_000_000_000, max_value=4_000_000_000_000_000_000)


@given(_NS)
def test_rfc3339_matches_the_exact_formatting(ns: int) -> None:
    assert rfc3339(ns) == _rfc3339_exact(ns)


@given(_NS)
def test_rfc3339_unchanged_away_from_a_second_boundary(ns: int) -> None:
    # the float formatting rounded to the microsecond, so within a microsecond of the next
    # second it showed that second (with the old millisecond): the one place it was wrong
    assume(ns % 1_000_000_000 < 999_998_000)
    assert rfc3339(ns) == _rfc3339_before(ns)


@given(st.lists(_NS, min_size=1, max_size=50))
def test_rfc3339_is_the_same_whatever_was_formatted_before(values: list[int]) -> None:
    for ns in values + values[::-1]:
        assert rfc3339(ns) == _rfc3339_exact(ns)


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (1_784_475_900_999_999_700, "2026-07-19T15:45:00.999Z"),  # was 15:45:01.999Z (float rounding)
        (1_784_475_901_000_000_000, "2026-07-19T15:45:01.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),  # was 1970-01-01T00:00:00.999Z
        (0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_rfc3339_truncates_to_the_millisecond(ns: int, expected: str) -> None:
    assert rfc3339(ns) == expected
