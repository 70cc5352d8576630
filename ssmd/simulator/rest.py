"""The simulator's REST market-data endpoints (pure: universe + query -> status, body).

``GET /markets`` (cursor paging, limit 100 default / 1000 max, status mapping of §4.2,
event/series/tickers/timestamp filters, ``mve_filter``), ``/markets/{ticker}``,
``/events`` (limit 200 max, ``with_nested_markets``, status, series, tickers, min_close_ts,
min_updated_ts), ``/events/{ticker}``, ``/series``,
``/series/{ticker}``. Shapes follow the 2026 REST objects (dollar/fp strings, RFC 3339).
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Mapping
from typing import Any

from ssmd.clock import rfc3339
from ssmd.fixed import format_count, format_price
from ssmd.simulator.book import ONE, SimBook
from ssmd.simulator.universe import Event, Market, S, Series, Universe, price_ranges

Reply = tuple[int, Any]
STATUS_FILTER = {
    "unopened": ("initialized",), "open": ("active",), "paused": ("inactive",),
    "closed": ("closed", "determined", "disputed", "amended"), "settled": ("finalized",),
}
_FAMILIES = {"created": ("unopened", "open"), "close": ("closed",), "settled": ("settled",)}


def _t(ns: int | None) -> str | None:
    return None if ns is None else rfc3339(ns).replace(".000Z", "Z")


def market_json(m: Market, book: SimBook | None) -> dict[str, Any]:
    if book is not None:
        bid, bid_size, ask, ask_size = book.top()
        last, volume, oi = book.last_price or 0, book.volume, book.open_interest
    else:
        bid, bid_size, ask, ask_size, last, volume, oi = 0, 0, ONE, 0, 0, 0, 0
    out: dict[str, Any] = {
        "ticker": m.ticker, "event_ticker": m.event, "market_type": "binary", "title": m.title,
        "subtitle": "", "yes_sub_title": m.yes_sub_title, "no_sub_title": m.no_sub_title,
        "created_time": _t(m.created_ns), "updated_time": _t(m.updated_ns), "open_time": _t(m.open_ns),
        "close_time": _t(m.close_ns), "expected_expiration_time": _t(m.close_ns + 300 * S),
        "latest_expiration_time": _t(m.close_ns + 7 * 86400 * S), "settlement_timer_seconds": 60,
        "status": m.status, "result": m.result, "can_close_early": False,
        "yes_bid_dollars": format_price(bid), "yes_bid_size_fp": format_count(bid_size),
        "yes_ask_dollars": format_price(ask), "yes_ask_size_fp": format_count(ask_size),
        "no_bid_dollars": format_price(ONE - ask), "no_ask_dollars": format_price(ONE - bid),
        "last_price_dollars": format_price(last), "previous_yes_bid_dollars": format_price(bid),
        "previous_yes_ask_dollars": format_price(ask), "previous_price_dollars": format_price(last),
        "volume_fp": format_count(volume), "volume_24h_fp": format_count(volume),
        "open_interest_fp": format_count(oi), "notional_value_dollars": "1.0000",
        "settlement_bounds_type": "default", "expiration_value": "",
        "rules_primary": f"If {m.yes_sub_title}, then the market resolves to Yes.", "rules_secondary": "",
        "price_level_structure": m.structure, "price_ranges": price_ranges(m.structure), "exchange_index": 0,
    }
    if m.strike_type is not None:
        out["strike_type"] = m.strike_type
        out["floor_strike"] = m.floor_strike
        out["cap_strike"] = m.cap_strike
    if m.settlement_value is not None:
        out["settlement_value_dollars"] = format_price(m.settlement_value)
    if m.settled_ns is not None:
        out["settlement_ts"] = _t(m.settled_ns)
    if m.mve:
        out["mve_collection_ticker"] = m.series
        out["mve_selected_legs"] = []
    out.update(m.rest_overrides)
    return out


def event_json(e: Event, series: Series) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_ticker": e.ticker, "series_ticker": e.series, "title": e.title, "sub_title": e.sub_title,
        "collateral_return_type": "MECNET" if e.mutually_exclusive else "",
        "mutually_exclusive": e.mutually_exclusive, "category": series.category,
        "settlement_sources": [{"name": "Simulated", "url": "http://127.0.0.1/"}],
        "last_updated_ts": _t(e.updated_ns), "exchange_index": 0,
    }
    if e.strike_ns is not None:
        out["strike_date"] = _t(e.strike_ns)
    if e.fee_type_override is not None:
        out["fee_type_override"] = e.fee_type_override
        out["fee_multiplier_override"] = e.fee_multiplier_override
    return out


def series_json(s: Series) -> dict[str, Any]:
    return {
        "ticker": s.ticker, "frequency": s.frequency, "title": s.title, "category": s.category,
        "categories": [s.category], "tags": [], "settlement_sources": [{"name": "Simulated", "url": ""}],
        "contract_url": "", "contract_terms_url": "", "fee_type": "quadratic", "fee_multiplier": 1,
        "additional_prohibitions": [], "last_updated_ts": _t(s.updated_ns),
    }


def _bad(message: str) -> Reply:
    return 400, {"error": {"code": "bad_request", "message": message, "details": ""}}


def _missing(what: str) -> Reply:
    return 404, {"error": {"code": "not_found", "message": f"{what} not found", "details": ""}}


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _uncursor(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _limit(q: Mapping[str, str], default: int, maximum: int) -> int | None:
    text = q.get("limit", "")
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        return None
    return int(text)


def _int(q: Mapping[str, str], name: str) -> int | None:
    text = q.get(name)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _page(keys: list[str], q: Mapping[str, str], limit: int, keep: Callable[[str], bool]) -> tuple[list[str], str]:
    start = 0
    if q.get("cursor"):
        after = _uncursor(q["cursor"])
        if after is None:
            return [], "\x00bad"
        start = bisect.bisect_right(keys, after)
    page: list[str] = []
    for key in keys[start:]:
        if keep(key):
            if len(page) == limit:
                return page, _cursor(page[-1])
            page.append(key)
    return page, ""


def markets(u: Universe, books: Mapping[str, SimBook], q: Mapping[str, str], hidden: Callable[[str], bool]) -> Reply:
    limit = _limit(q, 100, 1000)
    if limit is None:
        return _bad("limit must be between 1 and 1000")
    status = q.get("status", "")
    if status and status not in STATUS_FILTER:
        return _bad(f"invalid status {status!r}")
    families = {f for f in ("created", "close", "settled", "updated")
                if q.get(f"min_{f}_ts") or q.get(f"max_{f}_ts")}
    if len(families) > 1:
        return _bad("timestamp filters are mutually exclusive")
    mve = q.get("mve_filter", "")
    if "updated" in families and (status or q.get("event_ticker") or q.get("tickers") or mve != "exclude"):
        return _bad("min_updated_ts is only compatible with series_ticker and mve_filter=exclude")
    family = next(iter(families), "")
    lo, hi = _int(q, f"min_{family}_ts"), _int(q, f"max_{family}_ts")
    incompatible = bool(family in _FAMILIES and status and status not in _FAMILIES[family])
    statuses = STATUS_FILTER.get(status)
    tickers = set(filter(None, q.get("tickers", "").split(","))) or None
    event, series = q.get("event_ticker"), q.get("series_ticker")

    def keep(t: str) -> bool:
        m = u.markets[t]
        if incompatible or hidden(t) or (statuses and m.status not in statuses):
            return False
        if (tickers and t not in tickers) or (event and m.event != event) or (series and m.series != series):
            return False
        if (mve == "exclude" and m.mve) or (mve == "only" and not m.mve):
            return False
        if family:
            stamp = {"created": m.created_ns, "close": m.close_ns, "settled": m.settled_ns,
                     "updated": m.updated_ns}[family]
            if stamp is None or (lo is not None and stamp < lo * S) or (hi is not None and stamp > hi * S):
                return False
        return True

    page, cursor = _page(u.sorted_tickers, q, limit, keep)
    if cursor == "\x00bad":
        return _bad("invalid cursor")
    return 200, {"markets": [market_json(u.markets[t], books.get(t)) for t in page], "cursor": cursor}


def events(u: Universe, books: Mapping[str, SimBook], q: Mapping[str, str], hidden: Callable[[str], bool]) -> Reply:
    limit = _limit(q, 200, 200)
    if limit is None:
        return _bad("limit must be between 1 and 200")
    status = q.get("status", "")
    if status and status not in STATUS_FILTER:
        return _bad(f"invalid status {status!r}")
    nested = q.get("with_nested_markets", "").lower() == "true"
    series = q.get("series_ticker")
    tickers = set(filter(None, q.get("tickers", "").split(","))) or None
    children: dict[str, list[Market]] = {}
    for m in u.markets.values():
        if not hidden(m.ticker):
            children.setdefault(m.event, []).append(m)

    min_close = _int(q, "min_close_ts")
    min_updated = _int(q, "min_updated_ts")

    def keep(t: str) -> bool:
        e = u.events[t]
        if e.series.startswith("KXMVE") or (series and e.series != series) or (tickers and t not in tickers):
            return False
        if min_updated is not None and e.updated_ns < min_updated * S:
            return False
        ms = children.get(t, ())
        if min_close is not None and not any(m.close_ns >= min_close * S for m in ms):
            return False
        return not status or any(m.status in STATUS_FILTER[status] for m in ms)

    page, cursor = _page(u.sorted_events, q, limit, keep)
    if cursor == "\x00bad":
        return _bad("invalid cursor")
    out = []
    for t in page:
        item = event_json(u.events[t], u.series[u.events[t].series])
        if nested:
            item["markets"] = [market_json(m, books.get(m.ticker)) for m in sorted(children.get(t, ()),
                                                                               key=lambda m: m.ticker)]
        out.append(item)
    return 200, {"events": out, "cursor": cursor}


def route(u: Universe, books: Mapping[str, SimBook], path: str, q: Mapping[str, str],
          hidden: Callable[[str], bool]) -> Reply:
    """Answer ``GET /trade-api/v2{path}``; ``hidden`` says whether a market is still 404."""
    parts = [p for p in path.split("/") if p]
    if parts == ["markets"]:
        return markets(u, books, q, hidden)
    if len(parts) == 2 and parts[0] == "markets":
        m = u.markets.get(parts[1])
        if m is None or hidden(m.ticker):
            return _missing("market")
        return 200, {"market": market_json(m, books.get(m.ticker))}
    if parts == ["events"]:
        return events(u, books, q, hidden)
    if len(parts) == 2 and parts[0] == "events":
        e = u.events.get(parts[1])
        if e is None:
            return _missing("event")
        ms = [market_json(m, books.get(m.ticker)) for m in sorted(u.event_markets(e.ticker), key=lambda m: m.ticker)
              if not hidden(m.ticker)]
        item = event_json(e, u.series[e.series])
        if q.get("with_nested_markets", "").lower() == "true":
            item["markets"] = ms
        return 200, {"event": item, "markets": ms}
    if parts == ["series"]:
        category = q.get("category")
        return 200, {"series": [series_json(s) for s in u.series.values() if not category or s.category == category]}
    if len(parts) == 2 and parts[0] == "series":
        s = u.series.get(parts[1])
        return (200, {"series": series_json(s)}) if s is not None else _missing("series")
    return _missing("endpoint")
