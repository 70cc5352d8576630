"""What the gateway does for ``subscribe``, ``unsubscribe`` and ``snapshot``.

A symbol is known when the gateway has seen its data or the secmaster cache
(``{env}:secmaster:markets``) lists it; unknown symbols get one ``error`` naming them,
the known ones are served. New subscribers get each market's full book, latest ticker
and last lifecycle event before its live messages (all queued in order).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ssmd.clock import Clock
from ssmd.gateway import protocol as proto
from ssmd.gateway.router import Router
from ssmd.gateway.session import Session
from ssmd.gateway.state import LiveState

if TYPE_CHECKING:
    from ssmd.middleware.cache.base import Cache


LOOKUP_BATCH = 1000
"""Symbols asked of the secmaster cache in one round trip, between two turns of the event loop."""
NAMED_UNKNOWN = 20
"""Unknown symbols named in the error; the rest are counted."""


def _unknown(unknown: list[str]) -> str:
    named = ", ".join(unknown[:NAMED_UNKNOWN])
    more = len(unknown) - NAMED_UNKNOWN
    return f"unknown symbol(s): {named}" + (f" and {more} more" if more > 0 else "")


class Actions:
    def __init__(self, state: LiveState, router: Router, cache: Cache, markets_key: str, clock: Clock) -> None:
        self.state = state
        self.router = router
        self.cache = cache
        self.markets_key = markets_key
        self.clock = clock
        self._known: set[str] = set()

    async def _split_known(self, symbols: list[str]) -> tuple[list[str], list[str]]:
        """The known and the unknown among ``symbols`` (deduplicated, in order): those the
        gateway has seen first, then the rest asked of the secmaster in batches."""
        seen = self.state.markets
        ok: list[str] = []
        ask: list[str] = []
        for s in dict.fromkeys(symbols):
            (ok if s == proto.WILDCARD or s in seen or s in self._known else ask).append(s)
        found: set[str] = set()
        for i in range(0, len(ask), LOOKUP_BATCH):
            batch = ask[i:i + LOOKUP_BATCH]
            try:
                values = await self.cache.hmget(self.markets_key, batch)
            except Exception:
                values = [None] * len(batch)  # the cache is down: only what the gateway saw is known
            found.update(s for s, v in zip(batch, values, strict=True) if v is not None)
            await asyncio.sleep(0)  # thousands of lookups for one client must not stall everyone's fan-out
        self._known |= found
        ok.extend(s for s in ask if s in found)
        return ok, [s for s in ask if s not in found]

    async def subscribe(self, session: Session, symbols: list[str], request: proto.Request | None) -> None:
        ok, unknown = await self._split_known(symbols)
        action = request.action if request else None
        if isinstance(action, proto.Subscribe):
            session.set_mode(action.mode, action.interval_ms)
        new = self.router.subscribe(session, ok)
        now = self.clock.monotonic()
        if ok:
            session.send_control(proto.reply("subscribed", request, symbols=ok, mode=session.mode,
                                             interval_ms=round(session.interval * 1000)), now)
        if unknown:
            raw = request.raw if request else {"symbols": symbols}
            session.send_control(proto.error(_unknown(unknown), raw), now)
        self._send_snapshots(session, new, now)

    def _send_snapshots(self, session: Session, symbols: list[str], now: float) -> None:
        tickers = sorted(self.state.markets) if proto.WILDCARD in symbols else symbols
        for ticker in tickers:
            for data in self.state.snapshot(ticker):
                session.send_control(data, now, kind="snapshot", ticker=ticker)

    def unsubscribe(self, session: Session, symbols: list[str], request: proto.Request) -> None:
        gone = self.router.unsubscribe(session, symbols)
        missing = [s for s in dict.fromkeys(symbols) if s not in gone]
        extra = {"not_subscribed": missing} if missing else {}
        session.send_control(proto.reply("unsubscribed", request, symbols=gone, **extra), self.clock.monotonic())

    async def snapshot(self, session: Session, symbols: list[str], request: proto.Request) -> None:
        ok, unknown = await self._split_known(symbols)
        now = self.clock.monotonic()
        if unknown:
            session.send_control(proto.error(_unknown(unknown), request.raw), now)
        if ok:
            self._send_snapshots(session, ok, now)
            session.send_control(proto.reply("snapshot_complete", request, symbols=ok), now)
