"""How complete a day is: each gap's state, the day's verdict, and coverage per market-hour (pure).

A gap is ``healed`` or ``degraded`` by what its channel carries:

* ``trade`` is history: healed only when the healer fetched the gap's trades from REST
  and archived the missing ones (``gap.healed.status == 'healed'``).
* ``orderbook_delta`` and ``ticker`` are state: the snapshot (or ticker update) that every
  resubscription brings restores it, so a gap that closed is healed; the updates inside
  it are not recoverable and stay missing.
* ``market_lifecycle_v2`` events are recovered by the secmaster's next sync, which
  records the status changes in its change journal and history.

A gap still open, or on any other channel, is ``degraded``. The day is ``complete`` with
no gap, ``healed`` when every gap is healed, ``degraded`` otherwise.

Coverage, per market and hour: ``degraded`` when a degraded gap touches the market in
that hour, ``healed`` when only healed gaps do, ``present`` when data was recorded and no
gap touched it, ``absent`` when nothing at all was recorded for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from ssmd.status import GapInfo

GapState = Literal["healed", "degraded"]
Completeness = Literal["complete", "healed", "degraded"]
CoverageStatus = Literal["present", "healed", "degraded", "absent"]
RESTORED_BY_RESUBSCRIBING = frozenset({"orderbook_delta", "ticker", "market_lifecycle_v2"})
HOUR_NS = 3600 * 1_000_000_000


def gap_state(gap: GapInfo) -> GapState:
    if gap.end_ns is None:
        return "degraded"
    if gap.channel == "trade":
        return "healed" if gap.healed is not None and gap.healed.status == "healed" else "degraded"
    return "healed" if gap.channel in RESTORED_BY_RESUBSCRIBING else "degraded"


def day_completeness(gaps: Iterable[GapInfo]) -> Completeness:
    states = {gap_state(g) for g in gaps}
    if not states:
        return "complete"
    return "degraded" if "degraded" in states else "healed"


class Cell(msgspec.Struct, kw_only=True):
    """Rows recorded for one market in one hour."""

    ws_trades: int = 0
    rest_trades: int = 0
    updates: int = 0
    """Ticker and order-book rows."""


class CoverageRow(msgspec.Struct, kw_only=True):
    date: str
    ticker: str
    hour_ns: int
    """Start of the UTC hour, ns since epoch."""
    status: CoverageStatus
    ws_trades: int
    rest_trades: int
    updates: int
    gaps: list[str]
    """The gaps touching the market in that hour: ``kind/channel start..end state``."""


def describe(gap: GapInfo) -> str:
    from ssmd.clock import rfc3339

    end = rfc3339(gap.end_ns) if gap.end_ns is not None else "open"
    return f"{gap.kind}/{gap.channel} {rfc3339(gap.start_ns)}..{end} {gap_state(gap)}"


def coverage(date: str, hours: list[int], cells: dict[tuple[str, int], Cell], gaps: list[GapInfo],
             markets: Iterable[str], now_ns: int) -> list[CoverageRow]:
    """One row per market and hour. ``cells`` is keyed by (ticker, hour start ns); an open
    gap runs until ``now_ns``; a gap without markets touches every market."""
    tickers = sorted({*markets, *(t for t, _ in cells), *(m for g in gaps for m in g.markets)})
    by_hour: dict[int, list[GapInfo]] = {}
    for gap in gaps:
        end = gap.end_ns if gap.end_ns is not None else now_ns
        first = gap.start_ns - gap.start_ns % HOUR_NS
        for hour in range(first, max(end, gap.start_ns) + 1, HOUR_NS):
            by_hour.setdefault(hour, []).append(gap)
    rows: list[CoverageRow] = []
    empty = Cell()
    for ticker in tickers:
        for hour in hours:
            cell = cells.get((ticker, hour), empty)
            touching = [g for g in by_hour.get(hour, ()) if not g.markets or ticker in g.markets]
            states = {gap_state(g) for g in touching}
            status: CoverageStatus
            if "degraded" in states:
                status = "degraded"
            elif states:
                status = "healed"
            elif cell.ws_trades or cell.rest_trades or cell.updates:
                status = "present"
            else:
                status = "absent"
            rows.append(CoverageRow(date=date, ticker=ticker, hour_ns=hour, status=status, ws_trades=cell.ws_trades,
                                    rest_trades=cell.rest_trades, updates=cell.updates,
                                    gaps=[describe(g) for g in touching]))
    return rows


def hours_of(start_ns: int, end_ns: int) -> list[int]:
    """Start of every UTC hour that overlaps [start_ns, end_ns)."""
    first = start_ns - start_ns % HOUR_NS
    return list(range(first, max(end_ns, start_ns + 1), HOUR_NS))
