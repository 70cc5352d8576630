"""The healer's pure decisions: which gaps, which window, which trades are missing."""

from __future__ import annotations

from ssmd.config.model import HealerConfig
from ssmd.healer.plan import missing, needs_heal, rest_bounds, window
from ssmd.records import Trade
from ssmd.status import GapInfo, HealInfo

S = 1_000_000_000
T0 = 1_784_475_900 * S


def _trade(trade_id: str, ts: int, ticker: str = "KX-A") -> Trade:
    return Trade(ts=ts, received_at=ts, ticker=ticker, trade_id=trade_id, price=5000, size=100, side="yes", sid=0,
                 seq=0, source="rest")


def test_only_closed_unhealed_trade_gaps_are_healed() -> None:
    closed = GapInfo(kind="outage", channel="trade", start_ns=T0, end_ns=T0 + 5 * S)
    assert needs_heal(closed)
    assert not needs_heal(GapInfo(kind="outage", channel="trade", start_ns=T0))  # still open
    assert not needs_heal(GapInfo(kind="outage", channel="orderbook_delta", start_ns=T0, end_ns=T0 + S))
    done = HealInfo(status="healed", method="rest:/markets/trades", at_ns=T0 + 9 * S)
    assert not needs_heal(GapInfo(kind="seq", channel="trade", start_ns=T0, end_ns=T0, healed=done))


def test_window_widens_by_the_margin_and_reaches_back_for_seq_holes() -> None:
    config = HealerConfig(margin_seconds=2.0, lookback_seconds=30.0)
    outage = GapInfo(kind="outage", channel="trade", start_ns=T0, end_ns=T0 + 5 * S)
    assert window(outage, config) == (T0 - 2 * S, T0 + 7 * S)
    hole = GapInfo(kind="seq", channel="trade", start_ns=T0, end_ns=T0)
    assert window(hole, config) == (T0 - 32 * S, T0 + 2 * S)


def test_rest_bounds_cover_the_span_in_whole_seconds() -> None:
    assert rest_bounds(T0 + 1, T0 + S - 1) == (T0 // S, T0 // S + 1)
    assert rest_bounds(T0, T0 + 2 * S) == (T0 // S, T0 // S + 2)


def test_missing_keeps_unarchived_trades_in_the_span_once_oldest_first() -> None:
    fetched = [_trade("c", T0 + 3 * S), _trade("a", T0 + S), _trade("b", T0 + 2 * S), _trade("a", T0 + S),
               _trade("early", T0 - S), _trade("late", T0 + 9 * S)]
    out = missing(fetched, archived={"b"}, start_ns=T0, end_ns=T0 + 5 * S)
    assert [t.trade_id for t in out] == ["a", "c"]
