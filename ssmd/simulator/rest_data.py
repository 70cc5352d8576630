"""The simulator's REST market-data and history endpoints (pure: venue + query -> status, body).

``/markets/trades`` and ``/historical/trades`` (newest first, cursor paging, ``ticker``,
``min_ts``/``max_ts`` inclusive Unix seconds, ``is_block_trade``; split at the trades
cutoff), ``/markets/{ticker}/orderbook`` and ``/markets/orderbooks``, candlesticks (live per
series, batch, and ``/historical/markets/{ticker}/candlesticks``), ``/historical/cutoff``,
``/historical/markets`` (same paging and filters as ``/markets``) and its one-market form,
``/exchange/status`` and ``/exchange/schedule``. Shapes follow the 2026 REST objects of the
official SDK. A bad query value answers 400 naming the parameter. ``route`` returns None
for paths it does not serve (``ssmd.simulator.rest`` answers those).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ssmd.fixed import format_count, format_price
from ssmd.simulator import candles, rest
from ssmd.simulator.book import SimBook
from ssmd.simulator.tape import TapeTrade, TradeTape
from ssmd.simulator.universe import S, Universe

Reply = tuple[int, Any]
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class ExchangeState:
    """What ``/exchange/status`` reports (switched by the simulator's controls)."""

    exchange_active: bool = True
    trading_active: bool = True
    resume_ns: int | None = None


@dataclass
class Venue:
    """Everything the endpoints read, taken from the running simulator per request."""

    universe: Universe
    books: Mapping[str, SimBook]
    tape: TradeTape
    cutoff_ns: int
    now_ns: int
    hidden: Callable[[str], bool]
    """A market answers 404 on live endpoints (just created, or settled before the cutoff)."""
    state: ExchangeState

    def historical(self, ticker: str) -> bool:
        m = self.universe.markets.get(ticker)
        return m is not None and m.settled_ns is not None and m.settled_ns < self.cutoff_ns


class BadQuery(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _bad(param: str, message: str) -> Reply:
    return 400, {"error": {"code": "bad_request", "message": message, "details": param}}


def _t(ns: int | None) -> str | None:
    return None if ns is None else rest._t(ns)


def _int(q: Mapping[str, str], name: str, required: bool = False) -> int | None:
    text = q.get(name, "")
    if not text:
        if required:
            raise BadQuery(name, f"{name} is required (Unix seconds)")
        return None
    if not text.lstrip("-").isdigit():
        raise BadQuery(name, f"{name} must be an integer, got {text!r}")
    return int(text)


def _limit(q: Mapping[str, str]) -> int:
    text = q.get("limit", "")
    if not text:
        return 100
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise BadQuery("limit", f"limit must be between 1 and 1000, got {text!r}")
    return int(text)


def _tickers(q: Mapping[str, str], *names: str) -> list[str]:
    name = next((n for n in names if q.get(n)), names[0])
    tickers = list(dict.fromkeys(filter(None, q.get(name, "").split(","))))
    if not 1 <= len(tickers) <= 100:
        raise BadQuery(name, f"{name} must list 1 to 100 comma-separated tickers, got {len(tickers)}")
    return tickers


def _bool(q: Mapping[str, str], name: str) -> bool | None:
    text = q.get(name, "").lower()
    if not text:
        return None
    if text not in ("true", "false"):
        raise BadQuery(name, f"{name} must be true or false, got {text!r}")
    return text == "true"


# -- trades ------------------------------------------------------------------------------
def trade_json(t: TapeTrade) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id, "ticker": t.ticker, "count_fp": format_count(t.count),
        "yes_price_dollars": format_price(t.yes_price), "no_price_dollars": format_price(t.no_price),
        "taker_side": t.taker_side, "taker_outcome_side": t.taker_side,
        "taker_book_side": "bid" if t.taker_side == "yes" else "ask",
        "created_time": _t(t.created_ns), "is_block_trade": t.block,
    }


def trades(v: Venue, q: Mapping[str, str], historical: bool) -> Reply:
    limit = _limit(q)
    lo, hi = _int(q, "min_ts"), _int(q, "max_ts")
    block = _bool(q, "is_block_trade")
    before = None
    if q.get("cursor"):
        before = _uncursor(q["cursor"])
    min_ns = None if lo is None else lo * S
    max_ns = None if hi is None else hi * S
    if historical:
        max_ns = v.cutoff_ns - 1 if max_ns is None else min(max_ns, v.cutoff_ns - 1)
    else:
        min_ns = v.cutoff_ns if min_ns is None else max(min_ns, v.cutoff_ns)
    page, nxt = v.tape.page(ticker=q.get("ticker") or None, min_ns=min_ns, max_ns=max_ns, before=before,
                            limit=limit, keep=None if block is None else (lambda t: t.block == block))
    return 200, {"trades": [trade_json(t) for t in page], "cursor": "" if nxt is None else _cursor(nxt)}


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"t{index}".encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith("t") or not text[1:].isdigit():
        raise BadQuery("cursor", f"invalid cursor {cursor!r}")
    return int(text[1:])


# -- order books -------------------------------------------------------------------------
def orderbook_json(book: SimBook | None, depth: int | None) -> dict[str, Any]:
    def side(levels: dict[int, int]) -> list[list[str]]:
        prices = sorted(levels)
        if depth:
            prices = prices[-depth:]
        return [[format_price(p), format_count(levels[p])] for p in prices]

    if book is None:
        return {"yes_dollars": [], "no_dollars": []}
    return {"yes_dollars": side(book.yes), "no_dollars": side(book.no)}


def _depth(q: Mapping[str, str]) -> int | None:
    depth = _int(q, "depth")
    if depth is not None and not 0 <= depth <= 100:
        raise BadQuery("depth", f"depth must be between 0 and 100, got {depth}")
    return depth


# -- candlesticks ------------------------------------------------------------------------
def _candle_query(q: Mapping[str, str]) -> tuple[int, int, int]:
    start, end = _int(q, "start_ts", True), _int(q, "end_ts", True)
    assert start is not None and end is not None
    text = q.get("period_interval", "")
    if text not in {str(p) for p in candles.PERIODS}:
        raise BadQuery("period_interval", f"period_interval must be 1, 60 or 1440 (minutes), got {text!r}")
    if end < start:
        raise BadQuery("end_ts", f"end_ts {end} is before start_ts {start}")
    return start, end, int(text)


def _candles(v: Venue, ticker: str, q: Mapping[str, str], historical: bool, batch_total: int = 0) -> list[Any]:
    start, end, period = _candle_query(q)
    m = v.universe.markets[ticker]
    if batch_total + candles.count_periods(m, start, end, period, v.now_ns) > candles.MAX_CANDLES:
        raise BadQuery("end_ts", f"more than {candles.MAX_CANDLES} candlesticks; narrow start_ts/end_ts")
    return candles.candles(m, v.tape.all(ticker), start_s=start, end_s=end, period=period, now_ns=v.now_ns,
                           historical=historical, latest_before_start=bool(_bool(q, "include_latest_before_start")))


def batch_candles(v: Venue, q: Mapping[str, str]) -> Reply:
    out: list[dict[str, Any]] = []
    total = 0
    for ticker in _tickers(q, "market_tickers", "tickers"):
        if ticker not in v.universe.markets or v.hidden(ticker):
            return rest._missing(f"market {ticker}")
        sticks = _candles(v, ticker, q, False, total)
        total += len(sticks)
        out.append({"market_ticker": ticker, "candlesticks": sticks})
    return 200, {"markets": out}


# -- exchange ----------------------------------------------------------------------------
def exchange_status(v: Venue) -> dict[str, Any]:
    s = v.state
    return {"exchange_active": s.exchange_active, "trading_active": s.trading_active,
            "intra_exchange_transfers_active": s.exchange_active,
            "exchange_estimated_resume_time": _t(s.resume_ns)}


def exchange_schedule(now_ns: int) -> dict[str, Any]:
    """Open every day around the clock; maintenance Thursdays 03:00-05:00 US Eastern
    (taken as UTC-5, i.e. 08:00-10:00 UTC), for the next four weeks."""
    now = datetime.fromtimestamp(now_ns / S, tz=UTC)
    thursday = (now - timedelta(days=(now.weekday() - 3) % 7)).replace(hour=8, minute=0, second=0, microsecond=0)
    windows = [{"start_datetime": _iso(thursday + timedelta(weeks=w)),
                "end_datetime": _iso(thursday + timedelta(weeks=w, hours=2))} for w in range(4)
               if thursday + timedelta(weeks=w, hours=2) > now]
    week: dict[str, Any] = {"start_time": _iso(now - timedelta(days=365)), "end_time": _iso(now + timedelta(days=365))}
    week.update({day: [{"open_time": "00:00", "close_time": "23:59"}] for day in _DAYS})
    return {"schedule": {"standard_hours": [week], "maintenance_windows": windows}}


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- routing -----------------------------------------------------------------------------
def route(v: Venue, path: str, q: Mapping[str, str]) -> Reply | None:
    """Answer ``GET /trade-api/v2{path}`` if it is one of these endpoints, else None."""
    parts = [p for p in path.split("/") if p]
    try:
        return _route(v, parts, q)
    except BadQuery as exc:
        return _bad(exc.param, str(exc))


def _route(v: Venue, parts: list[str], q: Mapping[str, str]) -> Reply | None:
    u = v.universe
    if parts == ["markets", "trades"]:
        return trades(v, q, historical=False)
    if parts == ["historical", "trades"]:
        return trades(v, q, historical=True)
    if parts == ["markets", "orderbooks"]:
        depth = _depth(q)
        books = []
        for ticker in _tickers(q, "tickers"):
            if ticker not in u.markets or v.hidden(ticker):
                return rest._missing(f"market {ticker}")
            books.append({"ticker": ticker, "orderbook_fp": orderbook_json(v.books.get(ticker), depth)})
        return 200, {"orderbooks": books}
    if len(parts) == 3 and parts[0] == "markets" and parts[2] == "orderbook":
        if parts[1] not in u.markets or v.hidden(parts[1]):
            return rest._missing("market")
        return 200, {"orderbook_fp": orderbook_json(v.books.get(parts[1]), _depth(q))}
    if parts == ["markets", "candlesticks"]:
        return batch_candles(v, q)
    if len(parts) == 5 and parts[0] == "series" and parts[2] == "markets" and parts[4] == "candlesticks":
        m = u.markets.get(parts[3])
        if m is None or m.series != parts[1] or v.hidden(m.ticker):
            return rest._missing("market")
        return 200, {"ticker": m.ticker, "candlesticks": _candles(v, m.ticker, q, False)}
    if parts and parts[0] == "historical":
        return _historical(v, parts[1:], q)
    if parts == ["exchange", "status"]:
        return 200, exchange_status(v)
    if parts == ["exchange", "schedule"]:
        return 200, exchange_schedule(v.now_ns)
    return None


def _historical(v: Venue, parts: list[str], q: Mapping[str, str]) -> Reply:
    u = v.universe
    if parts == ["cutoff"]:
        stamp = _t(v.cutoff_ns)
        return 200, {"market_settled_ts": stamp, "trades_created_ts": stamp, "orders_updated_ts": stamp,
                     "market_positions_last_updated_ts": stamp}
    if parts == ["markets"]:
        status, body = rest.markets(u, v.books, q, lambda t: not v.historical(t))
        if status == 400:
            message = body["error"]["message"]
            body["error"]["details"] = next((p for p in ("limit", "cursor", "status") if p in message), "")
        return status, body
    if parts and parts[0] == "markets" and len(parts) in (2, 3):
        ticker = parts[1]
        if not v.historical(ticker) or (len(parts) == 3 and parts[2] != "candlesticks"):
            return rest._missing("historical market" if len(parts) == 2 else "endpoint")
        if len(parts) == 2:
            return 200, {"market": rest.market_json(u.markets[ticker], v.books.get(ticker))}
        return 200, {"ticker": ticker, "candlesticks": _candles(v, ticker, q, True)}
    return rest._missing("endpoint")
