"""Telling the connector which markets to follow as they open and end.

The target is either an object with ``add_markets(tickers)`` / ``remove_markets(tickers)``
(``ssmd.connector.Connector``) or a callable ``(add, remove)``; either may be async. The
hook remembers what it handed over and passes on only differences, so a pause or a
metadata change never reaches the connector.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from ssmd.log import get_logger
from ssmd.secmaster.model import SecMarket
from ssmd.secmaster.selection import Delta, Selection, delta, selects

log = get_logger("secmaster")


class MarketTarget(Protocol):
    def add_markets(self, tickers: list[str]) -> Any: ...
    def remove_markets(self, tickers: list[str]) -> Any: ...


Target = MarketTarget | Callable[[list[str], list[str]], Awaitable[None] | None]


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


class ConnectorHook:
    def __init__(self, target: Target, selection: Selection) -> None:
        self.target = target
        self.selection = selection
        self.subscribed: set[str] = set()

    async def reset(self, markets: Mapping[str, SecMarket]) -> Delta:
        """Hand over the whole selection (first call) or its difference with what was given."""
        wanted = {t for t, m in markets.items() if selects(self.selection, m)}
        return await self._send(delta(self.subscribed, wanted))

    async def update(self, tickers: Iterable[str], markets: Mapping[str, SecMarket]) -> Delta:
        """Re-evaluate only ``tickers`` (those that just changed) against ``markets``."""
        add: list[str] = []
        remove: list[str] = []
        for ticker in sorted(set(tickers)):
            market = markets.get(ticker)
            wanted = market is not None and selects(self.selection, market)
            if wanted and ticker not in self.subscribed:
                add.append(ticker)
            elif not wanted and ticker in self.subscribed:
                remove.append(ticker)
        return await self._send(Delta(add=add, remove=remove))

    async def _send(self, change: Delta) -> Delta:
        if not change:
            return change
        target = self.target
        if callable(target) and not hasattr(target, "add_markets"):
            await _maybe_await(target(change.add, change.remove))
        else:
            if change.add:
                await _maybe_await(target.add_markets(change.add))
            if change.remove:
                await _maybe_await(target.remove_markets(change.remove))  # type: ignore[union-attr]
        self.subscribed.update(change.add)
        self.subscribed.difference_update(change.remove)
        log.info("connector markets updated", added=len(change.add), removed=len(change.remove))
        return change
