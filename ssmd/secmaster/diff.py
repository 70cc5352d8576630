"""Changes between two market sets: the entries of the ``{env}.secmaster.changes`` journal.

Pure: the caller passes both sets and the time. A market that becomes ``finalized``
(WebSocket: ``settled``) is a ``market_settled`` carrying its result; any other change of
a stored field is a ``market_updated`` with the old and new value of each field. Only a
full listing can tell that a market is gone (``market_removed``): an incremental one lists
only what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from ssmd.secmaster.model import DIFF_FIELDS, SecMarket

ChangeType = Literal["market_added", "market_updated", "market_settled", "market_removed"]
Source = Literal["sync", "lifecycle", "sweep", "backfill"]


class FieldChange(msgspec.Struct, frozen=True):
    old: Any
    new: Any


class Change(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One journal entry. ``market`` is the state after the change (the last one known for
    ``market_removed``), so a reader never needs the cache to interpret it."""

    type: ChangeType
    ticker: str
    ts: int
    """When the change was seen, ns since epoch."""
    source: Source = "sync"
    changes: dict[str, FieldChange] = {}
    result: str | None = None
    market: SecMarket | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        data.setdefault("changes", {})
        return data


def change_from_json(data: Mapping[str, Any]) -> Change:
    return msgspec.convert(dict(data), Change)


def compare(old: SecMarket, new: SecMarket) -> dict[str, FieldChange]:
    """Fields whose value differs, with old and new values."""
    out: dict[str, FieldChange] = {}
    for name in DIFF_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            out[name] = FieldChange(before, after)
    return out


def change_between(old: SecMarket | None, new: SecMarket, ts: int, source: Source = "sync") -> Change | None:
    """The change from ``old`` (None: unknown) to ``new``; None when nothing differs."""
    if old is None:
        return Change(type="market_added", ticker=new.ticker, ts=ts, source=source, market=new)
    fields = compare(old, new)
    if not fields:
        return None
    if new.status == "finalized" and old.status != "finalized":
        return Change(
            type="market_settled", ticker=new.ticker, ts=ts, source=source, changes=fields,
            result=new.result, market=new,
        )
    return Change(type="market_updated", ticker=new.ticker, ts=ts, source=source, changes=fields, market=new)


def diff(
    previous: Mapping[str, SecMarket],
    current: Mapping[str, SecMarket],
    *,
    ts: int,
    full: bool = True,
    source: Source = "sync",
) -> list[Change]:
    """Changes turning ``previous`` into ``current``, sorted by ticker within each kind.

    ``full`` says ``current`` is the whole universe, so tickers missing from it were removed.
    """
    out: list[Change] = []
    for ticker in sorted(current):
        change = change_between(previous.get(ticker), current[ticker], ts, source)
        if change is not None:
            out.append(change)
    if full:
        for ticker in sorted(set(previous) - set(current)):
            out.append(Change(type="market_removed", ticker=ticker, ts=ts, source=source, market=previous[ticker]))
    return out


def apply(state: dict[str, SecMarket], changes: list[Change]) -> None:
    """Bring ``state`` up to date with ``changes`` (in place)."""
    for change in changes:
        if change.type == "market_removed":
            state.pop(change.ticker, None)
        elif change.market is not None:
            state[change.ticker] = change.market
