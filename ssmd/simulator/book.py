"""One market's simulated order book and tape (pure; randomness passed in).

Kalshi books are bids only: YES bids and NO bids, in 1e-4 dollars and 1e-2 contracts. A
NO bid at p is a YES ask at 1 - p, so the book is uncrossed while best_yes + best_no <
1.0000. Trades take the best level of one side, so trades, deltas and the ticker agree.
"""

from __future__ import annotations

import random

from ssmd.simulator.universe import Market

ONE = 10_000


class SimBook:
    __slots__ = ("dollar_oi", "dollar_volume", "last_price", "last_size", "market", "no",
                 "open_interest", "volume", "yes")

    def __init__(self, market: Market, rng: random.Random) -> None:
        self.market = market
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        self.last_price: int | None = None
        self.last_size = 0
        self.volume = 0
        self.open_interest = 0
        self.dollar_volume = 0
        """Traded notional in 1e-6 dollars (price 1e-4 x size 1e-2)."""
        self.dollar_oi = 0
        tick = market.tick
        for _ in range(rng.randint(3, 8)):
            self._add(rng, "yes", rng.randint(1, 12) * tick, _size(rng))
            self._add(rng, "no", rng.randint(1, 12) * tick, _size(rng))

    # -- prices -------------------------------------------------------------------------
    def best_yes(self) -> int:
        return max(self.yes) if self.yes else 0

    def best_no(self) -> int:
        return max(self.no) if self.no else 0

    def _room(self, side: str) -> int:
        """Highest price a new bid on ``side`` may have without crossing the book."""
        other = self.best_no() if side == "yes" else self.best_yes()
        return ONE - other - self.market.tick

    def _add(self, rng: random.Random, side: str, depth: int, size: int) -> tuple[int, int] | None:
        """Add ``size`` at ``depth`` below the side's fair price; returns (price, size)."""
        fair = self.market.fair if side == "yes" else ONE - self.market.fair
        price = min(fair - depth, self._room(side))
        price -= price % self.market.tick
        if price < self.market.tick:
            return None
        book = self.yes if side == "yes" else self.no
        book[price] = book.get(price, 0) + size
        return price, size

    # -- random activity ---------------------------------------------------------------
    def change(self, rng: random.Random) -> tuple[str, int, int] | None:
        """A resting-order change: (side, price, signed delta)."""
        side = "yes" if rng.random() < 0.5 else "no"
        book = self.yes if side == "yes" else self.no
        if book and (len(book) > 10 or rng.random() < 0.45):
            price = rng.choice(list(book))
            size = book[price]
            delta = -size if rng.random() < 0.4 else -min(size, _size(rng))
            left = size + delta
            if left > 0:
                book[price] = left
            else:
                del book[price]
            return side, price, delta
        added = self._add(rng, side, rng.randint(0, 10) * self.market.tick, _size(rng))
        if added is None:
            return None
        return side, added[0], added[1]

    def trade(self, rng: random.Random) -> tuple[str, int, int, str] | None:
        """A taker hits the best bid of one side: (side hit, price hit, count, taker outcome).

        Taker buys YES -> takes the best NO bid, YES price = 1 - p; taker buys NO -> takes
        the best YES bid at p.
        """
        side = "no" if rng.random() < 0.5 else "yes"
        book = self.no if side == "no" else self.yes
        if not book:
            return None
        price = max(book)
        count = min(book[price], _size(rng))
        left = book[price] - count
        if left > 0:
            book[price] = left
        else:
            del book[price]
        yes_price = ONE - price if side == "no" else price
        self.last_price = yes_price
        self.last_size = count
        self.volume += count
        self.open_interest = max(0, self.open_interest + (count if rng.random() < 0.6 else -count))
        self.dollar_volume += yes_price * count
        self.dollar_oi = self.open_interest * (self.last_price or 0)
        return side, price, count, "yes" if side == "no" else "no"

    # -- views --------------------------------------------------------------------------
    def top(self) -> tuple[int, int, int, int]:
        """(yes bid, yes bid size, yes ask, yes ask size); empty side -> 0 / 1.0000 with 0."""
        by = self.best_yes()
        bn = self.best_no()
        return by, self.yes.get(by, 0), ONE - bn, self.no.get(bn, 0)


def _size(rng: random.Random) -> int:
    """Contracts in 1e-2 units: mostly whole, sometimes fractional."""
    whole = rng.choice((1, 2, 5, 10, 10, 25, 50, 100, 250)) * 100
    return whole + (rng.randint(1, 99) if rng.random() < 0.15 else 0)
