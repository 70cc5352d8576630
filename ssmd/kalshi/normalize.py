"""Pure normalization: a decoded Kalshi wire message -> ssmd records.

``normalize(msg, received_at_ns)`` returns the records the message carries (none for
command responses), or a ``Problem`` when the message is unusable (malformed number,
missing field, unknown type): the connector dead-letters those, nothing raises.

Units (the record contracts, see ``ssmd.records``):

* prices: integer 1e-4 dollars ("0.9990" -> 9990); legacy integer cents x 100;
* sizes, volumes, open interest: integer 1e-2 contracts ("0.11" -> 11); legacy integer
  contracts x 100;
* ``dollar_volume`` / ``dollar_open_interest``: whole dollars, as Kalshi sends them;
* ``ts``: exchange time in ns from ``ts_ms`` (else deprecated ``ts`` seconds / ``time`` /
  RFC 3339, read to the nanosecond), else the receive time; lifecycle messages carry no
  exchange time, so their ``ts`` is the receive time and their own times stay Unix seconds
  (``open_ts``, ...).
* trade ``side``: the taker's outcome side (``taker_outcome_side``, else ``taker_side``,
  else ``taker_book_side`` bid=yes / ask=no).
* order book: both sides are bids in their own outcome's price, levels sorted by price
  ascending; ``delta`` is the signed size change.
* ``""`` in a dollar or count string means "no value" (``None``).
* ``market_id`` (ticker, snapshot, delta) and the older ticker ``Clock`` are kept when sent.
* a trade without ``trade_id`` (legacy frames) gets one derived from its content
  (``derived_trade_id``) and ``trade_id_derived=True``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

from ssmd.clock import rfc3339_ns
from ssmd.fixed import PRICE_SCALE, FixedPointError, parse_count, parse_price
from ssmd.kalshi import wire
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade


class Problem(msgspec.Struct, frozen=True):
    """Why a message produced no records: ``error_type`` (metric label) and ``reason``."""

    error_type: str
    reason: str


class _Bad(Exception):
    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type


_PRICES: dict[str | None, int] = {}
_COUNTS: dict[str | None, int] = {}
_DELTAS: dict[str | None, int] = {}
_CACHE_MAX = 200_000
"""Parsed prices and counts are memoized (prices take at most ~10k distinct values;
counts repeat a lot); the count cache starts over when full. Keys are the wire strings,
looked up as they come (``None`` when absent, never stored)."""
_SIDES: dict[str | None, str] = {"yes": "yes", "no": "no", "bid": "yes", "ask": "no"}
_encode = msgspec.json.encode


def _price(text: str, field: str) -> int:
    value = _PRICES.get(text)
    if value is None:
        try:
            value = parse_price(text)
        except FixedPointError as exc:
            raise _Bad("bad_value", f"{field}: {exc}") from None
        if not 0 <= value <= PRICE_SCALE:
            raise _Bad("bad_value", f"{field}: price {text!r} outside 0..1 dollars")
        if len(_PRICES) < _CACHE_MAX:
            _PRICES[text] = value
    return value


def _count(text: str, field: str, signed: bool = False) -> int:
    value = _COUNTS.get(text)
    if value is not None:
        return value
    if len(text) > 3 and text[-3] == "." and text.isascii():
        whole, frac = text[:-3], text[-2:]
        if whole.isdigit() and frac.isdigit():
            value = int(whole) * 100 + int(frac)
            if len(_COUNTS) >= _CACHE_MAX:
                _COUNTS.clear()
            _COUNTS[text] = value
            return value
    try:
        value = parse_count(text)
    except FixedPointError as exc:
        raise _Bad("bad_value", f"{field}: {exc}") from None
    if value < 0 and not signed:
        raise _Bad("bad_value", f"{field}: negative count {text!r}")
    return value


def _opt_price(text: str | None, cents: int | None, field: str) -> int | None:
    if text:
        value = _PRICES.get(text)
        return _price(text, field) if value is None else value
    if text is None and cents is not None:
        return cents * 100
    return None


def _opt_count(text: str | None, whole: int | None, field: str) -> int | None:
    if text:
        value = _COUNTS.get(text)
        return _count(text, field) if value is None else value
    if text is None and whole is not None:
        return whole * 100
    return None


def _rfc3339_ns(text: str, field: str) -> int:
    try:
        return rfc3339_ns(text)
    except ValueError:
        raise _Bad("bad_value", f"{field}: not an RFC 3339 time: {text!r}") from None


def _ts(ts_ms: int | None, ts: int | str | None, received_at: int, time: str | None = None) -> int:
    """Exchange time in ns: ``ts_ms``, else deprecated ``ts`` (seconds or RFC 3339), else
    deprecated ``time``, else the receive time."""
    if ts_ms is not None:
        return ts_ms * 1_000_000
    if isinstance(ts, int):
        return ts * 1_000_000_000
    if ts:
        return _rfc3339_ns(ts, "ts")
    if time:
        return _rfc3339_ns(time, "time")
    return received_at


def _ticker(msg: wire.Ticker, received_at: int) -> list[Record]:
    m = msg.msg
    ts = m.ts_ms * 1_000_000 if m.ts_ms is not None else _ts(None, m.ts, received_at, m.time)
    prices, counts = _PRICES, _COUNTS
    # The common case costs one dict lookup per value: all present, each seen before.
    values = (prices.get(m.price_dollars), prices.get(m.yes_bid_dollars), prices.get(m.yes_ask_dollars),
              counts.get(m.yes_bid_size_fp), counts.get(m.yes_ask_size_fp), counts.get(m.last_trade_size_fp),
              counts.get(m.volume_fp), counts.get(m.open_interest_fp))
    if None in values:  # new, empty, missing, legacy or bad values: field by field
        values = (
            _opt_price(m.price_dollars, m.price, "price_dollars"),
            _opt_price(m.yes_bid_dollars, m.yes_bid, "yes_bid_dollars"),
            _opt_price(m.yes_ask_dollars, m.yes_ask, "yes_ask_dollars"),
            _opt_count(m.yes_bid_size_fp, None, "yes_bid_size_fp"),
            _opt_count(m.yes_ask_size_fp, None, "yes_ask_size_fp"),
            _opt_count(m.last_trade_size_fp, None, "last_trade_size_fp"),
            _opt_count(m.volume_fp, m.volume, "volume_fp"),
            _opt_count(m.open_interest_fp, m.open_interest, "open_interest_fp"),
        )
    price, yes_bid, yes_ask, yes_bid_size, yes_ask_size, last_trade_size, volume, open_interest = values
    return [Ticker(
        ts=ts,
        received_at=received_at,
        ticker=m.market_ticker,
        price=price,
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        yes_bid_size=yes_bid_size,
        yes_ask_size=yes_ask_size,
        last_trade_size=last_trade_size,
        volume=volume,
        open_interest=open_interest,
        dollar_volume=m.dollar_volume,
        dollar_open_interest=m.dollar_open_interest,
        sid=msg.sid or 0,
        market_id=m.market_id or None,
        clock=m.clock,
    )]


def _trade(msg: wire.Trade, received_at: int) -> list[Record]:
    m = msg.msg
    price = _PRICES.get(m.yes_price_dollars)  # the common case: seen before (memoized)
    if price is None:
        price = _opt_price(m.yes_price_dollars, m.yes_price, "yes_price_dollars")
        if price is None and m.no_price_dollars:
            price = PRICE_SCALE - _price(m.no_price_dollars, "no_price_dollars")
        if price is None:
            raise _Bad("missing_field", "trade: no yes_price_dollars")
    size = _COUNTS.get(m.count_fp)
    if size is None:
        size = _opt_count(m.count_fp, m.count, "count_fp")
        if size is None:
            raise _Bad("missing_field", "trade: no count_fp")
    side = _SIDES.get(m.taker_outcome_side or m.taker_side or m.taker_book_side or m.side or "")
    if side is None:
        raise _Bad("missing_field", "trade: no taker side (taker_outcome_side/taker_side/taker_book_side)")
    ts = m.ts_ms * 1_000_000 if m.ts_ms is not None else _ts(None, m.ts, received_at)
    sid, seq = msg.sid or 0, msg.seq or 0
    trade_id = m.trade_id or derived_trade_id(m.market_ticker, ts, price, size, side, sid, seq)
    return [Trade(
        ts=ts,
        received_at=received_at,
        ticker=m.market_ticker,
        trade_id=trade_id,
        price=price,
        size=size,
        side=side,  # type: ignore[arg-type]
        sid=sid,
        seq=seq,
        is_block_trade=bool(m.is_block_trade),
        trade_id_derived=not m.trade_id,
    )]


def derived_trade_id(ticker: str, ts: int, price: int, size: int, side: str, sid: int, seq: int) -> str:
    """The id of a trade whose frame has none: ``derived-`` and 32 hex digits of a BLAKE2b
    hash of its normalized content (ticker, exchange time in ns, price, size, taker side) and
    its place in the stream (sid, seq), which tells apart equal trades in the same second.
    The same frame always gives the same id (replays and re-normalizations agree)."""
    key = f"{ticker}\x1f{ts}\x1f{price}\x1f{size}\x1f{side}\x1f{sid}\x1f{seq}".encode()
    return "derived-" + hashlib.blake2b(key, digest_size=16).hexdigest()


def _levels(
    fp: list[wire.Level] | None, dollars: list[tuple[str, int]] | None, cents: list[tuple[int, int]] | None,
    field: str,
) -> tuple[tuple[int, int], ...]:
    if fp is not None:
        out = [(_price(p, field), _count(c, field)) for p, c in fp]
    elif dollars is not None:
        out = [(_price(p, field), c * 100) for p, c in dollars]
    elif cents is not None:
        out = [(p * 100, c * 100) for p, c in cents]
    else:
        return ()
    out.sort()
    return tuple(out)


def _snapshot(msg: wire.OrderbookSnapshot, received_at: int) -> list[Record]:
    m = msg.msg
    return [OrderbookSnapshot(
        ts=m.ts_ms * 1_000_000 if m.ts_ms is not None else received_at,
        received_at=received_at,
        ticker=m.market_ticker,
        yes=_levels(m.yes_dollars_fp, m.yes_dollars, m.yes, "yes_dollars_fp"),
        no=_levels(m.no_dollars_fp, m.no_dollars, m.no, "no_dollars_fp"),
        sid=msg.sid or 0,
        seq=msg.seq or 0,
        market_id=m.market_id or None,
    )]


def _delta(msg: wire.OrderbookDelta, received_at: int) -> list[Record]:
    m = msg.msg
    # The common case: price, delta and side each seen before (memoized).
    price, delta, side = _PRICES.get(m.price_dollars), _DELTAS.get(m.delta_fp), _SIDES.get(m.side)
    if price is None or delta is None or side is None:
        price, delta, side = _delta_fields(m)
    return [OrderbookDelta(
        ts=m.ts_ms * 1_000_000 if m.ts_ms is not None else _ts(None, m.ts, received_at),
        received_at=received_at,
        ticker=m.market_ticker,
        side=side,  # type: ignore[arg-type]
        price=price,
        delta=delta,
        sid=msg.sid or 0,
        seq=msg.seq or 0,
        market_id=m.market_id or None,
    )]


def _delta_fields(m: wire.DeltaMsg) -> tuple[int, int, str]:
    """(price, delta, side) of a delta, field by field: parse, check, legacy fields."""
    price = _opt_price(m.price_dollars, m.price, "price_dollars")
    if price is None:
        raise _Bad("missing_field", "orderbook_delta: no price_dollars")
    if m.delta_fp:
        delta = _DELTAS.get(m.delta_fp)
        if delta is None:
            delta = _count(m.delta_fp, "delta_fp", signed=True)
            if len(_DELTAS) >= _CACHE_MAX:
                _DELTAS.clear()
            _DELTAS[m.delta_fp] = delta
    elif m.delta is not None:
        delta = m.delta * 100
    else:
        raise _Bad("missing_field", "orderbook_delta: no delta_fp")
    side = _SIDES.get(m.side or "")
    if side is None:
        raise _Bad("missing_field", f"orderbook_delta: bad side {m.side!r}")
    return price, delta, side


def _metadata(fields: dict[str, Any]) -> str | None:
    present = {k: v for k, v in fields.items() if v is not None and not (isinstance(v, msgspec.Raw) and not v)}
    return _encode(present).decode() if present else None


def _market_lifecycle(msg: wire.MarketLifecycle, received_at: int) -> list[Record]:
    m = msg.msg
    value = m.settlement_value
    if isinstance(value, str):
        settlement = None if value == "" else _price(value, "settlement_value")
    else:
        settlement = None if value is None else value * 100
    result = m.result or None
    if result is None and m.event_type == "determined" and m.additional_metadata:
        try:
            extra = msgspec.json.decode(m.additional_metadata)
        except msgspec.DecodeError:
            extra = None
        if isinstance(extra, dict) and isinstance(extra.get("result"), str) and extra["result"]:
            result = extra["result"]
    return [Lifecycle(
        ts=received_at,
        received_at=received_at,
        ticker=m.market_ticker,
        kind="market_lifecycle_v2",
        event_type=m.event_type,
        sid=msg.sid or 0,
        seq=msg.seq or 0,
        open_ts=m.open_ts,
        close_ts=m.close_ts,
        determination_ts=m.determination_ts,
        settled_ts=m.settled_ts,
        result=result,
        settlement_value=settlement,
        is_deactivated=m.is_deactivated,
        metadata=_metadata({name: getattr(m, name) for name in wire.LIFECYCLE_METADATA}),
    )]


def _event_lifecycle(msg: wire.EventLifecycle, received_at: int) -> list[Record]:
    m = msg.msg
    meta = {
        "exchange_index": m.exchange_index,
        "title": m.title,
        "subtitle": m.subtitle if m.subtitle is not None else m.sub_title,
        "collateral_return_type": m.collateral_return_type,
        "series_ticker": m.series_ticker,
        "strike_date": m.strike_date,
        "strike_period": m.strike_period,
    }
    return [Lifecycle(
        ts=received_at, received_at=received_at, ticker=m.event_ticker, kind="event_lifecycle",
        event_type="event_created", sid=msg.sid or 0, seq=msg.seq or 0, metadata=_metadata(meta),
    )]


def _fee_update(msg: wire.EventFeeUpdate, received_at: int) -> list[Record]:
    m = msg.msg
    multiplier = m.fee_multiplier_override if m.fee_multiplier_override else msgspec.Raw(b"null")
    meta = _encode({"fee_type_override": m.fee_type_override, "fee_multiplier_override": multiplier}).decode()
    return [Lifecycle(
        ts=received_at, received_at=received_at, ticker=m.event_ticker, kind="event_fee_update",
        event_type="fee_updated", sid=msg.sid or 0, seq=msg.seq or 0, metadata=meta,
    )]


def _control(msg: Any, received_at: int) -> list[Record]:
    return []


_HANDLERS: dict[type, Callable[[Any, int], list[Record]]] = {
    wire.Ticker: _ticker,
    wire.Trade: _trade,
    wire.OrderbookSnapshot: _snapshot,
    wire.OrderbookDelta: _delta,
    wire.MarketLifecycle: _market_lifecycle,
    wire.EventLifecycle: _event_lifecycle,
    wire.EventFeeUpdate: _fee_update,
    wire.Subscribed: _control,
    wire.Ok: _control,
    wire.Unsubscribed: _control,
    wire.Error: _control,
}


def normalize(msg: wire.Decoded, received_at_ns: int) -> list[Record] | Problem:
    """Records carried by ``msg`` (received at ``received_at_ns``), or why there are none."""
    handler = _HANDLERS.get(type(msg))
    if handler is None:
        if isinstance(msg, wire.Undecodable):
            return Problem(msg.error_type, msg.reason)
        return Problem("unknown_type", f"no normalizer for {type(msg).__name__}")
    try:
        return handler(msg, received_at_ns)
    except _Bad as exc:
        return Problem(exc.error_type, str(exc))
    except (ValueError, TypeError, OverflowError) as exc:
        return Problem("bad_value", f"{type(msg).__name__}: {exc}")


def normalize_frame(frame: bytes, received_at_ns: int) -> list[Record]:
    """The records of one raw frame as the connector made them (none for a frame that
    yields none or cannot be used): what rebuilding from the raw log replays."""
    outcome = normalize(wire.decode(frame), received_at_ns)
    return outcome if isinstance(outcome, list) else []
