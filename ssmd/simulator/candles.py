"""Candlesticks computed from a market's trades on the tape (pure), so candles and trades agree.

A candle ending at ``E`` (a multiple of the period) covers trades with
``(E - P) < created <= E``. ``price`` is the OHLC and volume-weighted mean of those trades
(null without trades) with ``previous`` the last earlier trade price. ``yes_bid`` /
``yes_ask`` follow a quote implied by the trades: a taker buying NO hits the YES bid at
the trade price, a taker buying YES lifts the YES ask; before any trade the quote sits one
tick around the market's fair price. ``open_interest`` is the market's cumulative volume
at the end of the period. One candle per period of the market's life inside the range.
Live candles use the ``*_dollars`` / ``*_fp`` names, historical ones the bare names.
"""

from __future__ import annotations

from typing import Any

from ssmd.fixed import format_count, format_price
from ssmd.simulator.book import ONE
from ssmd.simulator.tape import TapeTrade
from ssmd.simulator.universe import Market, S

PERIODS = (1, 60, 1440)
MAX_CANDLES = 10_000


def count_periods(m: Market, start_s: int, end_s: int, period: int, now_ns: int) -> int:
    first, last = _ends(m, start_s, end_s, period * 60, now_ns)
    return max(0, (last - first) // (period * 60) + 1)


def _ends(m: Market, start_s: int, end_s: int, p: int, now_ns: int) -> tuple[int, int]:
    """First and last candle end inside both the range and the market's life."""
    life_end = min(m.close_ns, now_ns)
    first = max(-(-m.open_ns // (p * S)) * p, -(-start_s // p) * p)
    last = min(-(-life_end // (p * S)) * p, end_s // p * p)
    return first, last


def candles(m: Market, trades: list[TapeTrade], *, start_s: int, end_s: int, period: int, now_ns: int,
            historical: bool = False, latest_before_start: bool = False) -> list[dict[str, Any]]:
    """The candles of ``m`` (``trades`` are its trades, oldest first) ending in [start, end]."""
    p = period * 60
    first, last = _ends(m, start_s, end_s, p, now_ns)
    tick = m.tick
    bid, ask = max(0, m.fair - tick), min(ONE, m.fair + tick)
    volume = 0
    prev: int | None = None
    i = 0
    n = len(trades)
    # state before the first candle
    while i < n and trades[i].created_ns <= (first - p) * S:
        bid, ask = _quote(bid, ask, trades[i], tick)
        volume += trades[i].count
        prev = trades[i].yes_price
        i += 1
    out: list[dict[str, Any]] = []
    if latest_before_start and prev is not None and first <= last:
        out.append(_candle(-(-start_s // p) * p, [], (bid,) * 4, (ask,) * 4, prev, 0, volume, historical))
    for end in range(first, last + 1, p):
        period_trades: list[TapeTrade] = []
        bids, asks = [bid], [ask]
        while i < n and trades[i].created_ns <= end * S:
            t = trades[i]
            bid, ask = _quote(bid, ask, t, tick)
            bids.append(bid)
            asks.append(ask)
            period_trades.append(t)
            volume += t.count
            i += 1
        out.append(_candle(end, period_trades, _ohlc(bids), _ohlc(asks), prev, sum(t.count for t in period_trades),
                           volume, historical))
        if period_trades:
            prev = period_trades[-1].yes_price
    return out


def _quote(bid: int, ask: int, t: TapeTrade, tick: int) -> tuple[int, int]:
    if t.taker_side == "no":
        bid = t.yes_price
        ask = max(ask, min(ONE, bid + tick))
    else:
        ask = t.yes_price
        bid = min(bid, max(0, ask - tick))
    return bid, ask


def _ohlc(values: list[int]) -> tuple[int, int, int, int]:
    return values[0], max(values), min(values), values[-1]


def _candle(end: int, trades: list[TapeTrade], bid: tuple[int, int, int, int], ask: tuple[int, int, int, int],
            prev: int | None, volume: int, open_interest: int, historical: bool) -> dict[str, Any]:
    suffix = "" if historical else "_dollars"
    price: dict[str, Any] = dict.fromkeys((f"open{suffix}", f"low{suffix}", f"high{suffix}", f"close{suffix}",
                                           f"mean{suffix}"))
    if trades:
        prices = [t.yes_price for t in trades]
        size = sum(t.count for t in trades)
        mean = (2 * sum(t.yes_price * t.count for t in trades) + size) // (2 * size)
        for key, value in zip(("open", "low", "high", "close", "mean"),
                              (prices[0], min(prices), max(prices), prices[-1], mean), strict=True):
            price[key + suffix] = format_price(value)
    price[f"previous{suffix}"] = None if prev is None else format_price(prev)

    def quote(v: tuple[int, int, int, int]) -> dict[str, str]:
        return {f"open{suffix}": format_price(v[0]), f"low{suffix}": format_price(v[2]),
                f"high{suffix}": format_price(v[1]), f"close{suffix}": format_price(v[3])}

    out: dict[str, Any] = {"end_period_ts": end, "yes_bid": quote(bid), "yes_ask": quote(ask), "price": price}
    if historical:
        out["volume"], out["open_interest"] = format_count(volume), format_count(open_interest)
    else:
        out["volume_fp"], out["open_interest_fp"] = format_count(volume), format_count(open_interest)
    return out
