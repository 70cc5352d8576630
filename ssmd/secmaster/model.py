"""The stored market: REST metadata plus the event/series facts a market lacks.

What the secmaster keeps per market is its metadata, not its prices: top-of-book, volume
and open interest change every second and belong to the WebSocket feed, so they are left
out and never produce ``market_updated`` changes.

Status values are REST's, kept faithfully: ``initialized``, ``active``, ``inactive``
(paused, not an end), ``closed``, ``determined``, ``disputed``, ``amended``,
``finalized`` (what the WebSocket calls ``settled``). Times are RFC 3339 strings as REST
sends them.

Fees come from the series (``fee_type``, ``fee_multiplier``), an event may override them
(``fee_type_override``, ``fee_multiplier_override``: the override wins where set). The
tick size is the smallest price step in dollars: REST's own ``tick_size`` where the older
API sends one, else the smallest step of ``price_ranges``, else what the
``price_level_structure`` implies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from ssmd.clock import rfc3339_ns
from ssmd.fixed import FixedPointError, format_price, parse_price
from ssmd.kalshi.rest import Event, Market, PriceRange, Series

STATUSES = ("initialized", "active", "inactive", "closed", "determined", "disputed", "amended", "finalized")
ENDED = frozenset({"determined", "disputed", "amended", "finalized"})
"""Result known or paid out: nothing left to trade, so no market data to follow."""

_ALIASES = {
    # REST /markets ``status`` filter values and WebSocket lifecycle wording.
    "unopened": "initialized",
    "created": "initialized",
    "open": "active",
    "activated": "active",
    "paused": "inactive",
    "deactivated": "inactive",
    "settled": "finalized",
}


def canonical_status(value: str) -> str:
    """REST status for a REST/WS/filter spelling (``settled`` → ``finalized``, ``open`` → ``active``)."""
    text = value.strip().lower()
    return _ALIASES.get(text, text)


def is_ended(status: str) -> bool:
    return canonical_status(status) in ENDED


class SecMarket(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One market as the secmaster stores it (cache hash value, Parquet row, CLI output)."""

    ticker: str
    event_ticker: str
    series_ticker: str = ""
    category: str = ""
    event_title: str = ""
    market_type: str = "binary"
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    status: str = ""
    result: str = ""
    created_time: str | None = None
    updated_time: str | None = None
    open_time: str | None = None
    close_time: str | None = None
    expected_expiration_time: str | None = None
    latest_expiration_time: str | None = None
    settlement_ts: str | None = None
    settlement_value_dollars: str | None = None
    settlement_timer_seconds: int | None = None
    can_close_early: bool = False
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    notional_value_dollars: str | None = None
    price_level_structure: str | None = None
    rules_primary: str = ""
    tick_size_dollars: str | None = None
    """Smallest price step, dollars (``"0.0100"``; ``"0.0010"`` for sub-penny structures)."""
    price_ranges: str | None = None
    """The valid price bands as compact JSON (``[{"start":"0.0000","end":"1.0000","step":"0.0100"}]``)."""
    fee_type: str | None = None
    """The series' fee type: ``quadratic``, ``quadratic_with_maker_fees``, ``flat``, ..."""
    fee_multiplier: float | None = None
    """The series' fee multiplier."""
    fee_type_override: str | None = None
    """The event's override of ``fee_type``, if any."""
    fee_multiplier_override: float | None = None
    """The event's override of ``fee_multiplier``, if any."""


FIELDS: tuple[str, ...] = SecMarket.__struct_fields__
"""Field order of a stored market (also the Parquet column order)."""
DIFF_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("ticker", "updated_time"))
"""Fields whose change is a ``market_updated``; ``updated_time`` moves with any of them."""

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SecMarket)


def encode(market: SecMarket) -> str:
    return _encoder.encode(market).decode()


def decode(text: str | bytes) -> SecMarket:
    return _decoder.decode(text)


def to_dict(market: SecMarket) -> dict[str, Any]:
    return {f: getattr(market, f) for f in FIELDS}


class EventInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a market inherits from its event and series."""

    series_ticker: str = ""
    category: str = ""
    title: str = ""
    fee_type: str | None = None
    fee_multiplier: float | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: float | None = None


def info_of(market: SecMarket) -> EventInfo:
    """The event and series facts a stored market carries."""
    return EventInfo(series_ticker=market.series_ticker, category=market.category, title=market.event_title,
                     fee_type=market.fee_type, fee_multiplier=market.fee_multiplier,
                     fee_type_override=market.fee_type_override,
                     fee_multiplier_override=market.fee_multiplier_override)


def info_fields(info: EventInfo) -> dict[str, Any]:
    """The SecMarket fields that come from the event and series (``event_title`` is ``info.title``)."""
    return {"series_ticker": info.series_ticker, "category": info.category, "event_title": info.title,
            "fee_type": info.fee_type, "fee_multiplier": info.fee_multiplier,
            "fee_type_override": info.fee_type_override, "fee_multiplier_override": info.fee_multiplier_override}


def event_infos(events: list[Event], series: list[Series]) -> dict[str, EventInfo]:
    """event ticker → series and category. Category: series first, then the deprecated event field."""
    by_series = {s.ticker: s for s in series}
    out: dict[str, EventInfo] = {}
    for event in events:
        found = by_series.get(event.series_ticker)
        category = (found.category if found else "") or event.category or ""
        out[event.event_ticker] = EventInfo(
            series_ticker=event.series_ticker, category=category, title=event.title,
            fee_type=found.fee_type if found else None, fee_multiplier=found.fee_multiplier if found else None,
            fee_type_override=event.fee_type_override, fee_multiplier_override=event.fee_multiplier_override,
        )
    return out


_STRUCTURE_TICKS = {"linear_cent": 100, "deci_cent": 10, "tapered_deci_cent": 10}
"""Smallest step (1e-4 dollars) of the price level structures whose steps are known (§3.9)."""
_ranges_encoder = msgspec.json.Encoder()


def tick_size(tick_cents: int | None, ranges: Sequence[PriceRange] | None, structure: str | None) -> str | None:
    """The smallest price step in dollars: REST's ``tick_size`` (older API, cents), else the
    smallest step of ``ranges``, else the one ``structure`` implies; None when unknown."""
    if tick_cents is not None and tick_cents > 0:
        return format_price(tick_cents * 100)
    steps = []
    for band in ranges or ():
        try:
            steps.append(parse_price(band.step))
        except FixedPointError:
            continue
    positive = [s for s in steps if s > 0]
    if positive:
        return format_price(min(positive))
    step = _STRUCTURE_TICKS.get(structure or "")
    return None if step is None else format_price(step)


def ranges_text(ranges: Sequence[PriceRange] | None) -> str | None:
    """``price_ranges`` as stored: compact JSON, None when absent or empty."""
    return _ranges_encoder.encode(list(ranges)).decode() if ranges else None


def from_rest(market: Market, info: EventInfo | None) -> SecMarket:
    """The stored form of a REST market, joined with its event/series facts."""
    info = info or EventInfo()
    return SecMarket(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        **info_fields(info),
        market_type=market.market_type,
        title=market.title,
        subtitle=market.subtitle,
        yes_sub_title=market.yes_sub_title,
        no_sub_title=market.no_sub_title,
        status=canonical_status(market.status),
        result=market.result,
        created_time=market.created_time,
        updated_time=market.updated_time,
        open_time=market.open_time,
        close_time=market.close_time,
        expected_expiration_time=market.expected_expiration_time,
        latest_expiration_time=market.latest_expiration_time or market.expiration_time,
        settlement_ts=market.settlement_ts,
        settlement_value_dollars=market.settlement_value_dollars,
        settlement_timer_seconds=market.settlement_timer_seconds,
        can_close_early=market.can_close_early,
        strike_type=market.strike_type,
        floor_strike=market.floor_strike,
        cap_strike=market.cap_strike,
        notional_value_dollars=market.notional_value_dollars,
        price_level_structure=market.price_level_structure,
        rules_primary=market.rules_primary,
        tick_size_dollars=tick_size(market.tick_size, market.price_ranges, market.price_level_structure),
        price_ranges=ranges_text(market.price_ranges),
    )


def parse_time_ns(text: str | None) -> int | None:
    """RFC 3339 → ns since epoch; None for a missing or unreadable time."""
    if not text:
        return None
    try:
        return rfc3339_ns(text)
    except ValueError:
        return None


def format_time(seconds: int) -> str:
    """Unix seconds → RFC 3339 as REST writes it (``2026-07-23T21:00:00Z``)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiration_ns(market: SecMarket) -> int | None:
    """When the outcome is expected: expected, else latest expiration, else close time."""
    for text in (market.expected_expiration_time, market.latest_expiration_time, market.close_time):
        ns = parse_time_ns(text)
        if ns is not None:
            return ns
    return None


class SyncSummary(msgspec.Struct, kw_only=True):
    kind: Literal["full", "incremental"]
    total: int
    added: int = 0
    updated: int = 0
    settled: int = 0
    removed: int = 0
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    finished_at: int = 0
    """ns since epoch."""
