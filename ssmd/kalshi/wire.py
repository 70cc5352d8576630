"""msgspec Structs mirroring Kalshi's WebSocket v2 JSON, and the one prebuilt decoder.

Every server message is ``{"type", "sid"?, "seq"?, "id"?, "msg"?}``. ``decode(frame)``
does one typed decode into a tagged union on ``type``; it never raises. A frame of an
unknown type, or one that does not fit its type's shape, comes back as ``Undecodable``
with the raw bytes and the reason (the connector dead-letters it).

Tolerance rules (Kalshi changes this API often, see the protocol reference §6):

* extra fields are ignored; fields not always present are optional (``None``);
* deprecated aliases are kept as their own fields (``taker_side`` next to
  ``taker_outcome_side``, ``ts`` next to ``ts_ms``, legacy integer-cent ticker and trade
  fields) and ``ssmd.kalshi.normalize`` picks the current one first;
* ``""`` in a dollar or count string means "no value" (handled by normalize);
* fields whose JSON type varies by era (``ts`` int seconds or RFC 3339 text,
  ``settlement_value`` int cents or dollar text) accept both.

Numbers stay text here: normalize turns them into exact scaled integers.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Level = tuple[str, str]
"""An order-book level on the wire: [dollar string, count string]."""


_ABSENT = msgspec.Raw()
"""An empty Raw: the field was not in the message (a JSON ``null`` is kept as ``null``)."""


class _Tagged(msgspec.Struct, tag_field="type", kw_only=True):
    pass


# --- data messages -----------------------------------------------------------------


class TickerMsg(msgspec.Struct, kw_only=True):
    market_ticker: str
    market_id: str | None = None
    price_dollars: str | None = None
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_size_fp: str | None = None
    last_trade_size_fp: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    ts_ms: int | None = None
    ts: int | None = None
    """Deprecated: Unix seconds."""
    time: str | None = None
    """Deprecated: RFC 3339."""
    clock: int | None = msgspec.field(default=None, name="Clock")
    """Kalshi's global ``Clock`` counter (older tickers only)."""
    # legacy integer fields (removed from the wire 2026-03)
    price: int | None = None
    yes_bid: int | None = None
    yes_ask: int | None = None
    volume: int | None = None
    open_interest: int | None = None


class Ticker(_Tagged, tag="ticker", kw_only=True):
    sid: int | None = None
    msg: TickerMsg


class TradeMsg(msgspec.Struct, kw_only=True):
    market_ticker: str
    trade_id: str | None = None
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    count_fp: str | None = None
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    taker_side: str | None = None
    """Deprecated alias of ``taker_outcome_side``."""
    is_block_trade: bool | None = None
    ts_ms: int | None = None
    ts: int | None = None
    """Deprecated: Unix seconds."""
    # legacy integer fields
    yes_price: int | None = None
    count: int | None = None
    side: str | None = None


