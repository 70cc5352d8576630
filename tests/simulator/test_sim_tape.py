"""The trade tape and candles, pure: newest-first paging, bounds, trimming; candles from trades."""

from __future__ import annotations

import pytest

from ssmd.simulator.candles import candles
from ssmd.simulator.tape import TapeTrade, TradeTape
from ssmd.simulator.universe import Market, S

T0 = 1_784_840_400 * S


def trade(i: int, ticker: str = "A", ms: int | None = None, price: int = 5000, taker: str = "yes") -> TapeTrade:
    return TapeTrade(f"id{i}", ticker, price, 100 + i, taker, T0 + (ms if ms is not None else i * 1000) * 1_000_000,
                     i % 7 == 0)


def filled(n: int, limit: int = 1000) -> TradeTape:
    tape = TradeTape(limit)
    for i in range(n):
        tape.append(trade(i, "AB"[i % 2]))
    return tape


def pages(tape: TradeTape, **query: object) -> list[list[str]]:
    out: list[list[str]] = []
    before = None
    while True:
        page, before = tape.page(before=before, **query)  # type: ignore[arg-type]
        out.append([t.trade_id for t in page])
        if before is None:
            return out


def test_pages_are_newest_first_and_cover_everything_once() -> None:
    tape = filled(95)
    got = pages(tape, limit=10)
    assert [len(p) for p in got] == [10] * 9 + [5]
    flat = [i for p in got for i in p]
    assert flat == [f"id{i}" for i in reversed(range(95))]
    assert pages(tape, limit=10, ticker="B")[0] == [f"id{i}" for i in range(93, 74, -2)]


def test_time_bounds_are_inclusive_and_new_trades_do_not_shift_pages() -> None:
    tape = filled(50)
    first, before = tape.page(min_ns=T0 + 10 * S, max_ns=T0 + 20 * S, limit=5)
    assert [t.trade_id for t in first] == ["id20", "id19", "id18", "id17", "id16"]
    tape.append(trade(50, ms=50_000))  # arrives while paging
    rest, end = tape.page(min_ns=T0 + 10 * S, max_ns=T0 + 20 * S, limit=100, before=before)
    assert [t.trade_id for t in rest] == [f"id{i}" for i in range(15, 9, -1)] and end is None


def test_filter_keeps_paging_through_non_matching_trades() -> None:
    tape = filled(60)
    blocks = [i for p in pages(tape, limit=3, keep=lambda t: t.block) for i in p]
    assert blocks == [f"id{i}" for i in reversed(range(60)) if i % 7 == 0]


def test_tape_is_bounded_keeps_the_newest_and_stays_ordered() -> None:
    tape = filled(300, limit=100)
    kept = tape.all()
    assert 100 <= len(kept) <= 113 and kept[-1].trade_id == "id299"
    assert [t.trade_id for t in tape.all("A")] == [t.trade_id for t in kept if t.ticker == "A"]
    with pytest.raises(ValueError, match="older"):
        tape.append(trade(1))


def _market() -> Market:
    return Market("A", "E", "S", "mid", "t", "y", "n", created_ns=T0 - 7200 * S, open_ns=T0 - 3600 * S,
                  close_ns=T0 + 3600 * S, status="active", fair=5000)


def test_candles_agree_with_trades() -> None:
    m = _market()
    trades = [trade(i, ms=i * 20_000, price=4000 + 100 * (i % 5), taker="yes" if i % 3 else "no") for i in range(12)]
    got = candles(m, trades, start_s=T0 // S, end_s=T0 // S + 300, period=1, now_ns=T0 + 600 * S)
    assert [c["end_period_ts"] for c in got] == list(range(T0 // S, T0 // S + 301, 60))
    assert sum(float(c["volume_fp"]) for c in got) == pytest.approx(sum(t.count for t in trades[:13]) / 100)
    second = got[1]  # trades at 20 s, 40 s, 60 s
    assert (second["price"]["open_dollars"], second["price"]["close_dollars"]) == ("0.4100", "0.4300")
    assert second["price"]["high_dollars"] == "0.4300" and second["price"]["low_dollars"] == "0.4100"
    assert second["price"]["previous_dollars"] == "0.4000"
    assert got[-1]["price"]["open_dollars"] is None and got[-1]["volume_fp"] == "0.00"
    assert got[-1]["open_interest_fp"] == got[-2]["open_interest_fp"]
    hist = candles(m, trades, start_s=T0 // S, end_s=T0 // S + 60, period=1, now_ns=T0 + 600 * S, historical=True)
    assert set(hist[0]) == {"end_period_ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"}
    assert set(hist[0]["price"]) == {"open", "low", "high", "close", "mean", "previous"}
