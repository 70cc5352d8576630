"""Live market state between syncs: WebSocket lifecycle records and the time sweep.

Pure functions: (stored market, record or time) → new stored market. The caller turns the
pair into a journal change with ``ssmd.secmaster.diff.change_between``.

* ``created`` → a new ``initialized`` market built from the message's metadata.
* ``activated`` / ``deactivated`` → ``active`` / ``inactive`` (a pause, never an end;
  ignored once the result is known).
* ``close_date_updated`` → new ``close_time``.
* ``determined`` → ``determined`` with its result (top-level, else ``additional_metadata``).
* ``settled`` → ``finalized`` (REST's word) with ``settlement_ts``.
* ``metadata_updated`` / ``price_level_structure_updated`` → the fields they carry (a new
  structure also brings its tick size and price ranges).
* ``event_fee_update`` (``fee_updates``) → the event's fee overrides on each of its markets
  (``null`` clears them).

Kalshi sends nothing when a market opens or closes by time, so ``sweep`` promotes
``initialized`` markets whose ``open_time`` has passed to ``active`` and ``active`` or
``inactive`` markets whose ``close_time`` has passed to ``closed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ssmd.fixed import format_price
from ssmd.kalshi.rest import PriceRange
from ssmd.records import Lifecycle
from ssmd.secmaster.model import (
    EventInfo,
    SecMarket,
    format_time,
    info_fields,
    is_ended,
    parse_time_ns,
    ranges_text,
    tick_size,
)

MARKET_KIND = "market_lifecycle_v2"
EVENT_KIND = "event_lifecycle"
FEE_KIND = "event_fee_update"


def _metadata(record: Lifecycle) -> dict[str, Any]:
    if not record.metadata:
        return {}
    try:
        value = msgspec.json.decode(record.metadata)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def event_ticker_of(record: Lifecycle) -> str:
    """The event a ``created`` record's market belongs to ('' when it does not say)."""
    extra = _metadata(record).get("additional_metadata")
    return str(extra.get("event_ticker") or "") if isinstance(extra, dict) else ""


def event_info_of(record: Lifecycle, categories: Mapping[str, str]) -> EventInfo | None:
    """What an ``event_lifecycle`` record says of a new event (its series, and the series'
    category when ``categories`` knows it), so its markets' ``created`` records get both."""
    if record.kind != EVENT_KIND:
        return None
    meta = _metadata(record)
    series = str(meta.get("series_ticker") or "")
    return EventInfo(series_ticker=series, category=categories.get(series, ""), title=str(meta.get("title") or ""))


def _ticks(meta: dict[str, Any]) -> dict[str, Any]:
    """``tick_size_dollars`` and ``price_ranges`` from a record's structure and ranges."""
    try:
        ranges = msgspec.convert(meta.get("price_ranges"), list[PriceRange] | None)
    except msgspec.ValidationError:
        ranges = None
    structure = meta.get("price_level_structure")
    return {"tick_size_dollars": tick_size(None, ranges, structure if isinstance(structure, str) else None),
            "price_ranges": ranges_text(ranges)}


