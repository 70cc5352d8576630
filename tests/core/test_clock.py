"""Time bounds given by users (`--from`, `--to`, replay `from`/`to`), exact to the microsecond."""

from __future__ import annotations

import pytest

from ssmd.clock import parse_moment, rfc3339

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
