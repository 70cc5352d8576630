"""Reading the market universe from Kalshi REST into stored markets.

A full fetch reads series (categories), events (titles, series) and every market page; an
incremental one reads only markets updated since the last sync and reuses the event facts
the stored markets already carry, fetching events and series again only for markets of
an event it has not seen. Nothing here writes anywhere: a failure leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import msgspec

from ssmd.config.model import Environment
from ssmd.errors import ConfigError
from ssmd.kalshi.rest import KalshiRest
from ssmd.secmaster.model import EventInfo, SecMarket, event_infos, from_rest, info_fields, info_of

Progress = Callable[[str, int], None]
"""Called as ``progress(stage, count)``: stage ``series``/``events``/``markets``, items so far."""

INCREMENTAL_OVERLAP_S = 60
"""Incremental syncs ask for changes since the last sync minus this margin."""


def rest_url(env: Environment, today: date | None = None) -> str:
    """The REST base URL: ``endpoints.rest`` if set (the built-in simulator's, when the
    runtime started it and passed it in), else the feed's production endpoint."""
    if env.endpoints.rest:
        return env.endpoints.rest
    from ssmd.config.load import load_feed

    version = load_feed(env.feed).current(today)
    endpoints = version.endpoints.get("prod") or next(iter(version.endpoints.values()), None)
    if endpoints is None:
        raise ConfigError(env.feed, "endpoints", "the feed has no REST endpoint")
    return endpoints.rest


def infos_from_markets(markets: Mapping[str, SecMarket]) -> dict[str, EventInfo]:
    """event ticker → facts, as the stored markets already know them."""
    out: dict[str, EventInfo] = {}
    for market in markets.values():
        if market.event_ticker and market.event_ticker not in out and (market.series_ticker or market.category):
            out[market.event_ticker] = info_of(market)
    return out


def series_categories(markets: Mapping[str, SecMarket]) -> dict[str, str]:
    """series ticker → category, as the stored markets know them."""
    return {m.series_ticker: m.category for m in markets.values() if m.series_ticker and m.category}


async def fetch_event_infos(rest: KalshiRest, progress: Progress | None = None) -> dict[str, EventInfo]:
    series = await rest.series()
    if progress:
        progress("series", len(series))
    events = await rest.events()
    if progress:
        progress("events", len(events))
    return event_infos(events, series)


async def fetch_markets(
    rest: KalshiRest,
    *,
    known: Mapping[str, SecMarket],
    full: bool,
    since_s: int | None = None,
    page_limit: int = 1000,
    progress: Progress | None = None,
) -> dict[str, SecMarket]:
    """Markets as they should be stored: every one (``full``) or those updated since ``since_s``."""
    infos: dict[str, EventInfo] = {} if full else infos_from_markets(known)
    if full:
        infos = await fetch_event_infos(rest, progress)
    filters: dict[str, object] = {"mve_filter": "exclude"}
    if not full and since_s is not None:
        filters["min_updated_ts"] = max(0, since_s - INCREMENTAL_OVERLAP_S)
    wire = []
    async for page in rest.market_pages(limit=page_limit, **filters):
        wire.extend(page)
        if progress:
            progress("markets", len(wire))
    if not full and any(m.event_ticker not in infos for m in wire):
        infos.update(await fetch_event_infos(rest, progress))
    out: dict[str, SecMarket] = {}
    for item in wire:
        market = from_rest(item, infos.get(item.event_ticker))
        old = known.get(item.ticker)
        if item.event_ticker not in infos and old is not None:
            market = msgspec.structs.replace(market, **info_fields(info_of(old)))
        out[item.ticker] = market
    return out
