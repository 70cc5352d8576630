"""Live market state and the client messages it produces (pure, no I/O).

``LiveState.apply(record)`` updates the latest ticker, the order book and the recent
trades of the record's market, and returns an ``Update``: the client message that every
subscriber of that market receives. Its ``data`` (the JSON message, framed once as a
WebSocket text frame) is rendered on first use and then shared, so a record nobody
subscribed to costs only the state update. Read ``data`` before the next ``apply`` (the
router does, synchronously): a book snapshot renders the book as it is then. Order-book
updates are
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
    (``data``: the JSON message, framed once for every subscriber, rendered on first use).

    Built from ready bytes (``Update(kind, ticker, data)``) or, by ``LiveState.apply``,
    from the record it renders when ``data`` is first read."""

    __slots__ = ("_data", "_state", "kind", "record", "size", "snapshot", "ticker")

    def __init__(self, kind: str, ticker: str, data: bytes | None = None, snapshot: bool = False) -> None:
        self.kind = kind
        self.ticker = ticker
        self._data = data
        self.snapshot = snapshot
        self.record: Record | None = None
        self.size = 0
        """An order-book level's total size right after the delta was applied."""
        self._state: LiveState | None = None

    @property
    def data(self) -> bytes:
        data = self._data
        if data is None:
            assert self._state is not None
            data = self._data = self._state.render(self)
        return data


def _lazy(state: LiveState, kind: str, record: Record, snapshot: bool = False, size: int = 0) -> Update:
    update = Update(kind, record.ticker, None, snapshot)
    update.record = record
    update.size = size
    update._state = state
    return update


class Market:
    """What the gateway knows about one market."""

    __slots__ = ("_ticker_msg", "book", "book_bytes", "last_ticker", "lifecycle", "ticker", "trades")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.book: OrderBook | None = None
        self.book_bytes: bytes | None = None
        """The full book message, cached until the book changes."""
        self.last_ticker: Ticker | None = None
        self._ticker_msg: dict[str, Any] | None = None
        self.lifecycle: dict[str, Any] | None = None
        self.trades: deque[Trade] = deque(maxlen=RECENT_TRADES)

    @property
    def ticker_msg(self) -> dict[str, Any] | None:
        """The latest ticker message (rendered when first asked for, then cached)."""
        if self._ticker_msg is None and self.last_ticker is not None:
            self._ticker_msg = cm.ticker_message(self.last_ticker)
        return self._ticker_msg


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
            return _lazy(self, "trade", record)
        if isinstance(record, Ticker):
            m.last_ticker, m._ticker_msg = record, None
            return _lazy(self, "ticker", record)
        if isinstance(record, OrderbookSnapshot | OrderbookDelta):
            if m.book is None:
                m.book = OrderBook(record.ticker)
            m.book.apply(record)
            m.book_bytes = None
            if isinstance(record, OrderbookSnapshot):
                return _lazy(self, "orderbook", record, snapshot=True)
            size = (m.book.yes if record.side == "yes" else m.book.no).get(record.price, 0)
            return _lazy(self, "orderbook", record, size=size)
        m.lifecycle = cm.lifecycle_message(record)
        return Update("lifecycle", record.ticker, self._encode(dict(m.lifecycle)))

    def keep(self, record: Record) -> None:
        """``apply`` without the ``Update``, for when no client is subscribed to anything."""
        cls = type(record)
        if cls is Trade:
            self.records += 1
            self.market(record.ticker).trades.append(record)  # type: ignore[arg-type]
        elif cls is Ticker:
            self.records += 1
            m = self.market(record.ticker)
            m.last_ticker, m._ticker_msg = record, None  # type: ignore[assignment]
        else:
            self.apply(record)

    def render(self, update: Update) -> bytes:
        """The frame of an ``Update`` from ``apply`` (called once, on first use)."""
        record = update.record
        if type(record) is Trade:
            return self._encode(cm.trade_message(record))
        if type(record) is Ticker:
            return self._encode(cm.ticker_message(record))
        if type(record) is OrderbookDelta:
            return self._encode(_level_message(update.ticker, record, update.size))
        return self.book_message(update.ticker)

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
    return _level_message(book.ticker, delta, (book.yes if delta.side == "yes" else book.no).get(delta.price, 0))


def _level_message(ticker: str, delta: OrderbookDelta, size: int) -> dict[str, Any]:
    """The level of ``delta`` with its total ``size`` after the change, in YES-price terms."""
    if delta.side == "yes":
        bids = [[cm.price_text(delta.price), cm.count_text(size)]]
        asks: list[list[str]] = []
    else:
        bids = []
        asks = [[cm.price_text(PRICE_SCALE - delta.price), cm.count_text(size)]]
    return {"type": "orderbook", "ticker": ticker, "snapshot": False, "bids": bids, "asks": asks,
            "ts": rfc3339(delta.ts)}