def _created(record: Lifecycle, meta: dict[str, Any], info: EventInfo | None) -> SecMarket:
    extra = meta.get("additional_metadata") if isinstance(meta.get("additional_metadata"), dict) else {}
    extra = extra or {}
    event_ticker = str(extra.get("event_ticker") or "")
    info = info or EventInfo()
    expected = extra.get("expected_expiration_ts")
    return SecMarket(
        ticker=record.ticker,
        event_ticker=event_ticker,
        **{**info_fields(info), "event_title": info.title or str(extra.get("name") or "")},
        title=str(extra.get("title") or ""),
        yes_sub_title=str(extra.get("yes_sub_title") or ""),
        no_sub_title=str(extra.get("no_sub_title") or ""),
        status="initialized",
        created_time=format_time(record.ts // 1_000_000_000) if record.ts else None,
        open_time=format_time(record.open_ts) if record.open_ts is not None else None,
        close_time=format_time(record.close_ts) if record.close_ts is not None else None,
        expected_expiration_time=format_time(int(expected)) if isinstance(expected, int | float) else None,
        can_close_early=bool(extra.get("can_close_early", False)),
        strike_type=extra.get("strike_type"),
        floor_strike=_number(extra.get("floor_strike")),
        cap_strike=_number(extra.get("cap_strike")),
        price_level_structure=meta.get("price_level_structure"),
        rules_primary=str(extra.get("rules_primary") or ""),
        **_ticks(meta),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def apply_lifecycle(
    market: SecMarket | None, record: Lifecycle, info: EventInfo | None = None,
) -> SecMarket | None:
    """The market after ``record``; None when the record does not concern a stored market
    (an event-level message, or an update for a market the secmaster has never seen)."""
    if record.kind != MARKET_KIND:
        return None
    meta = _metadata(record)
    kind = record.event_type
    if kind == "created":
        return _created(record, meta, info) if market is None else market
    if market is None:
        return None
    if kind in ("activated", "deactivated") and is_ended(market.status):
        return market  # a result is known: pausing or resuming cannot reopen it
    if kind == "activated" or (kind == "deactivated" and record.is_deactivated is False):
        return msgspec.structs.replace(market, status="active")
    if kind == "deactivated":
        return msgspec.structs.replace(market, status="inactive")
    if kind == "close_date_updated" and record.close_ts is not None:
        return msgspec.structs.replace(market, close_time=format_time(record.close_ts))
    if kind == "determined":
        extra = meta.get("additional_metadata") if isinstance(meta.get("additional_metadata"), dict) else {}
        result = record.result or str((extra or {}).get("result") or "") or market.result
        value = format_price(record.settlement_value) if record.settlement_value is not None else None
        return msgspec.structs.replace(
            market, status="determined", result=result,
            settlement_value_dollars=value or market.settlement_value_dollars,
        )
    if kind == "settled":
        settled = format_time(record.settled_ts) if record.settled_ts is not None else market.settlement_ts
        return msgspec.structs.replace(market, status="finalized", settlement_ts=settled)
    if kind == "metadata_updated":
        updates: dict[str, Any] = {}
        for name in ("strike_type", "yes_sub_title"):
            if isinstance(meta.get(name), str):
                updates[name] = meta[name]
        for name in ("floor_strike", "cap_strike"):
            if name in meta:
                updates[name] = _number(meta[name])
        return msgspec.structs.replace(market, **updates) if updates else market
    if kind == "price_level_structure_updated" and isinstance(meta.get("price_level_structure"), str):
        return msgspec.structs.replace(market, price_level_structure=meta["price_level_structure"], **_ticks(meta))
    return market


def fee_updates(markets: Iterable[SecMarket], record: Lifecycle) -> list[tuple[SecMarket, SecMarket]]:
    """(old, new) for each market of the event an ``event_fee_update`` record names whose
    overrides it changes."""
    if record.kind != FEE_KIND:
        return []
    meta = _metadata(record)
    fee_type = meta.get("fee_type_override")
    overrides = {"fee_type_override": fee_type if isinstance(fee_type, str) and fee_type else None,
                 "fee_multiplier_override": _multiplier(meta.get("fee_multiplier_override"))}
    return [(m, msgspec.structs.replace(m, **overrides)) for m in markets if m.event_ticker == record.ticker
            and (m.fee_type_override, m.fee_multiplier_override) != tuple(overrides.values())]


def _multiplier(value: Any) -> float | None:
    """A fee multiplier as sent: a number, or its text."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return _number(value)


def swept(market: SecMarket, now_ns: int) -> SecMarket | None:
    """The market after time-based transitions at ``now_ns``; None when none applies."""
    if market.status == "initialized":
        opens = parse_time_ns(market.open_time)
        if opens is not None and opens <= now_ns:
            closes = parse_time_ns(market.close_time)
            status = "closed" if closes is not None and closes <= now_ns else "active"
            return msgspec.structs.replace(market, status=status)
    elif market.status in ("active", "inactive"):
        closes = parse_time_ns(market.close_time)
        if closes is not None and closes <= now_ns:
            return msgspec.structs.replace(market, status="closed")
    return None


def sweep(markets: Iterable[SecMarket], now_ns: int) -> list[tuple[SecMarket, SecMarket]]:
    """(old, new) for every market whose open or close time has passed without an event."""
    out = []
    for market in markets:
        new = swept(market, now_ns)
        if new is not None:
            out.append((market, new))
    return out
