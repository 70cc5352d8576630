"""Live market state and the client messages it produces (pure, no I/O).

``LiveState.apply(record)`` updates the latest ticker, the order book and the recent
trades of the record's market, and returns an ``Update``: the client message, encoded
once as JSON and framed once as a WebSocket text frame, that every subscriber of that
market receives. Order-book updates are
level changes in YES-price terms (``bids`` from YES bids, ``asks`` from NO bids at
1 - p) with the level's new total size; ``"0.00"`` means the level is gone. A full book
(``"snapshot": true``) is sent on subscribe, on snapshot requests and whenever the
exchange sends a new snapshot.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ssmd import client_messages as cm
from ssmd.book import OrderBook
from ssmd.clock import rfc3339
from ssmd.fixed import PRICE_SCALE, format_count, format_price
from ssmd.gateway.frames import text_frame
from ssmd.gateway.protocol import encode
from ssmd.records import OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade

RECENT_TRADES = 100
"""Trades kept per market for REST and snapshots."""


class Update:
    """One client message produced by a record: its kind, market and WebSocket frame
    (``data``: the JSON message, framed once for every subscriber)."""

    __slots__ = ("data", "kind", "snapshot", "ticker")

    def __init__(self, kind: str, ticker: str, data: bytes, snapshot: bool = False) -> None:
        self.kind = kind
        self.ticker = ticker
        self.data = data
        self.snapshot = snapshot


class Market:
    """What the gateway knows about one market."""

    __slots__ = ("book", "book_bytes", "lifecycle", "ticker", "ticker_msg", "trades")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.book: OrderBook | None = None
        self.book_bytes: bytes | None = None
        """The full book message, cached until the book changes."""
        self.ticker_msg: dict[str, Any] | None = None
        self.lifecycle: dict[str, Any] | None = None
        self.trades: deque[Trade] = deque(maxlen=RECENT_TRADES)


class LiveState:
    """Latest ticker, order book and recent trades per market."""

    def __init__(self, *, replay: bool = False) -> None:
        self.markets: dict[str, Market] = {}
        self.replay = replay
        self.records = 0

    def market(self, ticker: str) -> Market:
        m = self.markets.get(ticker)
        if m is None:
            m = self.markets[ticker] = Market(ticker)
        return m

    def _encode(self, msg: dict[str, Any]) -> bytes:
        if self.replay:
            msg["replay"] = True
        return text_frame(encode(msg))

    def apply(self, record: Record) -> Update:
        self.records += 1
        m = self.market(record.ticker)
        if isinstance(record, Trade):
            m.trades.append(record)
            return Update("trade", record.ticker, self._encode(cm.trade_message(record)))
        if isinstance(record, Ticker):
            m.ticker_msg = cm.ticker_message(record)
            return Update("ticker", record.ticker, self._encode(dict(m.ticker_msg)))
        if isinstance(record, OrderbookSnapshot | OrderbookDelta):
            if m.book is None:
                m.book = OrderBook(record.ticker)
            m.book.apply(record)
            m.book_bytes = None
            if isinstance(record, OrderbookSnapshot):
                return Update("orderbook", record.ticker, self.book_message(record.ticker), snapshot=True)
            return Update("orderbook", record.ticker, self._encode(level_update(m.book, record)))
        m.lifecycle = cm.lifecycle_message(record)
        return Update("lifecycle", record.ticker, self._encode(dict(m.lifecycle)))

    def book_message(self, ticker: str) -> bytes:
        """The full book of ``ticker`` as a ``"snapshot": true`` message frame (cached)."""
        m = self.market(ticker)
        if m.book_bytes is None:
            book = m.book or OrderBook(ticker)
            m.book_bytes = self._encode(cm.orderbook_message(book, snapshot=True))
        return m.book_bytes

    def snapshot(self, ticker: str) -> list[bytes]:
        """What a new subscriber of ``ticker`` gets first (frames): book, latest ticker,
        lifecycle."""
        m = self.markets.get(ticker)
        if m is None:
            return []
        out = []
        if m.book is not None:
            out.append(self.book_message(ticker))
        if m.ticker_msg is not None:
            out.append(self._encode(dict(m.ticker_msg)))
        if m.lifecycle is not None:
            out.append(self._encode(dict(m.lifecycle)))
        return out

    def recent_trades(self, ticker: str, limit: int) -> list[dict[str, Any]]:
        m = self.markets.get(ticker)
        if m is None:
            return []
        trades = list(m.trades)[-limit:] if limit > 0 else []
        return [cm.trade_message(t) for t in trades]

    def top(self, ticker: str) -> dict[str, Any]:
        """Best bid and ask of the book, as ``[price, size]`` decimal text, or None."""
        m = self.markets.get(ticker)
        book = m.book if m else None
        bid = book.best_bid() if book else None
        ask = book.best_ask() if book else None
        return {
            "bid": None if bid is None else [format_price(bid[0]), format_count(bid[1])],
            "ask": None if ask is None else [format_price(ask[0]), format_count(ask[1])],
            "ts": rfc3339(book.ts) if book and book.ts else None,
        }


def level_update(book: OrderBook, delta: OrderbookDelta) -> dict[str, Any]:
    """The changed level after ``delta`` was applied to ``book``, in YES-price terms."""
    if delta.side == "yes":
        size = book.yes.get(delta.price, 0)
        bids = [[format_price(delta.price), format_count(size)]]
        asks: list[list[str]] = []
    else:
        size = book.no.get(delta.price, 0)
        bids = []
        asks = [[format_price(PRICE_SCALE - delta.price), format_count(size)]]
    return {"type": "orderbook", "ticker": book.ticker, "snapshot": False, "bids": bids, "asks": asks,
            "ts": rfc3339(delta.ts)}
