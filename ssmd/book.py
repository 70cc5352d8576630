"""Order-book state rebuilt from snapshot + deltas (pure, no I/O).

Kalshi books are bids only, per outcome: YES bids and NO bids. A NO bid at price p is a
YES ask at 1 - p. ``bids()`` and ``asks()`` give the book in YES-price terms: bids best
(highest) first, asks best (lowest) first. Prices 1e-4 $, sizes 1e-2 contracts.
"""

from __future__ import annotations

from ssmd.fixed import PRICE_SCALE
from ssmd.records import Level, OrderbookDelta, OrderbookSnapshot


class OrderBook:
    __slots__ = ("no", "seq", "ticker", "ts", "yes")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        self.ts = 0
        self.seq = 0

    def apply(self, update: OrderbookSnapshot | OrderbookDelta) -> None:
        if isinstance(update, OrderbookSnapshot):
            self.yes = {p: s for p, s in update.yes if s > 0}
            self.no = {p: s for p, s in update.no if s > 0}
        else:
            side = self.yes if update.side == "yes" else self.no
            size = side.get(update.price, 0) + update.delta
            if size > 0:
                side[update.price] = size
            else:
                side.pop(update.price, None)
        self.ts = update.ts
        self.seq = update.seq

    def bids(self, depth: int | None = None) -> list[Level]:
        levels = sorted(self.yes.items(), reverse=True)
        return levels[:depth] if depth else levels

    def asks(self, depth: int | None = None) -> list[Level]:
        levels = sorted((PRICE_SCALE - p, s) for p, s in self.no.items())
        return levels[:depth] if depth else levels

    def best_bid(self) -> Level | None:
        return max(self.yes.items()) if self.yes else None

    def best_ask(self) -> Level | None:
        if not self.no:
            return None
        price, size = max(self.no.items())
        return PRICE_SCALE - price, size
