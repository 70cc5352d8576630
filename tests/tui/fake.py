"""A scripted StatusSource for TUI tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ssmd.status import ClientInfo, ComponentStatus, DayInfo, GapInfo, SystemStatus
from tui.source import SourceDown

T0 = 1_784_475_900_000_000_000


def make_status(tick: int = 0, *, behind: bool = False) -> SystemStatus:
    connection = ({"index": 0, "buffered": 20_000, "reading_paused": True, "read_pauses": 3} if behind
                  else {"index": 0, "buffered": 4, "reading_paused": False, "read_pauses": 0})
    return SystemStatus(
        env="kalshi-local",
        ts=T0 + tick * 1_000_000_000,
        version="0.1.0",
        components=[
            ComponentStatus(name="connector", state="running", uptime_seconds=65 + tick, restarts=1,
                            counters={"trade": 100 + 40 * tick, "ticker": 500 + 200 * tick,
                                      "records.trade": 100 + 40 * tick, "published": 1200 + 480 * tick},
                            lag_seconds=0.012, details={"connections": [connection]}),
            ComponentStatus(name="archiver", state="running", uptime_seconds=65 + tick,
                            counters={"trade": 90 + 40 * tick, "raw": 600 + 240 * tick},
                            details={"bytes_written": 2_500_000, "last_flush": "2026-07-19T09:41:02.120Z",
                                     "buffered_records": 12}),
            ComponentStatus(name="gateway", state="running", uptime_seconds=65 + tick),
            ComponentStatus(name="secmaster", state="failed", restarts=5, errors=5,
                            last_error="sync failed: 429 too many requests"),
        ],
        day=DayInfo(date="2026-07-19", state="ACTIVE", since=T0, starts_at=T0 - 6 * 3600 * 10**9,
                    ends_at=T0 + 18 * 3600 * 10**9),
        clients=[
            ClientInfo(id="c1", peer="127.0.0.1:50001", mode="realtime", symbols=3, buffered=2,
                       buffer_utilisation=0.0002, dropped=0, sent=1200, lag_seconds=0.0004, slow=False,
                       connected_at=T0),
            ClientInfo(id="c2", peer="127.0.0.1:50002", mode="conflated", symbols=120, buffered=9000,
                       buffer_utilisation=0.9, dropped=431, sent=80, lag_seconds=2.5, slow=True, connected_at=T0),
        ],
        gaps=[GapInfo(kind="outage", channel="trade", start_ns=T0, end_ns=T0 + 10**9, cause="close 1011")],
        endpoints={"gateway": "ws://127.0.0.1:8765/v1/stream"},
    )


class FakeSource:
    def __init__(self) -> None:
        self.tick = 0
        self.down = False
        self.behind = False
        self.disconnected: list[str] = []
        self.ended = 0
        self.replayed: list[tuple[str, list[str], float]] = []

    async def status(self) -> SystemStatus:
        if self.down:
            raise SourceDown("cannot reach http://127.0.0.1:8766/status: connection refused")
        return make_status(self.tick, behind=self.behind)

    async def markets(self, query: str = "") -> list[dict[str, Any]]:
        rows = [
            {"ticker": "KXBTCD-26JUL2317-T118999.99", "status": "active", "category": "Crypto",
             "title": "Bitcoin above $118,999.99?"},
            {"ticker": "INXD-25-B4000", "status": "closed", "category": "Financials", "title": "S&P 500 4000"},
        ]
        return [r for r in rows if query.lower() in str(r).lower()]

    async def market(self, ticker: str) -> dict[str, Any]:
        return {
            "title": "Bitcoin above $118,999.99?",
            "latest": {"ticker": ticker, "price": "0.6200", "yes_bid": "0.6100", "yes_ask": "0.6300",
                       "volume": "18234.00"},
            "book": {"bids": [["0.6100", "120.00"], ["0.6000", "5.50"]], "asks": [["0.6300", "40.00"]]},
            "trades": [{"ts": "2026-07-19T15:45:00.544Z", "price": "0.9990", "size": "0.11", "side": "yes"}],
        }

    async def inventory(self) -> list[dict[str, Any]]:
        return [{"date": "2026-07-19", "raw_bytes": 3_000_000, "normalized_bytes": 900_000, "status": "complete",
                 "quality": 0.998, "gaps": 1}]

    async def manifest(self, date: str) -> dict[str, Any]:
        return {"date": date, "status": "complete", "record_count": 12345, "quality_score": 0.998,
                "gaps": [{"kind": "outage", "channel": "trade", "cause": "close 1011"}]}

    async def disconnect_client(self, client_id: str) -> None:
        self.disconnected.append(client_id)

    async def end_day(self) -> str:
        self.ended += 1
        return "ENDING"

    async def replay(self, date: str, symbols: list[str], speed: float) -> AsyncIterator[dict[str, Any]]:
        self.replayed.append((date, symbols, speed))
        for i in range(3):
            yield {"type": "trade", "ticker": symbols[0], "price": f"0.{60 + i}00", "size": "1.00", "side": "yes",
                   "ts": f"2026-07-19T15:45:0{i}.000Z", "replay": True}

    async def close(self) -> None:
        pass