class Trade(_Tagged, tag="trade", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    msg: TradeMsg


class SnapshotMsg(msgspec.Struct, kw_only=True):
    market_ticker: str
    market_id: str | None = None
    yes_dollars_fp: list[Level] | None = None
    no_dollars_fp: list[Level] | None = None
    ts_ms: int | None = None
    # legacy shapes
    yes: list[tuple[int, int]] | None = None
    no: list[tuple[int, int]] | None = None
    yes_dollars: list[tuple[str, int]] | None = None
    no_dollars: list[tuple[str, int]] | None = None


class OrderbookSnapshot(_Tagged, tag="orderbook_snapshot", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    """Set when the snapshot answers an ``update_subscription`` ``get_snapshot``."""
    msg: SnapshotMsg


class DeltaMsg(msgspec.Struct, kw_only=True):
    market_ticker: str
    market_id: str | None = None
    price_dollars: str | None = None
    delta_fp: str | None = None
    side: str | None = None
    ts_ms: int | None = None
    ts: str | int | None = None
    """Deprecated: RFC 3339 (to the nanosecond in older frames)."""
    client_order_id: str | None = None
    subaccount: int | str | None = None
    # legacy
    price: int | None = None
    delta: int | None = None


class OrderbookDelta(_Tagged, tag="orderbook_delta", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    msg: DeltaMsg


class LifecycleMsg(msgspec.Struct, kw_only=True):
    market_ticker: str
    event_type: str
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value: str | int | None = None
    """Dollar text now; integer cents historically."""
    is_deactivated: bool | None = None
    # kept verbatim in the record's metadata
    exchange_index: int | None = None
    price_level_structure: str | None = None
    price_ranges: msgspec.Raw = _ABSENT
    additional_metadata: msgspec.Raw = _ABSENT
    strike_type: str | None = None
    floor_strike: msgspec.Raw = _ABSENT
    cap_strike: msgspec.Raw = _ABSENT
    custom_strike: msgspec.Raw = _ABSENT
    yes_sub_title: str | None = None


LIFECYCLE_METADATA = (
    "exchange_index",
    "price_level_structure",
    "price_ranges",
    "additional_metadata",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "custom_strike",
    "yes_sub_title",
)
"""LifecycleMsg fields that go, verbatim, into the record's ``metadata`` JSON."""


class MarketLifecycle(_Tagged, tag="market_lifecycle_v2", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    msg: LifecycleMsg


class EventLifecycleMsg(msgspec.Struct, kw_only=True):
    event_ticker: str
    exchange_index: int | None = None
    title: str | None = None
    subtitle: str | None = None
    sub_title: str | None = None
    """Older spelling of ``subtitle``."""
    collateral_return_type: str | None = None
    series_ticker: str | None = None
    strike_date: int | None = None
    strike_period: str | None = None


class EventLifecycle(_Tagged, tag="event_lifecycle", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    msg: EventLifecycleMsg


class FeeUpdateMsg(msgspec.Struct, kw_only=True):
    event_ticker: str
    fee_type_override: str | None = None
    fee_multiplier_override: msgspec.Raw = _ABSENT


class EventFeeUpdate(_Tagged, tag="event_fee_update", kw_only=True):
    sid: int | None = None
    seq: int | None = None
    msg: FeeUpdateMsg


# --- command responses ---------------------------------------------------------------


class SubscribedMsg(msgspec.Struct, kw_only=True):
    channel: str | None = None
    sid: int | None = None


class Subscribed(_Tagged, tag="subscribed", kw_only=True):
    id: int | None = None
    sid: int | None = None
    msg: SubscribedMsg | None = None
    """Absent in an older API revision (bare ``{"type":"subscribed","id":1}``)."""


class SubscriptionInfo(msgspec.Struct, kw_only=True):
    channel: str | None = None
    sid: int | None = None


class OkMsg(msgspec.Struct, kw_only=True):
    market_tickers: list[str] | None = None


class Ok(_Tagged, tag="ok", kw_only=True):
    """``update_subscription`` acknowledgement (``msg`` object, or the older top-level
    ``market_tickers``) or the ``list_subscriptions`` answer (``msg`` array)."""

    id: int | None = None
    sid: int | None = None
    seq: int | None = None
    msg: OkMsg | list[SubscriptionInfo] | None = None
    market_tickers: list[str] | None = None

    @property
    def tickers(self) -> list[str] | None:
        if isinstance(self.msg, OkMsg) and self.msg.market_tickers is not None:
            return self.msg.market_tickers
        return self.market_tickers

    @property
    def subscriptions(self) -> list[SubscriptionInfo] | None:
        return self.msg if isinstance(self.msg, list) else None


class Unsubscribed(_Tagged, tag="unsubscribed", kw_only=True):
    id: int | None = None
    sid: int | None = None
    seq: int | None = None


class ErrorMsg(msgspec.Struct, kw_only=True):
    code: int | None = None
    msg: str | None = None
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


class Error(_Tagged, tag="error", kw_only=True):
    id: int | None = None
    sid: int | None = None
    seq: int | None = None
    msg: ErrorMsg | None = None

    @property
    def code(self) -> int | None:
        return self.msg.code if self.msg is not None else None

    @property
    def reason(self) -> str:
        if self.msg is None:
            return "error"
        return f"error {self.msg.code}: {self.msg.msg or ''}".rstrip(": ")


# --- the decoder -----------------------------------------------------------------------


class Undecodable(msgspec.Struct, kw_only=True):
    """A frame that could not be decoded: kept raw, with why."""

    raw: bytes
    error_type: Literal["parse", "unknown_type"]
    reason: str
    type: str | None = None
    sid: int | None = None
    seq: int | None = None


class _Envelope(msgspec.Struct):
    type: str | None = None
    sid: int | None = None
    seq: int | None = None


DataMessage = Ticker | Trade | OrderbookSnapshot | OrderbookDelta | MarketLifecycle | EventLifecycle | EventFeeUpdate
Control = Subscribed | Ok | Unsubscribed | Error
Message = DataMessage | Control
Decoded = Message | Undecodable

DATA_TYPES: tuple[type[DataMessage], ...] = (
    Ticker, Trade, OrderbookSnapshot, OrderbookDelta, MarketLifecycle, EventLifecycle, EventFeeUpdate,
)
CONTROL_TYPES: tuple[type[Control], ...] = (Subscribed, Ok, Unsubscribed, Error)
KNOWN_TYPES: frozenset[str] = frozenset(
    t.__struct_config__.tag for t in (*DATA_TYPES, *CONTROL_TYPES)  # type: ignore[misc]
)

CHANNEL_OF_TYPE: dict[str, str] = {
    "ticker": "ticker",
    "trade": "trade",
    "orderbook_snapshot": "orderbook_delta",
    "orderbook_delta": "orderbook_delta",
    "market_lifecycle_v2": "market_lifecycle_v2",
    "event_lifecycle": "market_lifecycle_v2",
    "event_fee_update": "market_lifecycle_v2",
}
"""The channel a data message type arrives on (used when the sid is not known)."""

_decoder: msgspec.json.Decoder[Message] = msgspec.json.Decoder(Message)
_envelope = msgspec.json.Decoder(_Envelope)


_NESTED = "JSON is nested too deeply"


def decode_strict(frame: bytes | str, _decode: Any = _decoder.decode) -> Message:
    """One frame -> a typed message; raises ``msgspec.DecodeError`` (then ``undecodable`` says
    what the frame is), also for a frame nested deeper than the interpreter's recursion limit
    (msgspec raises ``RecursionError`` for those, which would escape the pipeline)."""
    try:
        return _decode(frame)
    except RecursionError:
        raise msgspec.DecodeError(_NESTED) from None


def decode(frame: bytes | str) -> Decoded:
    """One frame -> a typed message, or ``Undecodable``. Never raises."""
    try:
        return _decoder.decode(frame)
    except msgspec.DecodeError as exc:
        return undecodable(frame, str(exc))
    except RecursionError:
        return undecodable(frame, _NESTED)


def undecodable(frame: bytes | str, reason: str) -> Undecodable:
    """The ``Undecodable`` of a frame the decoder refused with ``reason``."""
    raw = frame.encode() if isinstance(frame, str) else bytes(frame)
    try:
        env = _envelope.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return Undecodable(raw=raw, error_type="parse", reason=reason)
    if env.type is not None and env.type not in KNOWN_TYPES:
        return Undecodable(raw=raw, error_type="unknown_type", reason=f"unknown message type {env.type!r}",
                           type=env.type, sid=env.sid, seq=env.seq)
    return Undecodable(raw=raw, error_type="parse", reason=reason, type=env.type, sid=env.sid, seq=env.seq)
