"""Client-facing message shapes, shared by the gateway and ``ssmd data replay``.

One JSON object per message. Prices and sizes are exact decimal text ("0.9990", "0.11"),
never floats; ``ts`` and ``received_at`` are RFC 3339 UTC with milliseconds. A client
cannot tell replay from live except by ``"replay": true``.
"""

from __future__ import annotations

from typing import Any

from ssmd.book import OrderBook
from ssmd.clock import rfc3339
from ssmd.fixed import COUNT_SCALE, PRICE_SCALE, format_count, format_price
from ssmd.records import Lifecycle, Ticker, Trade

_PRICES: dict[int, str] = {}
"""Price text by price, filled as prices are seen: they lie in [0, 1] dollars, so at
most ``PRICE_SCALE + 1`` entries."""
_FRACTIONS = tuple(format_count(i).split(".")[1] for i in range(COUNT_SCALE))
"""The decimals of a count, by its remainder."""


def price_text(v: int) -> str:
    """``format_price(v)``, remembered for prices from 0 to 1 dollar."""
    text = _PRICES.get(v)
    if text is None:
        text = format_price(v)
        if 0 <= v <= PRICE_SCALE:
            _PRICES[v] = text
    return text


def count_text(v: int) -> str:
    """``format_count(v)``, without its general formatting for the usual counts (>= 0)."""
    if v < 0:
        return format_count(v)
    whole, frac = divmod(v, COUNT_SCALE)
    return f"{whole}.{_FRACTIONS[frac]}"


def _opt_price(v: int | None) -> str | None:
    return None if v is None else price_text(v)


def _opt_count(v: int | None) -> str | None:
    return None if v is None else count_text(v)


def trade_message(t: Trade) -> dict[str, Any]:
    return {
        "type": "trade",
        "ticker": t.ticker,
        "price": price_text(t.price),
        "size": count_text(t.size),
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
        "bids": [[price_text(p), count_text(s)] for p, s in book.bids(depth)],
        "asks": [[price_text(p), count_text(s)] for p, s in book.asks(depth)],
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
