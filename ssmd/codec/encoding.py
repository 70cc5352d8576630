"""Cap'n Proto encoding of normalized records (``ssmd.records``) for the transport.

``encode(record) -> bytes`` and ``decode(type, bytes) -> record`` are exact inverses.
Schemas come from ``exchanges/schemas/*.capnp`` and are loaded once, lazily.

The hot path does not go through pycapnp's per-field setters: each record type is bound to
its struct layout read from the compiled schema (``ssmd.codec.layout``), from which one
encoder and one decoder per type are generated (``ssmd.codec.codegen``). They produce exactly
the bytes pycapnp produces (tests compare them on many random records). pycapnp stays the
reference implementation (``ssmd.codec.reference``) and is used for what the fast path does
not cover: messages too big for one segment (very large snapshots), and bytes not in the
canonical single-segment shape (other writers, other schema versions). Malformed bytes raise
``DataError`` with the reason.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any

from ssmd.codec.codegen import Malformed, Mismatch, compile_decoder, compile_encoder
from ssmd.codec.layout import Binding, UnsupportedLayout, layout_of
from ssmd.codec.reference import (
    BOOK_OPTIONAL,
    LIFECYCLE_OPTIONAL,
    REFERENCE_DECODERS,
    TICKER_OPTIONAL,
    reference_decode,
    reference_encode,
    schema,
)
from ssmd.errors import DataError
from ssmd.rawline import RawLine
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade

_COMMON = {"ts": "ts", "receivedAt": "received_at", "ticker": "ticker"}
_SEQUENCED = {"sid": "sid", "seq": "seq"}


def _optional(fields: tuple[tuple[str, str, str], ...]) -> tuple[dict[str, str], dict[str, str]]:
    return {field: attr for attr, field, _ in fields}, {flag: field for _, field, flag in fields}


def _bindings() -> dict[str, tuple[str, str, list[Binding]]]:
    """Record type -> (schema file, struct, bindings). Pointer fields are listed in the order
    the reference encoder sets them, which is the order they are laid out in the message."""
    ticker_fields, ticker_flags = _optional(TICKER_OPTIONAL)
    lifecycle_fields, lifecycle_flags = _optional(LIFECYCLE_OPTIONAL)
    book_fields, book_flags = _optional(BOOK_OPTIONAL)
    return {
        "trade": ("trade", "Trade", [Binding(Trade, {
            **_COMMON, "tradeId": "trade_id", "price": "price", "size": "size", "side": "side",
            **_SEQUENCED, "isBlockTrade": "is_block_trade", "source": "source",
            "tradeIdDerived": "trade_id_derived"})]),
        "ticker": ("ticker", "Ticker", [Binding(Ticker, {**_COMMON, "sid": "sid", **ticker_fields},
                                                ticker_flags)]),
        "orderbook": ("orderbook", "OrderbookUpdate", [
            Binding(OrderbookSnapshot, {**_COMMON, **_SEQUENCED, "snapshot.yes": "yes", "snapshot.no": "no",
                                        **book_fields}, book_flags, variant="snapshot"),
            Binding(OrderbookDelta, {**_COMMON, **_SEQUENCED, "delta.side": "side", "delta.price": "price",
                                     "delta.delta": "delta", **book_fields}, book_flags, variant="delta"),
        ]),
        "lifecycle": ("lifecycle", "Lifecycle", [Binding(Lifecycle, {
            **_COMMON, "kind": "kind", "eventType": "event_type", **_SEQUENCED, **lifecycle_fields},
            lifecycle_flags)]),
    }


_ENCODERS: dict[type, Callable[[Any], bytes | None]] = {}
_DECODERS: dict[str, Callable[[bytes], Record]] = {}
# What a generated decoder raises on bytes it does not read itself (pycapnp decides then).
_NOT_CANONICAL = (Mismatch, struct.error, IndexError, TypeError, AttributeError)
# What a generated encoder raises on values it cannot write (pycapnp decides then).
_NOT_ENCODABLE = (AttributeError, KeyError, TypeError, struct.error, UnicodeEncodeError)


@cache
def _load() -> None:
    for schema_file, name, bindings in _bindings().values():
        try:
            layout = layout_of(getattr(schema(schema_file), name).schema)
            encoders = {b.cls: compile_encoder(layout, b) for b in bindings}
            decoder = compile_decoder(layout, bindings)
        except UnsupportedLayout:
            continue  # this type keeps using the reference codec
        _ENCODERS.update(encoders)
        _DECODERS[bindings[0].cls.TYPE] = decoder  # type: ignore[attr-defined]


def preload() -> None:
    """Generate the fast codecs now (schemas read, code compiled: tens of milliseconds), so
    that the first records do not wait for it; ``encode``/``decode`` otherwise do it on first use."""
    _load()


def encode(record: Record) -> bytes:
    fast = _ENCODERS.get(type(record))
    if fast is None:  # not loaded yet, or a type the reference codec handles
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


RECORD_CLASSES = frozenset({Trade, Ticker, OrderbookSnapshot, OrderbookDelta, Lifecycle})
"""The record types themselves: what a message carries when it never left the process."""


def decode(record_type: str, data: bytes | Record | RawLine) -> Record:
    """The record of a message: ``data`` decoded, or, when the message never left the
    process (the memory bus carries the record itself), ``data`` unchanged."""
    if type(data) in RECORD_CLASSES:
        return data  # type: ignore[return-value]
    if type(data) is RawLine:
        raise DataError(f"{record_type}: a raw frame, not a record")
    return _decode_bytes(record_type, data)  # type: ignore[arg-type]


def _decode_bytes(record_type: str, data: bytes) -> Record:
    fast = _DECODERS.get(record_type)
    if fast is None:
        _load()
        fast = _DECODERS.get(record_type)
    if fast is not None:
        try:
            return fast(data)
        except Malformed as exc:
            raise DataError(f"cannot decode {record_type} record ({len(data)} bytes): {exc}") from None
        except _NOT_CANONICAL:
            pass
    if record_type not in REFERENCE_DECODERS:
        raise ValueError(f"unknown record type {record_type!r}")
    try:
        return reference_decode(record_type, data)
    except Exception as exc:
        raise DataError(f"cannot decode {record_type} record ({len(data)} bytes): {_reason(exc)}") from exc


def wire(data: bytes | Record | RawLine, headers: dict[str, str] | None) -> tuple[bytes, dict[str, str] | None]:
    """A message as it leaves the process: its bytes (a record encoded, a raw line's frame,
    bytes as they are) and its headers, which for a raw line are its facts
    (``RawLine.headers``) joined by any given."""
    if type(data) is bytes:
        return data, headers
    if type(data) is RawLine:
        return data.frame.encode(), {**data.headers(), **headers} if headers else data.headers()
    return encode(data), headers  # type: ignore[arg-type]


def fast_decoder(record_type: str) -> Callable[[bytes], Record] | None:
    """The generated decoder of ``record_type`` alone, for a hot loop (None when the reference
    codec reads that type). It raises on any bytes it does not read itself: ``decode`` then
    reads them with pycapnp or says why they are malformed."""
    _load()
    return _DECODERS.get(record_type)


def _reason(exc: Exception) -> str:
    """One line: pycapnp's description without its source location and stack."""
    text = str(getattr(exc, "description", None) or exc or type(exc).__name__)
    return text.splitlines()[0] if text else type(exc).__name__
