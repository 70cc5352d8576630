"""Planning a backfill (pure): bounds, windows at the cutoff, interval arithmetic, chunks."""

from __future__ import annotations

import itertools

import pytest

from ssmd.backfill import plan
from ssmd.backfill.plan import NS, Window
from ssmd.calendar import day_partition
from ssmd.config.model import Schedule
from ssmd.errors import SsmdError

UTC = Schedule(timezone="UTC", day_start="00:00", day_end="00:00")
DEFAULT = Schedule()  # UTC, trading days start at 00:10
D19 = 1_784_419_200 * NS  # 2026-07-19T00:00:00Z
H = 3600 * NS


def test_bounds_dates_times_and_errors() -> None:
    assert plan.parse_bound("2026-07-19", "--from", UTC, end=False) == D19
    assert plan.parse_bound("2026-07-19", "--to", UTC, end=True) == D19 + 24 * H  # the whole day
    assert plan.parse_bound("2026-07-19", "--from", DEFAULT, end=False) == D19 + 600 * NS
    assert plan.parse_bound("2026-07-19T14:30:00Z", "--to", UTC, end=True) == D19 + 14 * H + 1800 * NS
    assert plan.parse_bound("2026-07-19T16:30:00+02:00", "--to", UTC, end=True) == D19 + 14 * H + 1800 * NS
    for bad in ("19-07-2026", "2026-13-01", "yesterday", "14:30"):
        with pytest.raises(SsmdError, match=r"^--from .*YYYY-MM-DD"):
            plan.parse_bound(bad, "--from", UTC, end=False)
    with pytest.raises(SsmdError, match="--from '2026-07-20' is not before --to '2026-07-19'"):
        plan.check_range(D19 + 24 * H, D19, "2026-07-20", "2026-07-19")


def test_what_and_period() -> None:
    assert plan.parse_what("candles,trades") == ("trades", "candles")
    assert plan.parse_what(plan.DEFAULT_WHAT) == plan.WHATS
    assert plan.parse_periods("1d, 1m") == ("1m", "1d")
    assert plan.parse_what("markets,trades") == ("trades", "markets")
    with pytest.raises(SsmdError, match=r"^--what 'trades,quotes': use .*trades, candles, settlements, markets$"):
        plan.parse_what("trades,quotes")
    with pytest.raises(SsmdError, match=r"^--period '5m'"):
        plan.parse_periods("5m")


def test_split_at_cutoff() -> None:
    assert plan.split_at_cutoff(0, 100, 40) == [Window(0, 40, "historical"), Window(40, 100, "live")]
    assert plan.split_at_cutoff(50, 100, 40) == [Window(50, 100, "live")]
    assert plan.split_at_cutoff(0, 30, 40) == [Window(0, 30, "historical")]
    assert plan.split_at_cutoff(0, 40, 40) == [Window(0, 40, "historical")]
    assert plan.split_at_cutoff(0, 100, None) == [Window(0, 100, "live")]
    assert plan.split_at_cutoff(5, 5, 3) == []


def test_intervals() -> None:
    assert plan.merge([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)]) == [(0, 4), (5, 12)]
    assert plan.subtract(0, 100, []) == [(0, 100)]
    assert plan.subtract(0, 100, [(10, 20), (15, 30), (90, 200)]) == [(0, 10), (30, 90)]
    assert plan.subtract(0, 100, [(-5, 100)]) == []
    assert plan.subtract(10, 20, [(0, 5), (25, 30)]) == [(10, 20)]
    assert plan.clip(0, 100 * NS, 10 * NS, 50 * NS) == (10 * NS, 51 * NS)  # the close's second is in
    assert plan.clip(0, 100, None, None) == (0, 100)
    assert plan.clip(60 * NS, 100 * NS, 10 * NS, 58 * NS) is None


def test_day_chunks_follow_the_trading_day() -> None:
    start, end = D19 - 2 * H, D19 + 30 * H
    chunks = plan.day_chunks(DEFAULT, start, end)
    assert chunks[0][0] == start and chunks[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert [c[1] for c in chunks[:-1]] == [D19 + 600 * NS, D19 + 24 * H + 600 * NS]
    for lo, hi in chunks:  # each chunk lies in one day partition
        assert day_partition(DEFAULT, lo) == day_partition(DEFAULT, hi - 1000)


def test_candle_spans_and_chunks() -> None:
    minute = 60 * NS
    # whole periods: from the one holding the open, to the last ending by `end` and by the close's period
    assert plan.candle_span(D19 + 30 * NS, D19 + 10 * minute + 5 * NS, None, None, "1m") == (D19, D19 + 10 * minute)
    assert plan.candle_span(D19, D19 + 10 * minute, D19 + 90 * NS, D19 + 150 * NS, "1m") == (
        D19 + minute, D19 + 3 * minute)
    assert plan.candle_span(D19, D19 + 30 * NS, None, None, "1m") is None
    assert plan.candle_chunks(UTC, D19, D19 + 48 * H, "1m") == [(D19, D19 + 24 * H), (D19 + 24 * H, D19 + 48 * H)]
    hourly = plan.candle_chunks(UTC, D19, D19 + 6000 * H, "1h")
    assert hourly == [(D19, D19 + 5000 * H), (D19 + 5000 * H, D19 + 6000 * H)]
    assert plan.candle_chunks(UTC, D19, D19 + 400 * 24 * H, "1d") == [(D19, D19 + 400 * 24 * H)]
