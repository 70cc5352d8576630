"""Completing markets the secmaster first learnt of from a lifecycle record.

A ``created`` message lacks the series, the category and most REST fields, and a record
for a market whose creation was missed carries even less. Such tickers wait in a pending
map (ticker → tries); each round fetches the market, and its event and series when no
stored market of the same event knows them. REST may answer 404 for a short while after
``created``: the ticker is then tried again next round, up to ``attempts`` times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssmd.errors import NotFoundError
from ssmd.secmaster.fetch import infos_from_markets
from ssmd.secmaster.model import event_infos, from_rest

if TYPE_CHECKING:
    from ssmd.secmaster.service import SecmasterService


async def complete_created(service: SecmasterService, pending: dict[str, int], attempts: int = 5) -> int:
    """One round over ``pending``; returns how many markets changed."""
    done = 0
    for ticker, tries in list(pending.items()):
        try:
            wire = await service.rest.market(ticker)
            info = infos_from_markets(service.markets).get(wire.event_ticker)
            if info is None:
                event = await service.rest.event(wire.event_ticker)
                series = await service.rest.series_one(event.series_ticker) if event.series_ticker else None
                info = event_infos([event], [series] if series else [])[event.event_ticker]
        except NotFoundError:
            pending[ticker] = tries + 1
            if tries + 1 >= attempts:
                del pending[ticker]
            continue
        del pending[ticker]
        if await service.commit_market(from_rest(wire, info)) is not None:
            done += 1
    return done
