"""Kalshi REST v2 for the security master: wire Structs and a paced, retrying client.

The Structs mirror the REST JSON (reference §4.6/4.7) and are tolerant: unknown fields
are ignored and everything but the identifiers is optional. Market-data GETs are public,
so no request is signed.

Pacing is client-side (a token bucket at ``requests_per_second``); a 429, which Kalshi
sends without ``Retry-After``, is retried after an exponential backoff with jitter. Every
failure names the URL path and the HTTP status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import msgspec

from ssmd.errors import NotFoundError, TransportError
from ssmd.kalshi.pacing import TokenBucket
from ssmd.retry import backoff

MARKETS_PAGE_MAX = 1000
EVENTS_PAGE_MAX = 200


class PriceRange(msgspec.Struct, kw_only=True):
    start: str = ""
    end: str = ""
    step: str = ""


class Market(msgspec.Struct, kw_only=True):
    ticker: str
    event_ticker: str
    market_type: str = "binary"
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    created_time: str | None = None
    updated_time: str | None = None
    open_time: str | None = None
    close_time: str | None = None
    expected_expiration_time: str | None = None
    latest_expiration_time: str | None = None
    expiration_time: str | None = None
    settlement_timer_seconds: int | None = None
    status: str = ""
    result: str = ""
    can_close_early: bool = False
    early_close_condition: str | None = None
    last_price_dollars: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    notional_value_dollars: str | None = None
    settlement_value_dollars: str | None = None
    settlement_ts: str | None = None
    expiration_value: str | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    functional_strike: str | None = None
    custom_strike: dict[str, Any] | None = None
    rules_primary: str = ""
    rules_secondary: str = ""
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    is_provisional: bool | None = None
    mve_collection_ticker: str | None = None
    exchange_index: int | None = None


class Event(msgspec.Struct, kw_only=True):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    sub_title: str = ""
    category: str | None = None
    """Deprecated upstream; the series' category wins."""
    collateral_return_type: str | None = None
    mutually_exclusive: bool | None = None
    strike_date: str | None = None
    strike_period: str | None = None


class Series(msgspec.Struct, kw_only=True):
    ticker: str
    title: str = ""
    category: str = ""
    categories: list[str] | None = None
    frequency: str = ""
    tags: list[str] | None = None


class _MarketsPage(msgspec.Struct):
    markets: list[Market] | None = None
    cursor: str | None = None


class _MarketOne(msgspec.Struct):
    market: Market


class _EventOne(msgspec.Struct):
    event: Event


class _SeriesOne(msgspec.Struct):
    series: Series


class _EventsPage(msgspec.Struct):
    events: list[Event] | None = None
    cursor: str | None = None


class _SeriesPage(msgspec.Struct):
    series: list[Series] | None = None
    cursor: str | None = None


P = TypeVar("P")
__all__ = ["Event", "KalshiRest", "Market", "RestStats", "Series", "TokenBucket"]


class RestStats(msgspec.Struct, kw_only=True):
    requests: int = 0
    throttled: int = 0
    """429 answers received (each retried)."""
    pacing_seconds: float = 0.0
    """Time spent waiting on the client-side bucket."""
    backoff_seconds: float = 0.0
    """Time spent backing off after 429s and transient failures."""

    @property
    def waited_seconds(self) -> float:
        return self.pacing_seconds + self.backoff_seconds


