"""What a backfill asks Kalshi REST: the markets of a selection, the cutoff, candles.

Markets come from the live ``/markets`` and from ``/historical/markets`` (a market settled
before the cutoff is only there); a market both list is taken from the live one. Bad
selections (an unknown ticker, series or event) are ``SsmdError``s naming the option.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ssmd.archive.datasets import Candle
from ssmd.backfill import plan
from ssmd.backfill.convert import candle
from ssmd.backfill.plan import Interval, Tier
from ssmd.errors import NotFoundError, SsmdError
from ssmd.secmaster.model import parse_time_ns

_BATCH = 100
"""Tickers per ``tickers=`` filter."""


class Target(msgspec.Struct, kw_only=True):
    """One market to backfill."""

    market: Any
    """The REST market object."""
    series: str = ""
    historical: bool = False
    """Only ``/historical/markets`` lists it (settled before the cutoff)."""
    candle_tier: Tier = "live"
    """Which endpoints serve its candles: the tier that lists the market."""

    @property
    def ticker(self) -> str:
        return str(self.market.ticker)

    @property
    def open_ns(self) -> int | None:
        return parse_time_ns(self.market.open_time)

    @property
    def close_ns(self) -> int | None:
        return parse_time_ns(self.market.close_time)


async def _collect(pages: Any) -> list[Any]:
    out: list[Any] = []
    async for page in pages:
        out.extend(page)
    return out


async def _listed(rest: Any, **filters: Any) -> tuple[list[Any], list[Any]]:
    """(live, historical) markets matching ``filters``."""
    live = await _collect(rest.market_pages(**filters))
    old = await _collect(rest.historical_market_pages(**filters))
    return live, old


def _targets(live: list[Any], old: list[Any], series: str = "") -> dict[str, Target]:
    out = {m.ticker: Target(market=m, series=series, historical=True, candle_tier="historical") for m in old}
    out.update({m.ticker: Target(market=m, series=series) for m in live})
    return out


async def _by_tickers(rest: Any, symbols: list[str]) -> dict[str, Target]:
    found: dict[str, Target] = {}
    for i in range(0, len(symbols), _BATCH):
        batch = ",".join(symbols[i:i + _BATCH])
        live, old = await _listed(rest, tickers=batch)
        found.update(_targets(live, old))
    for ticker in [s for s in symbols if s not in found]:
        try:
            found[ticker] = Target(market=await rest.historical_market(ticker), historical=True,
                                   candle_tier="historical")
        except NotFoundError:
            raise SsmdError(f"--symbol {ticker!r}: no such market (neither live nor historical)") from None
    return found


async def resolve(rest: Any, *, symbols: list[str], series: str | None, event: str | None, start_ns: int,
                  end_ns: int, need_series: bool) -> list[Target]:
    """The markets of the selection whose trading span meets ``[start, end)``, by ticker."""
    if symbols:
        found = await _by_tickers(rest, symbols)
    elif series:
        try:
            await rest.series_one(series)
        except NotFoundError:
            raise SsmdError(f"--series {series!r}: no such series") from None
        found = _targets(*await _listed(rest, series_ticker=series), series=series)
    elif event:
        try:
            info = await rest.event(event)
        except NotFoundError:
            raise SsmdError(f"--event {event!r}: no such event") from None
        found = _targets(*await _listed(rest, event_ticker=event), series=info.series_ticker)
    else:
        raise SsmdError("give one of --symbol, --series or --event")
    targets = [t for _, t in sorted(found.items())
               if symbols or plan.clip(start_ns, end_ns, t.open_ns, t.close_ns) is not None]
    if need_series:
        await _fill_series(rest, targets)
    return targets


async def _fill_series(rest: Any, targets: list[Target]) -> None:
    """The series of each market (market objects name only their event)."""
    events: dict[str, str] = {}
    for t in targets:
        if t.series:
            continue
        name = t.market.event_ticker
        if name not in events:
            try:
                events[name] = (await rest.event(name)).series_ticker
            except NotFoundError:
                events[name] = ""
        t.series = events[name]


async def historical_cutoff(rest: Any) -> int | None:
    """The trades cutoff (ns): trades older than it are served only by ``/historical/trades``."""
    answer = await rest.historical_cutoff()
    value = answer.trades_created_ns()
    return int(value) if value is not None else None


async def fetch_candles(rest: Any, target: Target, period: str, chunk: Interval, tier: Tier,
                        fetched_at: int) -> list[Candle]:
    """The complete candles of one chunk: those whose period ends in ``(lo, hi]`` and by now."""
    lo, hi = chunk
    answer = await rest.candlesticks(target.series, target.ticker, start_ts=plan.seconds_floor(lo),
                                     end_ts=plan.seconds_ceil(hi), period_interval=plan.PERIODS[period],
                                     historical=tier == "historical")
    out = []
    for c in answer:
        record = candle(target.ticker, period, c, fetched_at)
        if lo < record.end_period_ts <= hi and record.end_period_ts <= fetched_at:
            out.append(record)
    return out
