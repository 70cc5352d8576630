"""What each decoded Kalshi WebSocket message is, for the exchange-neutral connector.

The connector decodes a frame with ``decode`` (``undecodable`` when that raises
``DecodeError``) and branches on the message's class with the tables below, looked up
once per frame; it never names a Kalshi wire type itself. The tables are plain sets and
dicts of classes so that the hot path pays one hash lookup per question.

* ``SEQUENCED``: market data carrying a per-sid ``seq`` the connector checks for gaps;
  ``BOOK_SNAPSHOT``/``BOOK_DELTA`` among them rebuild an order book (a delta waiting for a
  snapshot is not normalized); ``book_ticker`` names the book.
* ``UNSEQUENCED``: market data without a ``seq`` (``ticker``).
* ``UNDECODABLE``: a frame the decoder refused (``type``/``sid``/``seq`` as far as read).
* ``SUBSCRIBED``, ``OK``, ``UNSUBSCRIBED``, ``ERROR``: answers to the connector's commands.
* ``TIMED``: data whose first record's time is the exchange's (for the lag gauge).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ssmd.kalshi import wire

Decoded = wire.Decoded
DecodeError = msgspec.DecodeError
decode = wire.decode_strict
"""One frame -> a typed message; raises ``DecodeError``."""
undecodable = wire.undecodable
"""The ``UNDECODABLE`` message of a frame ``decode`` refused, with the reason."""

TYPE_NAME: dict[type, str] = {t: t.__struct_config__.tag for t in (*wire.DATA_TYPES, *wire.CONTROL_TYPES)}  # type: ignore[misc]
"""Message class -> its wire type name (the ``type`` header of the raw frame)."""
CHANNEL_OF_TYPE = wire.CHANNEL_OF_TYPE
"""Wire type name -> the channel it arrives on (when the sid does not say)."""

BOOK_SNAPSHOT: type = wire.OrderbookSnapshot
BOOK_DELTA: type = wire.OrderbookDelta
SEQUENCED: frozenset[type] = frozenset({wire.Trade, wire.OrderbookSnapshot, wire.OrderbookDelta,
                                        wire.MarketLifecycle, wire.EventLifecycle, wire.EventFeeUpdate})
BOOK: frozenset[type] = frozenset({wire.OrderbookSnapshot, wire.OrderbookDelta})
UNSEQUENCED: type = wire.Ticker
UNSEQUENCED_TYPE: str = TYPE_NAME[wire.Ticker]
UNSEQUENCED_CHANNEL = "ticker"
UNDECODABLE: type = wire.Undecodable
SUBSCRIBED: type = wire.Subscribed
OK: type = wire.Ok
UNSUBSCRIBED: type = wire.Unsubscribed
ERROR: type = wire.Error
TIMED: frozenset[type] = frozenset({wire.Ticker, wire.Trade, wire.OrderbookDelta})


def book_ticker(msg: Any) -> str:
    """The market of a ``BOOK`` message."""
    ticker: str = msg.msg.market_ticker
    return ticker
