"""Kalshi JSON shapes the simulator sends (current 2026 field set; legacy ticker on demand).

Payloads (``msg``) are encoded once per event; the envelope with each subscriber's
``sid``/``seq`` is wrapped around the bytes, so fan-out stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from ssmd.fixed import format_count, format_price
from ssmd.simulator.book import ONE, SimBook
from ssmd.simulator.universe import Market, price_ranges

_enc = msgspec.json.Encoder()
encode = _enc.encode
_PRICES = [format_price(i) for i in range(ONE + 1)]


def price(value: int) -> str:
    """Dollar string of a 1e-4 $ price (table lookup on the hot path)."""
    return _PRICES[value] if 0 <= value <= ONE else format_price(value)


def count(value: int) -> str:
    """Contract string of a 1e-2 count, e.g. 11 -> "0.11", -1550 -> "-15.50"."""
    if value >= 0:
        return f"{value // 100}.{value % 100:02d}"
    return format_count(value)


class TimeText:
    """RFC 3339 text of the current millisecond, computed once per distinct ms."""

    __slots__ = ("ms", "text")

    def __init__(self) -> None:
        self.ms = -1
        self.text = ""

    def of(self, ms: int) -> str:
        if ms != self.ms:
            self.ms, self.text = ms, _rfc3339_us(ms)
        return self.text


_time = TimeText()

ERRORS = {
    1: "Unable to process message", 2: "Params required", 3: "Channels required",
    4: "Subscription IDs required", 5: "Unknown command", 7: "Unknown subscription ID",
    8: "Unknown channel name", 9: "Authentication required", 10: "Channel error",
    11: "Invalid parameter", 12: "Exactly one subscription ID is required",
    13: "Unsupported action", 14: "Market Ticker required", 15: "Action required",
    18: "Command timeout", 25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded", 27: "Too many requests",
}


def envelope(type_: str, sid: int, seq: int | None, body: bytes, id_: int | None = None) -> bytes:
    head = b'{"type":"' + type_.encode() + b'","sid":' + str(sid).encode()
    if seq is not None:
        head += b',"seq":' + str(seq).encode()
    if id_ is not None:
        head += b',"id":' + str(id_).encode()
    return head + b',"msg":' + body + b"}"


def control(obj: dict[str, Any]) -> bytes:
    return encode(obj)


def error(code: int, id_: int | None = None, sid: int | None = None, seq: int | None = None,
          **extra: Any) -> bytes:
    out: dict[str, Any] = {}
    if id_ is not None:
        out["id"] = id_
    out["type"] = "error"
    if sid is not None:
        out["sid"] = sid
    if seq is not None:
        out["seq"] = seq
    out["msg"] = {"code": code, "msg": ERRORS.get(code, "Error"), **extra}
    return encode(out)


def _rfc3339_us(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ticker_msg(book: SimBook, ts_ms: int, legacy: bool = False) -> bytes:
    m = book.market
    bid, bid_size, ask, ask_size = book.top()
    if legacy:
        last = book.last_price
        return encode({
            "market_id": m.market_id, "market_ticker": m.ticker,
            "price": (last or 0) // 100, "yes_bid": bid // 100, "yes_ask": ask // 100,
            "price_dollars": "" if last is None else format_price(last),
            "yes_bid_dollars": format_price(bid), "yes_ask_dollars": format_price(ask),
            "volume": book.volume // 100, "open_interest": book.open_interest // 100,
            "dollar_volume": book.dollar_volume // 1_000_000,
            "dollar_open_interest": book.dollar_oi // 1_000_000,
            "ts": ts_ms // 1000, "Clock": ts_ms * 4 + book.volume,
        })
    return encode({
        "market_ticker": m.ticker, "market_id": m.market_id,
        "price_dollars": price(book.last_price or 0),
        "yes_bid_dollars": price(bid), "yes_ask_dollars": price(ask),
        "yes_bid_size_fp": count(bid_size), "yes_ask_size_fp": count(ask_size),
        "last_trade_size_fp": count(book.last_size), "volume_fp": count(book.volume),
        "open_interest_fp": count(book.open_interest),
        "dollar_volume": book.dollar_volume // 1_000_000, "dollar_open_interest": book.dollar_oi // 1_000_000,
        "ts": ts_ms // 1000, "ts_ms": ts_ms, "time": _time.of(ts_ms),
    })


def trade_msg(trade_id: str, ticker: str, yes_price: int, size: int, taker: str, ts_ms: int,
              block: bool = False, bad_number: bool = False) -> bytes:
    return encode({
        "trade_id": trade_id, "market_ticker": ticker,
        "yes_price_dollars": price(yes_price), "no_price_dollars": price(ONE - yes_price),
        "count_fp": "1.2.3" if bad_number else count(size),
        "taker_side": taker, "taker_outcome_side": taker,
        "taker_book_side": "bid" if taker == "yes" else "ask", "is_block_trade": block,
        "ts": ts_ms // 1000, "ts_ms": ts_ms,
    })


def delta_msg(m: Market, side: str, level: int, delta: int, ts_ms: int) -> bytes:
    return encode({
        "market_ticker": m.ticker, "market_id": m.market_id, "price_dollars": price(level),
        "delta_fp": count(delta), "side": side, "ts": _time.of(ts_ms), "ts_ms": ts_ms,
    })


def snapshot_msg(book: SimBook, yes_price: bool = False) -> bytes:
    m = book.market
    out: dict[str, Any] = {"market_ticker": m.ticker, "market_id": m.market_id}
    if book.yes:
        out["yes_dollars_fp"] = [[format_price(p), format_count(s)] for p, s in sorted(book.yes.items())]
    if book.no:
        levels = sorted(book.no.items())
        if yes_price:
            levels = sorted((ONE - p, s) for p, s in levels)
        out["no_dollars_fp"] = [[format_price(p), format_count(s)] for p, s in levels]
    return encode(out)


def created_msg(m: Market, expected_expiration_s: int) -> bytes:
    meta: dict[str, Any] = {
        "name": m.title, "title": m.title, "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.no_sub_title, "rules_primary": f"If {m.yes_sub_title}, then the market resolves to Yes.",
        "rules_secondary": "", "can_close_early": False, "event_ticker": m.event,
        "expected_expiration_ts": expected_expiration_s,
    }
    if m.strike_type is not None:
        meta["strike_type"] = m.strike_type
    if m.floor_strike is not None:
        meta["floor_strike"] = m.floor_strike
    if m.cap_strike is not None:
        meta["cap_strike"] = m.cap_strike
    return encode({
        "market_ticker": m.ticker, "event_type": "created", "exchange_index": 0,
        "open_ts": m.open_ns // 1_000_000_000, "close_ts": m.close_ns // 1_000_000_000,
        "price_level_structure": m.structure, "price_ranges": price_ranges(m.structure),
        "additional_metadata": meta,
    })


def lifecycle_msg(ticker: str, event_type: str, **fields: Any) -> bytes:
    return encode({"market_ticker": ticker, "event_type": event_type, **fields})