class KalshiRest:
    """Async client of the REST endpoints the security master reads."""

    def __init__(
        self,
        base_url: str,
        *,
        requests_per_second: float = 20.0,
        burst: float = 1.0,
        attempts: int = 8,
        delays: Callable[[], Iterator[float]] | None = None,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.stats = RestStats()
        self._bucket = TokenBucket(requests_per_second, burst)
        self._attempts = attempts
        self._delays = delays or (lambda: backoff(initial=0.25, maximum=8.0))
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

    async def __aenter__(self) -> KalshiRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _pace(self) -> None:
        wait = self._bucket.reserve(time.monotonic())
        if wait > 0:
            self.stats.pacing_seconds += wait
            await asyncio.sleep(wait)

    async def get(self, path: str, params: dict[str, Any], kind: type[P]) -> P:
        """GET ``path`` and decode the body as ``kind``, with pacing and retries."""
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = msgspec.json.Decoder(kind)
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}
        delays = self._delays()
        failure = f"GET {path}: no attempt made"
        for attempt in range(1, self._attempts + 1):
            await self._pace()
            self.stats.requests += 1
            try:
                async with self._client().get(self.base_url + path, params=query) as resp:
                    body = await resp.read()
                    status = resp.status
                    hint = _seconds(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failure = f"GET {path}: {type(exc).__name__}: {exc}".rstrip(": ")
                status, body, hint = 0, b"", None
            if status == 200:
                try:
                    return decoder.decode(body)
                except msgspec.DecodeError as exc:
                    raise TransportError(f"GET {path}: unexpected response body: {exc}", retryable=False) from None
            if status == 404:
                raise NotFoundError(f"GET {path}: 404 not found")
            if status:
                failure = f"GET {path}: HTTP {status}: {_snippet(body)}"
                if status == 429:
                    self.stats.throttled += 1
                elif status < 500:
                    raise TransportError(failure, retryable=False)
            if attempt == self._attempts:
                break
            wait = max(next(delays), min(hint or 0.0, 60.0))  # Kalshi sends no Retry-After; honour one
            self.stats.backoff_seconds += wait
            await asyncio.sleep(wait)
        raise TransportError(f"{failure} (gave up after {self._attempts} attempts)")

    async def _paged(
        self, path: str, params: dict[str, Any], kind: type[P], items: Callable[[P], list[Any] | None],
    ) -> AsyncIterator[list[Any]]:
        cursor = ""
        seen: set[str] = set()
        while True:
            page = await self.get(path, {**params, "cursor": cursor or None}, kind)
            yield items(page) or []
            cursor = getattr(page, "cursor", None) or ""
            if not cursor:
                return
            if cursor in seen:
                raise TransportError(f"GET {path}: cursor {cursor!r} repeated; paging would loop", retryable=False)
            seen.add(cursor)

    def market_pages(self, *, limit: int = MARKETS_PAGE_MAX, **filters: Any) -> AsyncIterator[list[Market]]:
        """Pages of ``GET /markets`` until the cursor is empty (filters as query params)."""
        params = {"limit": _clamp(limit, MARKETS_PAGE_MAX), **filters}
        return self._paged("/markets", params, _MarketsPage, lambda p: p.markets)

    async def markets(self, *, limit: int = MARKETS_PAGE_MAX, **filters: Any) -> list[Market]:
        out: list[Market] = []
        async for page in self.market_pages(limit=limit, **filters):
            out.extend(page)
        return out

    async def market(self, ticker: str) -> Market:
        """``GET /markets/{ticker}``; ``NotFoundError`` for an unknown ticker."""
        return (await self.get(f"/markets/{ticker}", {}, _MarketOne)).market

    async def event(self, event_ticker: str) -> Event:
        """``GET /events/{event_ticker}``; ``NotFoundError`` for an unknown event."""
        return (await self.get(f"/events/{event_ticker}", {}, _EventOne)).event

    async def series_one(self, series_ticker: str) -> Series:
        """``GET /series/{series_ticker}``; ``NotFoundError`` for an unknown series."""
        return (await self.get(f"/series/{series_ticker}", {}, _SeriesOne)).series

    async def events(self, *, limit: int = EVENTS_PAGE_MAX, **filters: Any) -> list[Event]:
        out: list[Event] = []
        params = {"limit": _clamp(limit, EVENTS_PAGE_MAX), **filters}
        async for page in self._paged("/events", params, _EventsPage, lambda p: p.events):
            out.extend(page)
        return out

    async def series(self, **filters: Any) -> list[Series]:
        out: list[Series] = []
        async for page in self._paged("/series", dict(filters), _SeriesPage, lambda p: p.series):
            out.extend(page)
        return out


def _clamp(limit: int, maximum: int) -> int:
    return max(1, min(int(limit), maximum))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _snippet(body: bytes, size: int = 120) -> str:
    text = body[:size].decode("utf-8", "replace").strip()
    return text or "(empty body)"
