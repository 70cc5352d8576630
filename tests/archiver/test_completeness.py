"""A day's completeness and its coverage per market and hour, from gaps and row counts (pure)."""

from __future__ import annotations

from ssmd.archive import manifest as mf
from ssmd.archive.completeness import HOUR_NS, Cell, coverage, day_completeness, gap_state, hours_of
from ssmd.status import GapInfo, HealInfo

S = 1_000_000_000
H0 = 1_784_473_200 * S  # an hour boundary
HEALED = HealInfo(status="healed", method="rest:/markets/trades", at_ns=H0 + 100 * S, recovered=3)
FAILED = HealInfo(status="failed", method="rest:/markets/trades", at_ns=H0 + 100 * S, error="HTTP 500")


def test_trade_gaps_need_a_rest_heal_and_state_channels_need_only_to_close() -> None:
    trade = GapInfo(kind="outage", channel="trade", start_ns=H0, end_ns=H0 + 5 * S)
    assert gap_state(trade) == "degraded"
    assert gap_state(GapInfo(kind="outage", channel="trade", start_ns=H0, end_ns=H0 + S, healed=HEALED)) == "healed"
    assert gap_state(GapInfo(kind="outage", channel="trade", start_ns=H0, end_ns=H0 + S, healed=FAILED)) == "degraded"
    assert gap_state(GapInfo(kind="outage", channel="orderbook_delta", start_ns=H0, end_ns=H0 + S)) == "healed"
    assert gap_state(GapInfo(kind="outage", channel="ticker", start_ns=H0)) == "degraded"  # never came back


def test_day_completeness_is_the_worst_gap() -> None:
    book = GapInfo(kind="outage", channel="orderbook_delta", start_ns=H0, end_ns=H0 + S)
    healed = GapInfo(kind="seq", channel="trade", start_ns=H0, end_ns=H0, healed=HEALED)
    assert day_completeness([]) == "complete"
    assert day_completeness([book, healed]) == "healed"
    assert day_completeness([book, healed, GapInfo(kind="seq", channel="trade", start_ns=H0, end_ns=H0)]) == "degraded"


def test_coverage_marks_each_market_hour() -> None:
    hours = hours_of(H0, H0 + 3 * HOUR_NS)
    assert hours == [H0, H0 + HOUR_NS, H0 + 2 * HOUR_NS]
    cells = {("A", H0): Cell(ws_trades=5, updates=9), ("B", H0): Cell(updates=1),
             ("A", H0 + HOUR_NS): Cell(ws_trades=2, rest_trades=3), ("B", H0 + HOUR_NS): Cell(ws_trades=1)}
    gaps = [
        GapInfo(kind="outage", channel="trade", start_ns=H0 + HOUR_NS + 10 * S, end_ns=H0 + HOUR_NS + 20 * S,
                markets=["A"], healed=HEALED),
        GapInfo(kind="seq", channel="trade", start_ns=H0 + 2 * HOUR_NS + S, end_ns=H0 + 2 * HOUR_NS + S,
                markets=["B"]),
    ]
    rows = coverage("2026-07-19", hours, cells, gaps, ["C"], now_ns=H0 + 3 * HOUR_NS)
    status = {(r.ticker, (r.hour_ns - H0) // HOUR_NS): r.status for r in rows}
    assert status == {
        ("A", 0): "present", ("A", 1): "healed", ("A", 2): "absent",
        ("B", 0): "present", ("B", 1): "present", ("B", 2): "degraded",
        ("C", 0): "absent", ("C", 1): "absent", ("C", 2): "absent",
    }
    a1 = next(r for r in rows if r.ticker == "A" and r.hour_ns == H0 + HOUR_NS)
    assert (a1.ws_trades, a1.rest_trades) == (2, 3)
    assert a1.gaps and a1.gaps[0].startswith("outage/trade ") and a1.gaps[0].endswith(" healed")


def test_a_gap_without_markets_touches_every_market_until_it_ends() -> None:
    open_gap = GapInfo(kind="outage", channel="trade", start_ns=H0 + 50 * 60 * S)
    rows = coverage("d", hours_of(H0, H0 + 2 * HOUR_NS), {("A", H0): Cell(ws_trades=1)}, [open_gap], ["B"],
                    now_ns=H0 + HOUR_NS + 5 * S)
    assert {(r.ticker, r.hour_ns == H0): r.status for r in rows} == {
        ("A", True): "degraded", ("A", False): "degraded", ("B", True): "degraded", ("B", False): "degraded"}


def test_a_later_version_of_a_gap_adds_its_end_and_its_healing_never_removes_them() -> None:
    m = mf.new_manifest("kalshi", "2026-07-19", H0)
    start = GapInfo(kind="outage", channel="trade", start_ns=H0)
    assert mf.add_gap(m, start)
    assert mf.add_gap(m, GapInfo(kind="outage", channel="trade", start_ns=H0, end_ns=H0 + 5 * S))
    healed = GapInfo(kind="outage", channel="trade", start_ns=H0, end_ns=H0 + 5 * S, healed=HEALED)
    assert mf.add_gap(m, healed)
    assert not mf.add_gap(m, healed)
    assert not mf.add_gap(m, GapInfo(kind="outage", channel="trade", start_ns=H0))  # a late copy of the start
    assert len(m.gaps) == 1 and m.gaps[0].end_ns == H0 + 5 * S and m.gaps[0].healed == HEALED
