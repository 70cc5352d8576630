"""Cap'n Proto encoding of normalized records (``ssmd.records``) for the transport.

``encode(record) -> bytes`` and ``decode(type, bytes) -> record`` are exact inverses.
Schemas come from ``exchanges/schemas/*.capnp`` and are loaded once, lazily.

The hot path does not go through pycapnp's per-field setters: each record type is bound to
its struct layout read from the compiled schema (``ssmd.capnp_layout``), which generates one
encoder and one decoder per type. They produce exactly the bytes pycapnp produces (tests
compare them on many random records). pycapnp stays the reference implementation
(``reference_encode`` / ``reference_decode``) and is used for what the fast path does not
cover: messages too big for one segment, and bytes not in the canonical single-segment shape
(other writers, other schema versions, or malformed data, which raises ``DataError``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any

from ssmd.capnp_layout import Binding, Mismatch, UnsupportedLayout, compile_decoder, compile_encoder, layout_of
from ssmd.errors import DataError
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade
from ssmd.resources import schemas_dir

_TICKER_OPTIONAL = (
    ("price", "price", "hasPrice"),
    ("yes_bid", "yesBid", "hasYesBid"),
    ("yes_ask", "yesAsk", "hasYesAsk"),
    ("yes_bid_size", "yesBidSize", "hasYesBidSize"),
    ("yes_ask_size", "yesAskSize", "hasYesAskSize"),
    ("last_trade_size", "lastTradeSize", "hasLastTradeSize"),
    ("volume", "volume", "hasVolume"),
    ("open_interest", "openInterest", "hasOpenInterest"),
    ("dollar_volume", "dollarVolume", "hasDollarVolume"),
    ("dollar_open_interest", "dollarOpenInterest", "hasDollarOpenInterest"),
)
_LIFECYCLE_OPTIONAL = (
    ("open_ts", "openTs", "hasOpenTs"),
    ("close_ts", "closeTs", "hasCloseTs"),
    ("determination_ts", "determinationTs", "hasDeterminationTs"),
    ("settled_ts", "settledTs", "hasSettledTs"),
    ("result", "result", "hasResult"),
    ("settlement_value", "settlementValue", "hasSettlementValue"),
    ("is_deactivated", "isDeactivated", "hasIsDeactivated"),
    ("metadata", "metadata", "hasMetadata"),
)
_COMMON = {"ts": "ts", "receivedAt": "received_at", "ticker": "ticker"}
_SEQUENCED = {"sid": "sid", "seq": "seq"}


def _optional(fields: tuple[tuple[str, str, str], ...]) -> tuple[dict[str, str], dict[str, str]]:
    return {field: attr for attr, field, _ in fields}, {flag: field for _, field, flag in fields}


def _bindings() -> dict[str, tuple[str, str, list[Binding]]]:
    """Record type -> (schema file, struct, bindings). Pointer fields are listed in the order
    the reference encoder sets them, which is the order they are laid out in the message."""
    ticker_fields, ticker_flags = _optional(_TICKER_OPTIONAL)
    lifecycle_fields, lifecycle_flags = _optional(_LIFECYCLE_OPTIONAL)
    return {
        "trade": ("trade", "Trade", [Binding(Trade, {
            **_COMMON, "tradeId": "trade_id", "price": "price", "size": "size", "side": "side",
            **_SEQUENCED, "isBlockTrade": "is_block_trade"})]),
        "ticker": ("ticker", "Ticker", [Binding(Ticker, {**_COMMON, "sid": "sid", **ticker_fields},
                                                ticker_flags)]),
        "orderbook": ("orderbook", "OrderbookUpdate", [
            Binding(OrderbookSnapshot, {**_COMMON, **_SEQUENCED, "snapshot.yes": "yes", "snapshot.no": "no"},
                    variant="snapshot"),
            Binding(OrderbookDelta, {**_COMMON, **_SEQUENCED, "delta.side": "side", "delta.price": "price",
                                     "delta.delta": "delta"}, variant="delta"),
        ]),
        "lifecycle": ("lifecycle", "Lifecycle", [Binding(Lifecycle, {
            **_COMMON, "kind": "kind", "eventType": "event_type", **_SEQUENCED, **lifecycle_fields},
            lifecycle_flags)]),
    }


@cache
def _schema(name: str) -> Any:
    import capnp

    capnp.remove_import_hook()
    return capnp.load(str(schemas_dir() / f"{name}.capnp"))


_ENCODERS: dict[type, Callable[[Any], bytes | None]] = {}
_DECODERS: dict[str, Callable[[bytes], Record]] = {}
# What a generated decoder raises on bytes it does not read itself (pycapnp decides then).
_NOT_CANONICAL = (Mismatch, struct.error, UnicodeDecodeError, IndexError, TypeError)
# What a generated encoder raises on values it cannot write (pycapnp decides then).
_NOT_ENCODABLE = (AttributeError, KeyError, TypeError, struct.error, UnicodeEncodeError)


@cache
def _load() -> None:
    for schema_file, name, bindings in _bindings().values():
        layout = layout_of(getattr(_schema(schema_file), name).schema)
        try:
            encoders = {b.cls: compile_encoder(layout, b) for b in bindings}
            decoder = compile_decoder(layout, bindings)
        except UnsupportedLayout:
            continue  # this type keeps using the reference codec
        _ENCODERS.update(encoders)
        _DECODERS[bindings[0].cls.TYPE] = decoder  # type: ignore[attr-defined]


def encode(record: Record) -> bytes:
    _load()
    fast = _ENCODERS.get(type(record))
    if fast is not None:
        try:
            data = fast(record)
        except _NOT_ENCODABLE:
            data = None
        if data is not None:
            return data
    try:
        return reference_encode(record)
    except Exception as exc:
        raise DataError(f"cannot encode {type(record).__name__} record: {_reason(exc)}") from exc


def decode(record_type: str, data: bytes) -> Record:
    _load()
    fast = _DECODERS.get(record_type)
    if fast is not None:
        try:
            return fast(data)
        except _NOT_CANONICAL:
            pass
    if record_type not in _REFERENCE_DECODERS:
        raise ValueError(f"unknown record type {record_type!r}")
    try:
        return reference_decode(record_type, data)
    except Exception as exc:
        raise DataError(f"cannot decode {record_type} record ({len(data)} bytes): {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """One line: pycapnp's description without its source location and stack."""
    text = str(getattr(exc, "description", None) or exc or type(exc).__name__)
    return text.splitlines()[0] if text else type(exc).__name__


