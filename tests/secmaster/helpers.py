"""Builders shared by the secmaster tests."""

from __future__ import annotations

from typing import Any

import msgspec

from ssmd.records import Lifecycle
from ssmd.secmaster.model import SecMarket


def market(ticker: str = "KXBTCD-26JUL2317-T118999.99", **fields: Any) -> SecMarket:
    base: dict[str, Any] = {
        "event_ticker": ticker.rsplit("-", 1)[0],
        "series_ticker": ticker.split("-", 1)[0],
        "category": "Crypto",
        "title": "Bitcoin above $118,999.99?",
        "status": "active",
        "open_time": "2026-07-23T16:00:00Z",
        "close_time": "2026-07-23T21:00:00Z",
        "expected_expiration_time": "2026-07-23T21:05:00Z",
    }
    base.update(fields)
    return SecMarket(ticker=ticker, **base)


def lifecycle(ticker: str, event_type: str, ts: int = 1_784_840_400_000_000_000, **fields: Any) -> Lifecycle:
    metadata = fields.pop("metadata", None)
    return Lifecycle(
        ts=ts, received_at=ts, ticker=ticker, kind="market_lifecycle_v2", event_type=event_type,
        sid=1, seq=1, metadata=None if metadata is None else msgspec.json.encode(metadata).decode(), **fields,
    )
