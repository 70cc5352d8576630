"""The reference Cap'n Proto codec of records: pycapnp, one field at a time.

``ssmd.codec`` produces the same bytes faster; this module is what it is checked against,
and what it falls back to for messages it does not handle itself (see ``ssmd.codec``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade
from ssmd.resources import schemas_dir

TICKER_OPTIONAL = (
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
    ("market_id", "marketId", "hasMarketId"),
    ("clock", "clock", "hasClock"),
)
BOOK_OPTIONAL = (("market_id", "marketId", "hasMarketId"),)
LIFECYCLE_OPTIONAL = (
    ("open_ts", "openTs", "hasOpenTs"),
    ("close_ts", "closeTs", "hasCloseTs"),
    ("determination_ts", "determinationTs", "hasDeterminationTs"),
    ("settled_ts", "settledTs", "hasSettledTs"),
    ("result", "result", "hasResult"),
    ("settlement_value", "settlementValue", "hasSettlementValue"),
    ("is_deactivated", "isDeactivated", "hasIsDeactivated"),
    ("metadata", "metadata", "hasMetadata"),
)
@cache
def schema(name: str) -> Any:
    import capnp

    capnp.remove_import_hook()
    return capnp.load(str(schemas_dir() / f"{name}.capnp"))


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
    return REFERENCE_DECODERS[record_type](data)
def _encode_trade(r: Trade) -> bytes:
    m = schema("trade").Trade.new_message()
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
    m.source = r.source
    m.tradeIdDerived = r.trade_id_derived
    return bytes(m.to_bytes())


def _set_optional(m: Any, r: Any, table: tuple[tuple[str, str, str], ...]) -> None:
    """Set each optional field ``r`` has, and its presence flag."""
    for attr, field, flag in table:
        value = getattr(r, attr)
        if value is not None:
            setattr(m, field, value)
            setattr(m, flag, True)


def _optional_of(m: Any, table: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    """Each optional field of ``m``, None where its presence flag is unset."""
    return {attr: (getattr(m, field) if getattr(m, flag) else None) for attr, field, flag in table}


def _decode_trade(data: bytes) -> Trade:
    with schema("trade").Trade.from_bytes(data) as m:
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
            source=str(m.source),  # type: ignore[arg-type]
            trade_id_derived=m.tradeIdDerived,
        )


def _encode_ticker(r: Ticker) -> bytes:
    m = schema("ticker").Ticker.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.sid = r.sid
    _set_optional(m, r, TICKER_OPTIONAL)
    return bytes(m.to_bytes())


def _decode_ticker(data: bytes) -> Ticker:
    with schema("ticker").Ticker.from_bytes(data) as m:
        optional = _optional_of(m, TICKER_OPTIONAL)
        return Ticker(ts=m.ts, received_at=m.receivedAt, ticker=m.ticker, sid=m.sid, **optional)


def _encode_orderbook(r: OrderbookSnapshot | OrderbookDelta) -> bytes:
    m = schema("orderbook").OrderbookUpdate.new_message()
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
    if r.market_id is not None:  # set last: its text follows the lists in the message
        m.marketId = r.market_id
        m.hasMarketId = True
    return bytes(m.to_bytes())


def _decode_orderbook(data: bytes) -> OrderbookSnapshot | OrderbookDelta:
    with schema("orderbook").OrderbookUpdate.from_bytes(data) as m:
        common = {
            "ts": m.ts,
            "received_at": m.receivedAt,
            "ticker": m.ticker,
            "sid": m.sid,
            "seq": m.seq,
            "market_id": m.marketId if m.hasMarketId else None,
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
    m = schema("lifecycle").Lifecycle.new_message()
    m.ts = r.ts
    m.receivedAt = r.received_at
    m.ticker = r.ticker
    m.kind = r.kind
    m.eventType = r.event_type
    m.sid = r.sid
    m.seq = r.seq
    _set_optional(m, r, LIFECYCLE_OPTIONAL)
    return bytes(m.to_bytes())


def _decode_lifecycle(data: bytes) -> Lifecycle:
    with schema("lifecycle").Lifecycle.from_bytes(data) as m:
        optional = _optional_of(m, LIFECYCLE_OPTIONAL)
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


REFERENCE_DECODERS: dict[str, Callable[[bytes], Record]] = {
    "trade": _decode_trade,
    "ticker": _decode_ticker,
    "orderbook": _decode_orderbook,
    "lifecycle": _decode_lifecycle,
}
