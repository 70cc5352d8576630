"""Which markets the connector follows: the environment's ``subscriptions.markets``.

* ``all`` — every market that has not ended (created through closed).
* a list of tickers — those markets, until they end.
* a ``MarketSelector`` — markets of the listed series or categories (both empty: any) whose
  status is listed, plus the extra ``tickers``; still only until they end.

A market ends when its result is known (``determined`` … ``finalized``): there is no more
market data to follow. ``inactive`` is a pause: a selector listing ``active`` keeps a
paused market, so a pause never unsubscribes.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from ssmd.config.model import MarketSelector
from ssmd.secmaster.model import SecMarket, canonical_status, is_ended

Selection = str | list[str] | MarketSelector


def _statuses(selector: MarketSelector) -> frozenset[str]:
    wanted = {canonical_status(s) for s in selector.status}
    if "active" in wanted:
        wanted.add("inactive")
    return frozenset(wanted)


def selects(selection: Selection, market: SecMarket) -> bool:
    if is_ended(market.status):
        return False
    if isinstance(selection, str):
        return selection == "all"
    if isinstance(selection, list):
        return market.ticker in selection
    if market.ticker in selection.tickers:
        return True
    if (selection.series or selection.categories) and not (
        market.series_ticker in selection.series or market.category in selection.categories
    ):
        return False
    return canonical_status(market.status) in _statuses(selection) if selection.status else True


def selected(selection: Selection, markets: Iterable[SecMarket]) -> set[str]:
    return {m.ticker for m in markets if selects(selection, m)}


class Delta(msgspec.Struct, frozen=True):
    add: list[str]
    remove: list[str]

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


def delta(current: set[str], wanted: set[str]) -> Delta:
    """Tickers to subscribe and unsubscribe to go from ``current`` to ``wanted``."""
    return Delta(add=sorted(wanted - current), remove=sorted(current - wanted))
