"""The simulated exchange's trade tape: every trade it made, in time order (pure).

The engine appends each trade it generates here, whether or not any client received the
WebSocket frame (no client connected, an outage, a lost seq), so REST can serve the full
truth and tests can list it. Pre-generated history goes in first, live trades after, so
the tape is always ordered by ``created_ns``. It keeps the newest ``limit`` trades.

Paging is newest first: a page is the trades with a global index below ``before`` that
pass the filters, and the next page starts below the last one returned. Indexes never
change once given (older trades are dropped from the front), so new trades arriving
while a client pages do not shift the pages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import msgspec

from ssmd.simulator.book import ONE

DEFAULT_LIMIT = 2_000_000


class TapeTrade(msgspec.Struct, frozen=True, gc=False):
    """One trade as the exchange recorded it (the same trade as the WS ``trade`` frame)."""

    trade_id: str
    ticker: str
    yes_price: int
    """1e-4 dollars."""
    count: int
    """1e-2 contracts."""
    taker_side: str
    """``yes`` or ``no`` (the taker's outcome side)."""
    created_ns: int
    """Exchange time; whole milliseconds, equal to the WS frame's ``ts_ms`` x 1e6."""
    block: bool = False

    @property
    def no_price(self) -> int:
        return ONE - self.yes_price


class TradeTape:
    """Append-only, bounded, time-ordered trade store with per-market indexes."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the trade tape needs a limit of at least 1")
        self.limit = limit
        self._trades: list[TapeTrade] = []
        self._base = 0
        """Global index of ``_trades[0]``."""
        self._by_ticker: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._trades)

    @property
    def end(self) -> int:
        """Global index the next trade will get."""
        return self._base + len(self._trades)

    @property
    def last_ns(self) -> int:
        return self._trades[-1].created_ns if self._trades else 0

    def append(self, trade: TapeTrade) -> int:
        """Add a trade (``created_ns`` must not go back in time); returns its index."""
        if self._trades and trade.created_ns < self._trades[-1].created_ns:
            raise ValueError(f"trade {trade.trade_id} is older than the tape's last trade")
        index = self.end
        self._by_ticker.setdefault(trade.ticker, []).append(index)
        self._trades.append(trade)
        if len(self._trades) > self.limit + max(1, self.limit // 8):
            self._trim()
        return index

    def _trim(self) -> None:
        drop = len(self._trades) - self.limit
        del self._trades[:drop]
        self._base += drop
        for ticker, indexes in list(self._by_ticker.items()):
            del indexes[:bisect.bisect_left(indexes, self._base)]
            if not indexes:
                del self._by_ticker[ticker]

    def all(self, ticker: str | None = None) -> list[TapeTrade]:
        """Every kept trade (of one market), oldest first."""
        if ticker is None:
            return list(self._trades)
        base, trades = self._base, self._trades
        return [trades[i - base] for i in self._by_ticker.get(ticker, ())]

    def tickers(self) -> list[str]:
        return sorted(self._by_ticker)

    def page(self, *, ticker: str | None = None, min_ns: int | None = None, max_ns: int | None = None,
             before: int | None = None, limit: int = 100,
             keep: Callable[[TapeTrade], bool] | None = None) -> tuple[list[TapeTrade], int | None]:
        """Up to ``limit`` trades, newest first, with ``min_ns <= created_ns <= max_ns``
        and index below ``before``; and the ``before`` of the next page (None at the end)."""
        base, trades = self._base, self._trades
        if ticker is None:
            def at(j: int) -> int:
                return base + j
            size = len(trades)
        else:
            indexes = self._by_ticker.get(ticker, [])

            def at(j: int) -> int:
                return indexes[j]
            size = len(indexes)

        def time_of(j: int) -> int:
            return trades[at(j) - base].created_ns

        lo = 0 if min_ns is None else _first(size, lambda j: time_of(j) >= min_ns)
        hi = size if max_ns is None else _first(size, lambda j: time_of(j) > max_ns)
        if before is not None:
            hi = min(hi, _first(size, lambda j: at(j) >= before))
        out: list[TapeTrade] = []
        j = hi - 1
        last = -1
        while j >= lo and len(out) < limit:
            trade = trades[at(j) - base]
            if keep is None or keep(trade):
                out.append(trade)
                last = at(j)
            j -= 1
        return out, (last if out and j >= lo else None)


def _first(size: int, pred: Callable[[int], bool]) -> int:
    """The first j in [0, size) with ``pred(j)`` (pred is monotone), else ``size``."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