# --- the reference implementation: pycapnp, one attribute at a time ---

def reference_encode(record: Record) -> bytes:
    """pycapnp's encoding of ``record``; ``encode`` returns the same bytes."""
    if isinstance(record, Trade):
        return _encode_trade(record)
    if isinstance(record, Ticker):
        return _encode_ticker(record)
    if isinstance(record, OrderbookSnapshot | OrderbookDelta):
        return _encode_orderbook(record)
    return _encode_lifecycle(record)


def reference_decode(record_type: str, data: bytes) -> Record:
    """pycapnp's reading of ``data`` (any valid message, including multi-segment ones)."""
    return _REFERENCE_DECODERS[record_type](data)
def _encode_trade(r: Trade) -> bytes:
    m = _schema("trade").Trade.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.tradeId = r.trade_id
    m.price = r.price
    m.size = r.size
    m.side = r.side
    m.sid = r.sid
    m.seq = r.seq
    m.isBlockTrade = r.is_block_trade
    return bytes(m.to_bytes())


def _decode_trade(data: bytes) -> Trade:
    with _schema("trade").Trade.from_bytes(data) as m:
        return Trade(
            ts=m.ts,
            received_at=m.receivedAt,
            ticker=m.ticker,
            trade_id=m.tradeId,
            price=m.price,
            size=m.size,
            side=str(m.side),  # type: ignore[arg-type]
            sid=m.sid,
            seq=m.seq,
            is_block_trade=m.isBlockTrade,
        )


def _encode_ticker(r: Ticker) -> bytes:
    m = _schema("ticker").Ticker.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.sid = r.sid
    for attr, field, flag in _TICKER_OPTIONAL:
        value = getattr(r, attr)
        if value is not None:
            setattr(m, field, value)
            setattr(m, flag, True)
    return bytes(m.to_bytes())


def _decode_ticker(data: bytes) -> Ticker:
    with _schema("ticker").Ticker.from_bytes(data) as m:
        optional = {
            attr: (getattr(m, field) if getattr(m, flag) else None)
            for attr, field, flag in _TICKER_OPTIONAL
        }
        return Ticker(ts=m.ts, received_at=m.receivedAt, ticker=m.ticker, sid=m.sid, **optional)


def _encode_orderbook(r: OrderbookSnapshot | OrderbookDelta) -> bytes:
    m = _schema("orderbook").OrderbookUpdate.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.sid = r.sid
    m.seq = r.seq
    if isinstance(r, OrderbookSnapshot):
        snap = m.init("snapshot")
        for name, levels in (("yes", r.yes), ("no", r.no)):
            out = snap.init(name, len(levels))
            for i, (price, size) in enumerate(levels):
                out[i].price = price
                out[i].size = size
    else:
        delta = m.init("delta")
        delta.side = r.side
        delta.price = r.price
        delta.delta = r.delta
    return bytes(m.to_bytes())


def _decode_orderbook(data: bytes) -> OrderbookSnapshot | OrderbookDelta:
    with _schema("orderbook").OrderbookUpdate.from_bytes(data) as m:
        common = {
            "ts": m.ts,
            "received_at": m.receivedAt,
            "ticker": m.ticker,
            "sid": m.sid,
            "seq": m.seq,
        }
        if m.which() == "snapshot":
            return OrderbookSnapshot(
                yes=tuple((lv.price, lv.size) for lv in m.snapshot.yes),
                no=tuple((lv.price, lv.size) for lv in m.snapshot.no),
                **common,
            )
        return OrderbookDelta(
            side=str(m.delta.side),  # type: ignore[arg-type]
            price=m.delta.price,
            delta=m.delta.delta,
            **common,
        )


def _encode_lifecycle(r: Lifecycle) -> bytes:
    m = _schema("lifecycle").Lifecycle.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.kind = r.kind
    m.eventType = r.event_type
    m.sid = r.sid
    m.seq = r.seq
    for attr, field, flag in _LIFECYCLE_OPTIONAL:
        value = getattr(r, attr)
        if value is not None:
            setattr(m, field, value)
            setattr(m, flag, True)
    return bytes(m.to_bytes())


def _decode_lifecycle(data: bytes) -> Lifecycle:
    with _schema("lifecycle").Lifecycle.from_bytes(data) as m:
        optional = {
            attr: (getattr(m, field) if getattr(m, flag) else None)
            for attr, field, flag in _LIFECYCLE_OPTIONAL
        }
        return Lifecycle(
            ts=m.ts,
            received_at=m.receivedAt,
            ticker=m.ticker,
            kind=m.kind,
            event_type=m.eventType,
            sid=m.sid,
            seq=m.seq,
            **optional,
        )


_REFERENCE_DECODERS: dict[str, Callable[[bytes], Record]] = {
    "trade": _decode_trade,
    "ticker": _decode_ticker,
    "orderbook": _decode_orderbook,
    "lifecycle": _decode_lifecycle,
}
