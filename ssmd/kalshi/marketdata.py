"""Kalshi REST v2 market data and history: wire Structs and the client methods that read them.

Trades (``/markets/trades``, ``/historical/trades``), order books, candlesticks (live,
batch, historical), the historical cutoff, historical markets and the exchange status and
schedule. The Structs mirror the REST JSON of the 2026 API and are tolerant: unknown
fields are ignored and everything but identifiers has a default. Historical candles use
bare field names upstream (``open``, ``volume``); they are read into the same ``Candle``
as live ones. Nothing here converts to ``ssmd.records``; the helpers turn the strings into
exact integers (``ssmd.fixed``) and RFC 3339 into ns (``ssmd.clock.rfc3339_ns``).

``MarketDataMixin`` is mixed into ``ssmd.kalshi.rest.KalshiRest``, which supplies pacing,
429 backoff and cursor paging (``get``/``_paged``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ssmd.clock import rfc3339_ns
from ssmd.fixed import parse_count, parse_price

if TYPE_CHECKING:
    from ssmd.kalshi.rest import Market

TRADES_PAGE_MAX = 1000
BATCH_MAX = 100
PERIODS = (1, 60, 1440)
P = TypeVar("P")
__all__ = ["Candle", "CandlePrice", "CandleQuote", "ExchangeSchedule", "ExchangeStatus", "HistoricalCutoff",
           "MaintenanceWindow", "MarketDataMixin", "Orderbook", "RestTrade", "TradingSession", "WeeklyHours",
           "from_historical", "rfc3339_ns"]


def _opt_ns(text: str | None) -> int | None:
    return None if not text else rfc3339_ns(text)


class RestTrade(msgspec.Struct, kw_only=True):
    """One trade of ``/markets/trades`` (same fields as the WS ``trade`` message)."""

    trade_id: str
    ticker: str
    yes_price_dollars: str = ""
    no_price_dollars: str = ""
    count_fp: str = ""
    taker_side: str | None = None
    """Deprecated upstream; ``taker_outcome_side`` wins."""
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    created_time: str = ""
    is_block_trade: bool = False

    def yes_price(self) -> int:
        """1e-4 dollars."""
        return parse_price(self.yes_price_dollars)

    def no_price(self) -> int:
        return parse_price(self.no_price_dollars)

    def contracts(self) -> int:
        """1e-2 contracts."""
        return parse_count(self.count_fp)

    def created_ns(self) -> int:
        return rfc3339_ns(self.created_time)

    def outcome_side(self) -> str:
        """``yes`` or ``no``: who the taker is positioned for."""
        return self.taker_outcome_side or self.taker_side or ""


class Orderbook(msgspec.Struct, kw_only=True):
    """Bids only, both sides: ``[price_dollars, count_fp]`` levels, lowest price first."""

    yes_dollars: list[tuple[str, str]] = msgspec.field(default_factory=list)
    no_dollars: list[tuple[str, str]] = msgspec.field(default_factory=list)

    def yes_levels(self) -> list[tuple[int, int]]:
        """(1e-4 $ price, 1e-2 count) YES bids."""
        return [(parse_price(p), parse_count(c)) for p, c in self.yes_dollars]

    def no_levels(self) -> list[tuple[int, int]]:
        return [(parse_price(p), parse_count(c)) for p, c in self.no_dollars]


class CandleQuote(msgspec.Struct, kw_only=True):
    """OHLC of a quote (``yes_bid`` / ``yes_ask``) in dollar strings."""

    open_dollars: str | None = None
    low_dollars: str | None = None
    high_dollars: str | None = None
    close_dollars: str | None = None


class CandlePrice(CandleQuote, kw_only=True):
    """OHLC of trade prices; null fields in a period without trades."""

    mean_dollars: str | None = None
    previous_dollars: str | None = None
    """The last trade price before the period."""
    min_dollars: str | None = None
    max_dollars: str | None = None


class Candle(msgspec.Struct, kw_only=True):
    end_period_ts: int
    """Unix seconds, the inclusive end of the period."""
    price: CandlePrice = msgspec.field(default_factory=CandlePrice)
    yes_bid: CandleQuote = msgspec.field(default_factory=CandleQuote)
    yes_ask: CandleQuote = msgspec.field(default_factory=CandleQuote)
    volume_fp: str = "0.00"
    open_interest_fp: str = "0.00"


class HistoricalCutoff(msgspec.Struct, kw_only=True):
    """Data older than these is only served by the ``/historical`` endpoints (RFC 3339)."""

    market_settled_ts: str | None = None
    trades_created_ts: str | None = None
    orders_updated_ts: str | None = None
    market_positions_last_updated_ts: str | None = None

    def market_settled_ns(self) -> int | None:
        return _opt_ns(self.market_settled_ts)

    def trades_created_ns(self) -> int | None:
        return _opt_ns(self.trades_created_ts)


class ExchangeStatus(msgspec.Struct, kw_only=True):
    exchange_active: bool = True
    trading_active: bool = True
    exchange_estimated_resume_time: str | None = None
    intra_exchange_transfers_active: bool | None = None


class TradingSession(msgspec.Struct, kw_only=True):
    open_time: str = ""
    """``HH:MM`` US Eastern."""
    close_time: str = ""


class WeeklyHours(msgspec.Struct, kw_only=True):
    start_time: str | None = None
    end_time: str | None = None
    monday: list[TradingSession] = msgspec.field(default_factory=list)
    tuesday: list[TradingSession] = msgspec.field(default_factory=list)
    wednesday: list[TradingSession] = msgspec.field(default_factory=list)
    thursday: list[TradingSession] = msgspec.field(default_factory=list)
    friday: list[TradingSession] = msgspec.field(default_factory=list)
    saturday: list[TradingSession] = msgspec.field(default_factory=list)
    sunday: list[TradingSession] = msgspec.field(default_factory=list)


class MaintenanceWindow(msgspec.Struct, kw_only=True):
    start_datetime: str = ""
    end_datetime: str = ""


class ExchangeSchedule(msgspec.Struct, kw_only=True):
    standard_hours: list[WeeklyHours] = msgspec.field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = msgspec.field(default_factory=list)


# -- response envelopes ------------------------------------------------------------------
class _TradesPage(msgspec.Struct):
    trades: list[RestTrade] | None = None
    cursor: str | None = None


class _OrderbookOne(msgspec.Struct):
    orderbook_fp: Orderbook = msgspec.field(default_factory=Orderbook)


class _MarketOrderbook(msgspec.Struct):
    ticker: str
    orderbook_fp: Orderbook = msgspec.field(default_factory=Orderbook)


class _Orderbooks(msgspec.Struct):
    orderbooks: list[_MarketOrderbook] | None = None


class _Candles(msgspec.Struct):
    candlesticks: list[Candle] | None = None


class _MarketCandles(msgspec.Struct):
    market_ticker: str
    candlesticks: list[Candle] | None = None


class _BatchCandles(msgspec.Struct):
    markets: list[_MarketCandles] | None = None


class _HistQuote(msgspec.Struct):
    open: str | None = None
    low: str | None = None
    high: str | None = None
    close: str | None = None


class _HistPrice(_HistQuote):
    mean: str | None = None
    previous: str | None = None


class _HistCandle(msgspec.Struct):
    end_period_ts: int
    price: _HistPrice = msgspec.field(default_factory=_HistPrice)
    yes_bid: _HistQuote = msgspec.field(default_factory=_HistQuote)
    yes_ask: _HistQuote = msgspec.field(default_factory=_HistQuote)
    volume: str = "0.00"
    open_interest: str = "0.00"


class _HistCandles(msgspec.Struct):
    candlesticks: list[_HistCandle] | None = None


class _Schedule(msgspec.Struct):
    schedule: ExchangeSchedule = msgspec.field(default_factory=ExchangeSchedule)


def from_historical(c: _HistCandle) -> Candle:
    """A historical candle (bare field names) as a ``Candle``."""
    def quote(q: _HistQuote) -> CandleQuote:
        return CandleQuote(open_dollars=q.open, low_dollars=q.low, high_dollars=q.high, close_dollars=q.close)

    p = c.price
    return Candle(end_period_ts=c.end_period_ts, volume_fp=c.volume, open_interest_fp=c.open_interest,
                  yes_bid=quote(c.yes_bid), yes_ask=quote(c.yes_ask),
                  price=CandlePrice(open_dollars=p.open, low_dollars=p.low, high_dollars=p.high,
                                    close_dollars=p.close, mean_dollars=p.mean, previous_dollars=p.previous))


def _chunks(items: Iterable[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(items))
    return [unique[i:i + size] for i in range(0, len(unique), size)]


def _period(period_interval: int) -> int:
    if period_interval not in PERIODS:
        raise ValueError(f"period_interval must be 1, 60 or 1440 minutes, not {period_interval}")
    return period_interval


class MarketDataMixin:
    """The market-data and history reads of ``KalshiRest``."""

    if TYPE_CHECKING:
        async def get(self, path: str, params: dict[str, Any], kind: type[P]) -> P: ...

        def _paged(self, path: str, params: dict[str, Any], kind: type[P],
                   items: Callable[[P], list[Any] | None]) -> AsyncIterator[list[Any]]: ...

    def trade_pages(self, *, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None,
                    limit: int = TRADES_PAGE_MAX, historical: bool = False) -> AsyncIterator[list[RestTrade]]:
        """Pages of trades, newest first, until the cursor is empty; ``min_ts``/``max_ts``
        are inclusive Unix seconds; ``historical`` reads ``/historical/trades`` (older than
        the cutoff) instead of ``/markets/trades``."""
        path = "/historical/trades" if historical else "/markets/trades"
        params = {"limit": max(1, min(int(limit), TRADES_PAGE_MAX)), "ticker": ticker, "min_ts": min_ts,
                  "max_ts": max_ts}
        return self._paged(path, params, _TradesPage, lambda p: p.trades)

    async def trades(self, **query: Any) -> list[RestTrade]:
        """Every trade ``trade_pages(**query)`` yields, newest first."""
        out: list[RestTrade] = []
        async for page in self.trade_pages(**query):
            out.extend(page)
        return out

    async def orderbook(self, ticker: str, depth: int | None = None) -> Orderbook:
        """``GET /markets/{ticker}/orderbook``; ``NotFoundError`` for an unknown ticker."""
        return (await self.get(f"/markets/{ticker}/orderbook", {"depth": depth}, _OrderbookOne)).orderbook_fp

    async def orderbooks(self, tickers: Iterable[str], depth: int | None = None) -> dict[str, Orderbook]:
        """Books of many markets (``GET /markets/orderbooks``, 100 tickers a call)."""
        out: dict[str, Orderbook] = {}
        for chunk in _chunks(tickers, BATCH_MAX):
            page = await self.get("/markets/orderbooks", {"tickers": ",".join(chunk), "depth": depth}, _Orderbooks)
            out.update({b.ticker: b.orderbook_fp for b in page.orderbooks or ()})
        return out

    async def candlesticks(self, series: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int,
                           historical: bool = False, include_latest_before_start: bool = False) -> list[Candle]:
        """Candles of one market ending in [start_ts, end_ts] (Unix s); ``historical`` reads
        ``/historical/markets/{ticker}/candlesticks`` (markets settled before the cutoff)."""
        params: dict[str, Any] = {"start_ts": start_ts, "end_ts": end_ts, "period_interval": _period(period_interval)}
        if historical:
            page = await self.get(f"/historical/markets/{ticker}/candlesticks", params, _HistCandles)
            return [from_historical(c) for c in page.candlesticks or ()]
        if include_latest_before_start:
            params["include_latest_before_start"] = True
        live = await self.get(f"/series/{series}/markets/{ticker}/candlesticks", params, _Candles)
        return list(live.candlesticks or ())

    async def batch_candlesticks(self, tickers: Iterable[str], *, start_ts: int, end_ts: int, period_interval: int,
                                 include_latest_before_start: bool = False) -> dict[str, list[Candle]]:
        """Candles of many markets (``GET /markets/candlesticks``, 100 tickers a call)."""
        out: dict[str, list[Candle]] = {}
        for chunk in _chunks(tickers, BATCH_MAX):
            params: dict[str, Any] = {"market_tickers": ",".join(chunk), "start_ts": start_ts, "end_ts": end_ts,
                                      "period_interval": _period(period_interval)}
            if include_latest_before_start:
                params["include_latest_before_start"] = True
            page = await self.get("/markets/candlesticks", params, _BatchCandles)
            out.update({m.market_ticker: list(m.candlesticks or ()) for m in page.markets or ()})
        return out

    async def historical_cutoff(self) -> HistoricalCutoff:
        return await self.get("/historical/cutoff", {}, HistoricalCutoff)

    def historical_market_pages(self, *, limit: int = 1000, **filters: Any) -> AsyncIterator[list[Market]]:
        """Pages of ``GET /historical/markets`` (markets settled before the cutoff)."""
        from ssmd.kalshi.rest import _MarketsPage

        params = {"limit": max(1, min(int(limit), 1000)), **filters}
        return self._paged("/historical/markets", params, _MarketsPage, lambda p: p.markets)

    async def historical_market(self, ticker: str) -> Market:
        """``GET /historical/markets/{ticker}``; ``NotFoundError`` unless it is historical."""
        from ssmd.kalshi.rest import _MarketOne

        return (await self.get(f"/historical/markets/{ticker}", {}, _MarketOne)).market

    async def exchange_status(self) -> ExchangeStatus:
        return await self.get("/exchange/status", {}, ExchangeStatus)

    async def exchange_schedule(self) -> ExchangeSchedule:
        return (await self.get("/exchange/schedule", {}, _Schedule)).schedule
