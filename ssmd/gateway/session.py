"""One client's session: auth state, subscriptions, mode, buffer, rate and slowness (pure).

States: ``awaiting_auth`` (a browser client that still owes its ``auth`` message) →
``open`` → ``closing`` (a close reason is set; the writer sends what it can, then the
close frame) → ``closed``. Time is passed in (monotonic seconds); nothing here awaits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from ssmd.bucket import TokenBucket
from ssmd.gateway.buffer import ClientBuffer, Entry, Outcome
from ssmd.gateway.protocol import DEFAULT_INTERVAL_MS, WILDCARD, Mode
from ssmd.gateway.state import Update
from ssmd.status import ClientInfo

SessionState = Literal["awaiting_auth", "open", "closing", "closed"]
LAG_SLOW_SECONDS = 1.0
"""A client whose oldest waiting message is older than this is lagging."""
UTILISATION_SLOW = 0.8
"""A client whose buffer is this full is lagging."""
DROP_MEMORY_SECONDS = 5.0
"""A client that dropped a message this recently is dropping."""


class RateLimiter:
    """Token bucket over client actions; far over budget is abusive."""

    def __init__(self, rate: float = 20.0, burst: float = 50.0, abusive_after: int = 100) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.strikes = 0
        self.abusive_after = abusive_after

    def allow(self, now: float) -> Literal["ok", "limited", "abusive"]:
        if self.bucket.take(now):
            self.strikes = max(0, self.strikes - 1)
            return "ok"
        self.strikes += 1
        return "abusive" if self.strikes >= self.abusive_after else "limited"


class Session:
    def __init__(self, client_id: str, peer: str, *, connected_at: int, buffer: ClientBuffer,
                 authenticated: bool = True) -> None:
        self.id = client_id
        self.peer = peer
        self.connected_at = connected_at
        self.buffer = buffer
        self.state: SessionState = "open" if authenticated else "awaiting_auth"
        self.mode: Mode = "realtime"
        self.interval = DEFAULT_INTERVAL_MS / 1000
        self.symbols: set[str] = set()
        self.sent = 0
        self.last_drop_at: float | None = None
        self.close_code = 1000
        self.close_reason = ""
        self.flush_on_close = True
        self.rate = RateLimiter()
        self.notify: Callable[[], None] = lambda: None
        """Wakes the writer; set by the connection."""
        self.direct: Callable[[bytes, str], bool] | None = None
        """Writes a frame straight to an idle, drained socket (never awaits); set by the
        connection. Returns False when the frame must be queued instead."""
        self.sent_by_kind: dict[str, int] = {}
        """Messages sent by kind, not yet added to the metrics (see ``take_sent``)."""

    @property
    def wildcard(self) -> bool:
        return WILDCARD in self.symbols

    def authenticate(self) -> None:
        if self.state == "awaiting_auth":
            self.state = "open"

    def set_mode(self, mode: Mode, interval_ms: int) -> None:
        self.mode = mode
        self.interval = interval_ms / 1000

    def subscribe(self, symbols: list[str]) -> list[str]:
        """Add symbols; returns the ones that are new."""
        new = [s for s in dict.fromkeys(symbols) if s not in self.symbols]
        self.symbols.update(new)
        return new

    def unsubscribe(self, symbols: list[str]) -> list[str]:
        gone = [s for s in dict.fromkeys(symbols) if s in self.symbols]
        self.symbols.difference_update(gone)
        return gone

    def wants(self, ticker: str) -> bool:
        return ticker in self.symbols or WILDCARD in self.symbols

    def close(self, code: int, reason: str, *, flush: bool = True) -> None:
        """Ask for the connection to close (the first reason wins); with ``flush`` the
        writer first sends what is queued."""
        if self.state in ("closing", "closed"):
            return
        self.state = "closing"
        self.close_code = code
        self.close_reason = reason
        self.flush_on_close = flush
        self.notify()

    def send_control(self, frame: bytes, now: float, kind: str = "reply", ticker: str = "") -> Outcome:
        """Queue a reply or snapshot frame; never dropped."""
        outcome = self.buffer.push(Entry(frame, kind, ticker, now, forced=True))
        if outcome == "disconnect":
            self.close(1008, "too many unread replies: client is not reading", flush=False)
        self.notify()
        return outcome

    def offer(self, update: Update, now: float, full_book: Callable[[str], bytes]) -> Outcome:
        """Queue a live message per the client's mode and the buffer's policy."""
        buf = self.buffer
        if self.mode == "realtime" and not buf.dropped_tickers:  # the common case, inlined
            data = update.data
            queue = buf.queue
            if not queue and self.direct is not None and self.direct(data, update.kind):
                return "queued"
            if len(queue) < buf.max_messages and buf.bytes + len(data) <= buf.max_bytes:
                queue.append(Entry(data, update.kind, update.ticker, now))
                buf.bytes += len(data)
                self.notify()
                return "queued"
        if self.mode != "realtime":
            if update.kind == "lifecycle":
                outcome = buf.push(Entry(update.data, update.kind, update.ticker, now, forced=True))
            else:
                buf.put_latest(update.kind, update.ticker, update.data, now)
                outcome = "queued"
        else:
            data = update.data
            if update.kind == "orderbook" and not update.snapshot and buf.take_dropped(update.ticker):
                data = full_book(update.ticker)
            outcome = buf.push(Entry(data, update.kind, update.ticker, now))
        if outcome == "disconnect":
            self.close(1008, "client too slow: buffer full", flush=False)
        elif outcome != "queued":
            self.last_drop_at = now
        self.notify()
        return outcome

    def count_sent(self, kind: str, n: int = 1) -> None:
        self.sent += n
        self.sent_by_kind[kind] = self.sent_by_kind.get(kind, 0) + n

    def take_sent(self) -> dict[str, int]:
        """Sent counts by kind since the last call (for the metrics)."""
        out, self.sent_by_kind = self.sent_by_kind, {}
        return out

    def lag(self, now: float) -> float:
        oldest = self.buffer.oldest()
        return 0.0 if oldest is None else max(0.0, now - oldest)

    def lagging(self, now: float) -> bool:
        allowance = LAG_SLOW_SECONDS + (self.interval if self.mode == "conflated" else 0.0)
        return self.lag(now) > allowance or self.buffer.utilisation >= UTILISATION_SLOW

    def dropping(self, now: float) -> bool:
        return self.last_drop_at is not None and now - self.last_drop_at <= DROP_MEMORY_SECONDS

    def slow(self, now: float) -> bool:
        return self.lagging(now) or self.dropping(now)

    def info(self, now: float) -> ClientInfo:
        return ClientInfo(
            id=self.id, peer=self.peer, mode=self.mode, symbols=len(self.symbols),
            buffered=len(self.buffer), buffer_utilisation=round(self.buffer.utilisation, 4),
            dropped=self.buffer.dropped, sent=self.sent, lag_seconds=round(self.lag(now), 6),
            slow=self.slow(now), connected_at=self.connected_at,
        )
