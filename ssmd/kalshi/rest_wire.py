"""msgspec Structs mirroring Kalshi's REST security-master JSON, and their tolerant decoding.

The Structs follow the REST objects (reference §4.6/4.7): unknown fields are ignored and
everything but the identifiers is optional. ``decode(body, kind, decoder)`` reads a response:

* the normal case is one strict typed decode of the whole body;
* when that fails, each market / event / series of the page is decoded on its own, strictly
  first, then field by field (``ssmd.kalshi.tolerant``): an odd field is coerced or left at
  its default and reported as a ``Repair``; an object without its ticker is left out and
  reported as ``Unkept``. One odd market never costs the page.
* legacy integer fields (``volume``, ``open_interest``, ``last_price`` in cents) fill their
  current text field when that is absent, reported as a ``Repair`` too.

Pure: the REST client (``ssmd.kalshi.rest``) logs and counts what is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from ssmd.kalshi.tolerant import Repair, Unkept, convert, json_type, number_text

P = TypeVar("P")
S = TypeVar("S", bound=msgspec.Struct)


class PriceRange(msgspec.Struct, kw_only=True):
    start: str = ""
    end: str = ""
    step: str = ""


class Market(msgspec.Struct, kw_only=True):
    ticker: str
    event_ticker: str
    market_type: str = "binary"
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    created_time: str | None = None
    updated_time: str | None = None
    open_time: str | None = None
    close_time: str | None = None
    expected_expiration_time: str | None = None
    latest_expiration_time: str | None = None
    expiration_time: str | None = None
    settlement_timer_seconds: int | None = None
    status: str = ""
    result: str = ""
    can_close_early: bool = False
    early_close_condition: str | None = None
    last_price_dollars: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    notional_value_dollars: str | None = None
    settlement_value_dollars: str | None = None
    settlement_ts: str | None = None
    expiration_value: str | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    functional_strike: str | None = None
    custom_strike: dict[str, Any] | None = None
    rules_primary: str = ""
    rules_secondary: str = ""
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    tick_size: int | None = None
    """Older API: the price step in cents (the current one gives ``price_ranges``)."""
    is_provisional: bool | None = None
    mve_collection_ticker: str | None = None
    exchange_index: int | None = None
    # legacy integer fields (removed 2026-03); ``decode`` moves them into the text fields
    last_price: int | None = None
    """Cents."""
    volume: int | None = None
    """Whole contracts."""
    open_interest: int | None = None
    """Whole contracts."""


class Event(msgspec.Struct, kw_only=True):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    sub_title: str = ""
    category: str | None = None
    """Deprecated upstream; the series' category wins."""
    collateral_return_type: str | None = None
    mutually_exclusive: bool | None = None
    strike_date: str | None = None
    strike_period: str | None = None
    fee_type_override: str | None = None
    """Replaces the series' ``fee_type`` for this event's markets."""
    fee_multiplier_override: float | None = None
    """Replaces the series' ``fee_multiplier`` for this event's markets."""


class Series(msgspec.Struct, kw_only=True):
    ticker: str
    title: str = ""
    category: str = ""
    categories: list[str] | None = None
    frequency: str = ""
    tags: list[str] | None = None
    fee_type: str | None = None
    """``quadratic``, ``quadratic_with_maker_fees``, ``flat``, ..."""
    fee_multiplier: float | None = None


class _MarketsPage(msgspec.Struct):
    markets: list[Market] | None = None
    cursor: str | None = None


class _MarketOne(msgspec.Struct):
    market: Market


class _EventOne(msgspec.Struct):
    event: Event


class _SeriesOne(msgspec.Struct):
    series: Series


class _EventsPage(msgspec.Struct):
    events: list[Event] | None = None
    cursor: str | None = None


class _SeriesPage(msgspec.Struct):
    series: list[Series] | None = None
    cursor: str | None = None


class _Items(msgspec.Struct, frozen=True):
    """Where a response keeps its objects: field, class, kind, key field, a list or one."""

    field: str
    cls: type[msgspec.Struct]
    kind: str
    key: str
    many: bool


