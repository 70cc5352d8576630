"""A client's bounded outgoing buffer and its drop policy (pure, no I/O, no clock).

Two parts:

* a queue of messages in order, bounded in messages AND bytes. When a message does not
  fit, the policy decides: ``drop_oldest`` evicts the oldest data messages until it
  fits, ``drop_newest`` drops the new one, ``disconnect`` asks for the client to be
  closed. Replies and snapshots are queued ``forced``: never dropped, they may overshoot
  the bound (a client that piles up forced messages past ``hard_factor`` times the bound
  is cut off as abusive).
* per-market latest-state slots for ``conflated`` and ``latest`` clients: a newer value
  replaces the older one in place, so the buffer never grows beyond one value per market
  and kind and the latest state of a market is never dropped.

Every queued message carries the monotonic time it was queued (passed in), so the lag
of the oldest message is known.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Literal

Policy = Literal["drop_oldest", "drop_newest", "disconnect"]
Outcome = Literal["queued", "dropped_oldest", "dropped_newest", "disconnect"]


class Entry:
    __slots__ = ("data", "forced", "kind", "queued_at", "ticker")

    def __init__(self, data: bytes, kind: str, ticker: str, queued_at: float, forced: bool = False) -> None:
        self.data = data
        self.kind = kind
        self.ticker = ticker
        self.queued_at = queued_at
        self.forced = forced


Resolver = Callable[[str, str], bytes | None]
"""(kind, ticker) -> current message bytes, for slots that render at send time."""


class ClientBuffer:
    def __init__(self, max_messages: int, max_bytes: int, policy: Policy, *, hard_factor: int = 4) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("buffer bounds must be positive")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.policy: Policy = policy
        self.hard_factor = hard_factor
        self.queue: deque[Entry] = deque()
        self.bytes = 0
        self.slots: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self.dropped = 0
        self.dropped_tickers: set[str] = set()
        """Markets whose order-book messages were dropped since the last ``take_dropped``."""

    def __len__(self) -> int:
        return len(self.queue) + len(self.slots)

    @property
    def utilisation(self) -> float:
        """Fill ratio of the tighter bound (0..1, above 1 only through forced messages)."""
        return max(len(self.queue) / self.max_messages, self.bytes / self.max_bytes)

    def oldest(self) -> float | None:
        """Queue time of the oldest waiting message."""
        times = []
        if self.queue:
            times.append(self.queue[0].queued_at)
        if self.slots:
            times.append(min(e.queued_at for e in self.slots.values()))
        return min(times) if times else None

    def _fits(self, size: int, held: int = 0) -> bool:
        return len(self.queue) + held < self.max_messages and self.bytes + size <= self.max_bytes

    def push(self, entry: Entry) -> Outcome:
        size = len(entry.data)
        if entry.forced:
            self._append(entry)
            if len(self.queue) > self.hard_factor * self.max_messages or \
                    self.bytes > self.hard_factor * self.max_bytes:
                return "disconnect"
            return "queued"
        if self._fits(size):
            self._append(entry)
            return "queued"
        if self.policy == "disconnect":
            return "disconnect"
        if self.policy == "drop_newest" or size > self.max_bytes:
            self._note_drop(entry)
            return "dropped_newest"
        kept: deque[Entry] = deque()
        while self.queue and not self._fits(size, len(kept)):
            old = self.queue.popleft()
            if old.forced:
                kept.append(old)
                continue
            self.bytes -= len(old.data)
            self._note_drop(old)
        self.queue.extendleft(reversed(kept))
        if not self._fits(size):  # only forced messages left: the new one gives way
            self._note_drop(entry)
            return "dropped_newest"
        self._append(entry)
        return "dropped_oldest"

    def _append(self, entry: Entry) -> None:
        self.queue.append(entry)
        self.bytes += len(entry.data)

    def _note_drop(self, entry: Entry) -> None:
        self.dropped += 1
        if entry.kind == "orderbook":
            self.dropped_tickers.add(entry.ticker)

    def take_dropped(self, ticker: str) -> bool:
        """Whether ``ticker`` lost an order-book message (and forget it): the caller then
        sends the full book instead of the next level update."""
        if ticker in self.dropped_tickers:
            self.dropped_tickers.discard(ticker)
            return True
        return False

    def put_latest(self, kind: str, ticker: str, data: bytes, queued_at: float) -> None:
        """Keep only the newest value per (kind, market); the first queue time stays."""
        key = (kind, ticker)
        entry = self.slots.get(key)
        if entry is None:
            self.slots[key] = Entry(data, kind, ticker, queued_at)
        else:
            entry.data = data

    def pop_batch(self, limit: int, *, slots: bool = True, resolve: Resolver | None = None) -> list[Entry]:
        """Up to ``limit`` entries: queued messages first (in order), then slots when
        ``slots`` (a conflated client's interval is due). ``resolve`` renders slot values
        at send time (the current full book)."""
        out: list[Entry] = []
        queue = self.queue
        while queue and len(out) < limit:
            entry = queue.popleft()
            self.bytes -= len(entry.data)
            out.append(entry)
        if slots:
            while self.slots and len(out) < limit:
                (kind, ticker), entry = self.slots.popitem(last=False)
                if resolve is not None:
                    data = resolve(kind, ticker)
                    if data is not None:
                        entry.data = data
                out.append(entry)
        return out

    def clear(self) -> None:
        self.queue.clear()
        self.slots.clear()
        self.bytes = 0
