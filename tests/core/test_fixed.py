"""Exact fixed-point prices and counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.fixed import (
    FixedPointError,
    format_count,
    format_price,
    parse_count,
    parse_optional_price,
    parse_price,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.9990", 9990), ("0.5600", 5600), ("1.0000", 10000), ("0", 0), ("0.999000", 9990), (".5", 5000),
     ("-0.0100", -100), ("0.0001", 1)],
)
def test_parse_price(text: str, value: int) -> None:
    assert parse_price(text) == value


def test_counts_keep_fractions() -> None:
    assert parse_count("0.11") == 11
    assert parse_count("618700.14") == 61870014
    assert parse_count("-15.50") == -1550
    assert format_count(11) == "0.11"
    assert format_count(-1550) == "-15.50"


@pytest.mark.parametrize("bad", ["", "abc", "0.12345", "1e-3", "0.1.2", "--1", "."])
def test_rejects_what_it_cannot_represent(bad: str) -> None:
    with pytest.raises(FixedPointError):
        parse_price(bad)


def test_empty_string_is_no_value() -> None:
    assert parse_optional_price("") is None
    assert parse_optional_price(None) is None


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_price_round_trip(value: int) -> None:
    assert parse_price(format_price(value)) == value


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_count_round_trip(value: int) -> None:
    assert parse_count(format_count(value)) == value
