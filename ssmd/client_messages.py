"""Client-facing message shapes, shared by the gateway and ``ssmd data replay``.

One JSON object per message. Prices and sizes are exact decimal text ("0.9990", "0.11"),
never floats; ``ts`` and ``received_at`` are RFC 3339 UTC with milliseconds. A client
cannot tell replay from live except by ``"replay": true``.
"""

from __future__ import annotations

from typing import Any

from ssmd.book import OrderBook
from ssmd.clock import rfc3339
from ssmd.fixed import format_count, format_price
from ssmd.records import Lifecycle, Ticker, Trade


def _opt_price(v: int | None) -> str | None:
    return None if v is None else format_price(v)


def _opt_count(v: int | None) -> str | None:
    return None if v is None else format_count(v)


def trade_message(t: Trade) -> dict[str, Any]:
    return {
        "type": "trade",
        "ticker": t.ticker,
        "price": format_price(t.price),
        "size": format_count(t.size),
        "side": t.side,
        "ts": rfc3339(t.ts),
        "trade_id": t.trade_id,
        "received_at": rfc3339(t.received_at),
    }


def ticker_message(t: Ticker) -> dict[str, Any]:
    return {
        "type": "ticker",
        "ticker": t.ticker,
        "price": _opt_price(t.price),
        "yes_bid": _opt_price(t.yes_bid),
        "yes_ask": _opt_price(t.yes_ask),
        "yes_bid_size": _opt_count(t.yes_bid_size),
        "yes_ask_size": _opt_count(t.yes_ask_size),
        "last_trade_size": _opt_count(t.last_trade_size),
        "volume": _opt_count(t.volume),
        "open_interest": _opt_count(t.open_interest),
        "dollar_volume": t.dollar_volume,
        "dollar_open_interest": t.dollar_open_interest,
        "ts": rfc3339(t.ts),
        "received_at": rfc3339(t.received_at),
    }


def orderbook_message(book: OrderBook, *, snapshot: bool, depth: int | None = None) -> dict[str, Any]:
    return {
        "type": "orderbook",
        "ticker": book.ticker,
        "snapshot": snapshot,
        "bids": [[format_price(p), format_count(s)] for p, s in book.bids(depth)],
        "asks": [[format_price(p), format_count(s)] for p, s in book.asks(depth)],
        "ts": rfc3339(book.ts),
    }


def lifecycle_message(r: Lifecycle) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "lifecycle",
        "ticker": r.ticker,
        "kind": r.kind,
        "event_type": r.event_type,
        "ts": rfc3339(r.ts),
    }
    for name in ("open_ts", "close_ts", "determination_ts", "settled_ts", "result", "is_deactivated"):
        value = getattr(r, name)
        if value is not None:
            out[name] = value
    if r.settlement_value is not None:
        out["settlement_value"] = format_price(r.settlement_value)
    return out
