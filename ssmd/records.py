"""Normalized records: what every component after the connector speaks.

These are exchange-neutral. The Kalshi adapter builds them from wire messages
(``ssmd.kalshi.normalize``); the archiver writes them to Parquet; the gateway turns them
into client messages. Prices are 1e-4 dollar units and sizes 1e-2 contract units
(see ``ssmd.fixed``); times are integer nanoseconds since the Unix epoch (UTC).

On the transport they travel Cap'n Proto encoded (``ssmd.codec``), on subject
``{env}.{feed}.{type}.{ticker}`` where ``type`` is each record's ``TYPE``.

Build records with keywords. The codec's generated decoders pass fields positionally, in
declaration order (faster), so a field added later goes last and has a default.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

Side = Literal["yes", "no"]
Source = Literal["ws", "rest"]
"""Where a record came from: the live WebSocket feed, or Kalshi REST (a healed gap, a backfill)."""
Level = tuple[int, int]
"""One order-book level: (price in 1e-4 $, size in 1e-2 contracts)."""


class Trade(msgspec.Struct, frozen=True):
    TYPE: ClassVar[str] = "trade"
    ts: int
    """Exchange time of the trade, ns."""
    received_at: int
    """Time the connector received the frame, ns."""
    ticker: str
    trade_id: str
    price: int
    """YES price, 1e-4 dollars."""
    size: int
    """Contracts, 1e-2 units."""
    side: Side
    """The taker's outcome side."""
    sid: int
    seq: int
    is_block_trade: bool = False
    source: Source = "ws"
    """``ws`` for the live feed; ``rest`` when the trade was read from REST (gap heal, backfill)."""
    trade_id_derived: bool = False
    """True when the frame carried no ``trade_id`` (legacy trades) and ``trade_id`` was derived
    from the trade's content (``ssmd.kalshi.normalize.derived_trade_id``)."""


class Ticker(msgspec.Struct, frozen=True):
    TYPE: ClassVar[str] = "ticker"
    ts: int
    received_at: int
    ticker: str
    price: int | None
    """Last trade price, or None if the market never traded."""
    yes_bid: int | None
    yes_ask: int | None
    yes_bid_size: int | None
    yes_ask_size: int | None
    last_trade_size: int | None
    volume: int | None
    open_interest: int | None
    dollar_volume: int | None
    dollar_open_interest: int | None
    sid: int
    market_id: str | None = None
    """Kalshi's market UUID, when the frame carried it."""
    clock: int | None = None
    """Kalshi's global ``Clock`` counter (older tickers only)."""


class OrderbookSnapshot(msgspec.Struct, frozen=True):
    """A whole book. Both sides are bids in their own outcome's price (Kalshi's form):
    a NO bid at p is a YES ask at 1 - p. Levels are sorted by price ascending."""

    TYPE: ClassVar[str] = "orderbook"
    ts: int
    received_at: int
    ticker: str
    yes: tuple[Level, ...]
    no: tuple[Level, ...]
    sid: int
    seq: int
    market_id: str | None = None
    """Kalshi's market UUID, when the frame carried it."""


class OrderbookDelta(msgspec.Struct, frozen=True):
    TYPE: ClassVar[str] = "orderbook"
    ts: int
    received_at: int
    ticker: str
    side: Side
    price: int
    delta: int
    """Signed change of the size at ``price``, 1e-2 contracts."""
    sid: int
    seq: int
    market_id: str | None = None
    """Kalshi's market UUID, when the frame carried it."""


class Lifecycle(msgspec.Struct, frozen=True):
    """A market or event lifecycle event (created, activated, determined, settled, ...)."""

    TYPE: ClassVar[str] = "lifecycle"
    ts: int
    received_at: int
    ticker: str
    """Market ticker, or the event ticker for event-level messages."""
    kind: str
    """Wire message type: market_lifecycle_v2, event_lifecycle or event_fee_update."""
    event_type: str
    """created, activated, deactivated, close_date_updated, determined, settled, ..."""
    sid: int
    seq: int
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value: int | None = None
    is_deactivated: bool | None = None
    metadata: str | None = None
    """Everything else the message carried, as compact JSON text."""


Record = Trade | Ticker | OrderbookSnapshot | OrderbookDelta | Lifecycle
RECORD_TYPES: tuple[str, ...] = ("trade", "ticker", "orderbook", "lifecycle")
