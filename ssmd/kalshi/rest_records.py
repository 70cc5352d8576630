"""Kalshi REST objects → normalized records (pure; the fetch time is passed in).

* a trade of ``GET /markets/trades`` or ``/historical/trades`` → ``ssmd.records.Trade``
  with ``source = 'rest'``, ``sid = seq = 0``, ``received_at`` = when its page was fetched
  and ``side`` = the taker's outcome side;
* an order book of ``GET /markets/{ticker}/orderbook`` → ``OrderbookSnapshot``.

Prices and sizes go from Kalshi's strings to scaled integers through ``ssmd.fixed``,
exactly; times from RFC 3339 to the nanosecond. A value that cannot be read is a
``DataError`` naming the trade (or market) and the field.
"""

from __future__ import annotations

from ssmd.clock import rfc3339_ns
from ssmd.errors import DataError
from ssmd.fixed import PRICE_SCALE, FixedPointError, parse_count, parse_optional_count, parse_optional_price
from ssmd.kalshi.marketdata import Orderbook, RestTrade
from ssmd.records import OrderbookSnapshot, Side, Trade

_SIDES: dict[str, Side] = {"yes": "yes", "no": "no"}


def optional_price(value: str | None, what: str) -> int | None:
    try:
        return parse_optional_price(value)
    except FixedPointError as exc:
        raise DataError(f"{what}: {exc}") from None


def optional_count(value: str | None, what: str) -> int | None:
    try:
        return parse_optional_count(value)
    except FixedPointError as exc:
        raise DataError(f"{what}: {exc}") from None


def trade_record(t: RestTrade, received_at: int) -> Trade:
    """A trade of ``GET /markets/trades`` (or ``/historical/trades``) as a record."""
    where = f"trade {t.trade_id!r} of {t.ticker}"
    price = optional_price(t.yes_price_dollars, where)
    if price is None:
        no = optional_price(t.no_price_dollars, where)
        if no is None:
            raise DataError(f"{where}: no yes_price_dollars")
        price = PRICE_SCALE - no
    if not t.count_fp:
        raise DataError(f"{where}: no count_fp")
    try:
        size = parse_count(t.count_fp)
    except FixedPointError as exc:
        raise DataError(f"{where}: {exc}") from None
    side = _SIDES.get(t.outcome_side())
    if side is None:
        raise DataError(f"{where}: no taker side")
    if not t.created_time:
        raise DataError(f"{where}: no created_time")
    try:
        ts = rfc3339_ns(t.created_time)
    except ValueError:
        raise DataError(f"{where}: created_time {t.created_time!r} is not an RFC 3339 time") from None
    return Trade(ts=ts, received_at=received_at, ticker=t.ticker, trade_id=t.trade_id, price=price, size=size,
                 side=side, sid=0, seq=0, is_block_trade=t.is_block_trade, source="rest")


def orderbook_record(ticker: str, book: Orderbook, received_at: int) -> OrderbookSnapshot:
    """A REST order book (``Orderbook``: YES and NO bids) as a snapshot record at ``received_at``
    (REST books carry no exchange time and no sequence: ``sid = seq = 0``)."""
    try:
        yes, no = tuple(sorted(book.yes_levels())), tuple(sorted(book.no_levels()))
    except FixedPointError as exc:
        raise DataError(f"order book of {ticker}: {exc}") from None
    return OrderbookSnapshot(ts=received_at, received_at=received_at, ticker=ticker, yes=yes, no=no, sid=0, seq=0)
