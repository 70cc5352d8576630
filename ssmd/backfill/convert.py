"""REST objects → records (pure; the fetch time is passed in).

(trades become records in ``ssmd.kalshi.rest_records``)

* a candlestick → ``Candle``; a settled market → ``Settlement``.

Prices and sizes go from Kalshi's strings to scaled integers through ``ssmd.fixed``,
exactly; times from RFC 3339 (any fraction, to the nanosecond) or Unix seconds.
"""

from __future__ import annotations

from ssmd.archive.datasets import Candle, Settlement
from ssmd.kalshi.marketdata import Candle as RestCandle
from ssmd.kalshi.marketdata import CandleQuote
from ssmd.kalshi.rest import Market
from ssmd.kalshi.rest_records import optional_count, optional_price
from ssmd.secmaster.model import parse_time_ns

SETTLED = frozenset({"finalized", "settled"})


def _ohlc(q: CandleQuote, where: str) -> tuple[int | None, int | None, int | None, int | None]:
    return (optional_price(q.open_dollars, where), optional_price(q.high_dollars, where),
            optional_price(q.low_dollars, where), optional_price(q.close_dollars, where))


def candle(ticker: str, period: str, c: RestCandle, received_at: int) -> Candle:
    """One candlestick of ``.../candlesticks`` (``end_period_ts`` in Unix seconds)."""
    where = f"candle {period} of {ticker} ending {c.end_period_ts}"
    o, h, lo, cl = _ohlc(c.price, where)
    bo, bh, bl, bc = _ohlc(c.yes_bid, where)
    ao, ah, al, ac = _ohlc(c.yes_ask, where)
    return Candle(
        ticker=ticker, period=period, end_period_ts=int(c.end_period_ts) * 1_000_000_000,
        open=o, high=h, low=lo, close=cl,
        yes_bid_open=bo, yes_bid_high=bh, yes_bid_low=bl, yes_bid_close=bc,
        yes_ask_open=ao, yes_ask_high=ah, yes_ask_low=al, yes_ask_close=ac,
        volume=optional_count(c.volume_fp, where), open_interest=optional_count(c.open_interest_fp, where),
        received_at=received_at,
    )


def is_settled(m: Market) -> bool:
    return bool(m.result) and (m.status or "").lower() in SETTLED


def settlement(m: Market, series_ticker: str, received_at: int) -> Settlement | None:
    """The settlement of a market object, or None while it is not settled.

    The determination time is the market's own when it carries one, else the settlement
    time less ``settlement_timer_seconds`` (the delay Kalshi puts between the two)."""
    if not is_settled(m):
        return None
    where = f"market {m.ticker}"
    settled = parse_time_ns(m.settlement_ts)
    determined = parse_time_ns(getattr(m, "determination_time", None))
    timer = m.settlement_timer_seconds
    if determined is None and settled is not None and timer is not None:
        determined = settled - timer * 1_000_000_000
    return Settlement(
        ticker=m.ticker, event_ticker=m.event_ticker, series_ticker=series_ticker, market_type=m.market_type,
        title=m.title, status=m.status, result=m.result,
        settlement_value=optional_price(m.settlement_value_dollars, where),
        determination_ts=determined, settled_ts=settled,
        open_ts=parse_time_ns(m.open_time), close_ts=parse_time_ns(m.close_time),
        expiration_value=m.expiration_value or None,
        volume=optional_count(m.volume_fp, where), open_interest=optional_count(m.open_interest_fp, where),
        received_at=received_at,
    )