TOLERANT: dict[type[Any], _Items] = {
    _MarketsPage: _Items("markets", Market, "market", "ticker", True),
    _EventsPage: _Items("events", Event, "event", "event_ticker", True),
    _SeriesPage: _Items("series", Series, "series", "ticker", True),
    _MarketOne: _Items("market", Market, "market", "ticker", False),
    _EventOne: _Items("event", Event, "event", "event_ticker", False),
    _SeriesOne: _Items("series", Series, "series", "ticker", False),
}
"""Responses decoded object by object when the strict decode fails."""


class Decoded(msgspec.Struct, Generic[P], kw_only=True):
    value: P
    repairs: list[Repair] = []
    unkept: list[Unkept] = []


_outer = msgspec.json.Decoder(dict[str, msgspec.Raw])
_raw_list = msgspec.json.Decoder(list[msgspec.Raw] | None)
_any = msgspec.json.Decoder()
_strict: dict[type[Any], msgspec.json.Decoder[Any]] = {
    cls: msgspec.json.Decoder(cls) for cls in (Market, Event, Series)
}
_LEGACY = (("last_price_dollars", "last_price", 4, 100), ("volume_fp", "volume", 2, 1),
           ("open_interest_fp", "open_interest", 2, 1))
"""(current text field, legacy integer field, decimals, legacy units per dollar/contract)."""


def decode(body: bytes, kind: type[P], decoder: msgspec.json.Decoder[P]) -> Decoded[P]:
    """``body`` as ``kind``: strictly, else object by object. Raises ``msgspec.DecodeError``
    only when the body itself is unusable (not JSON, not an object, a required part missing)."""
    spec = TOLERANT.get(kind)
    try:
        value = decoder.decode(body)
    except msgspec.ValidationError:
        if spec is None:
            raise
        return _tolerant(body, kind, spec)
    if spec is None or spec.cls is not Market:
        return Decoded(value=value)
    items = getattr(value, spec.field)
    return Decoded(value=value, repairs=_legacy((items or []) if spec.many else [items]))


def _tolerant(body: bytes, kind: type[P], spec: _Items) -> Decoded[P]:
    make: Callable[..., P] = kind  # a response Struct: (items) or (items, cursor)
    outer = _outer.decode(body)
    raw = outer.get(spec.field)
    if spec.many:
        raws: list[msgspec.Raw | None] = list(_raw_list.decode(raw) or []) if raw is not None else []
    else:
        raws = [raw]
    items: list[Any] = []
    repairs: list[Repair] = []
    unkept: list[Unkept] = []
    for one in raws:
        item = _item(one, spec, repairs, unkept)
        if item is not None:
            items.append(item)
    if spec.cls is Market:
        repairs += _legacy(items)
    if not spec.many:
        if not items:
            reason = unkept[0].reason if unkept else "missing"
            raise msgspec.ValidationError(f"{spec.field}: {reason}")
        return Decoded(value=make(items[0]), repairs=repairs)
    cursor = _any.decode(outer["cursor"]) if "cursor" in outer else None
    if not isinstance(cursor, str | None):
        raise msgspec.ValidationError(f"cursor: expected text, got {json_type(cursor)}")
    return Decoded(value=make(items, cursor), repairs=repairs, unkept=unkept)


def _item(raw: msgspec.Raw | None, spec: _Items, repairs: list[Repair], unkept: list[Unkept]) -> Any:
    if raw is None:
        unkept.append(Unkept(kind=spec.kind, key=None, reason="missing"))
        return None
    try:
        return _strict[spec.cls].decode(raw)
    except msgspec.ValidationError:
        pass
    item, fixed, why = convert(_any.decode(raw), spec.cls, spec.kind, spec.key)
    repairs += fixed
    if why is not None:
        unkept.append(why)
    return item


def _legacy(markets: list[Market]) -> list[Repair]:
    """Fill current text fields from legacy integers (``volume`` 5 → ``volume_fp`` "5.00")."""
    out: list[Repair] = []
    for m in markets:
        if m.volume is None and m.open_interest is None and m.last_price is None:
            continue  # the current API: nothing to do
        for text_field, int_field, places, per_unit in _LEGACY:
            whole = getattr(m, int_field)
            if whole is not None and getattr(m, text_field) is None:
                setattr(m, text_field, number_text(Decimal(whole) / per_unit, places))
                out.append(Repair(kind="market", key=m.ticker, field=int_field, value_type=json_type(whole),
                                  action="coerced"))
    return out
