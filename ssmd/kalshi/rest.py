"""Kalshi REST v2 for the security master: a paced, retrying client.

The wire Structs and their tolerant decoding live in ``ssmd.kalshi.rest_wire``: a market,
event or series with an odd field is kept (the field coerced or defaulted), one that cannot
be kept is left out, and the client logs each case and counts it in
``ssmd_secmaster_field_coercions_total`` / ``ssmd_secmaster_objects_skipped_total``.
Market-data GETs are public, so no request is signed.

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

from ssmd import metrics
from ssmd.errors import NotFoundError, TransportError
from ssmd.kalshi.marketdata import MarketDataMixin
from ssmd.kalshi.pacing import TokenBucket
from ssmd.kalshi.rest_wire import (
    Decoded,
    Event,
    Market,
    PriceRange,
    Series,
    _EventOne,
    _EventsPage,
    _MarketOne,
    _MarketsPage,
    _SeriesOne,
    _SeriesPage,
)
from ssmd.kalshi.rest_wire import decode as decode_body
from ssmd.log import get_logger
from ssmd.retry import backoff

MARKETS_PAGE_MAX = 1000
EVENTS_PAGE_MAX = 200
LOGGED_PER_RESPONSE = 20
"""Odd fields logged one by one per response; the rest are summed up in one line."""
log = get_logger("kalshi.rest")


P = TypeVar("P")
__all__ = ["Event", "KalshiRest", "Market", "PriceRange", "RestStats", "Series", "TokenBucket"]


class RestStats(msgspec.Struct, kw_only=True):
    requests: int = 0
    throttled: int = 0
    """429 answers received (each retried)."""
    pacing_seconds: float = 0.0
    """Time spent waiting on the client-side bucket."""
    backoff_seconds: float = 0.0
    """Time spent backing off after 429s and transient failures."""
    coercions: int = 0
    """Fields of markets, events or series that did not fit their type (coerced or defaulted)."""
    skipped: int = 0
    """Markets, events or series left out because they could not be kept (no ticker)."""

    @property
    def waited_seconds(self) -> float:
        return self.pacing_seconds + self.backoff_seconds


class KalshiRest(MarketDataMixin):
    """Async client of the REST endpoints the security master reads, plus market data and
    history (trades, books, candles, cutoff, exchange status: ``ssmd.kalshi.marketdata``)."""

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
                    decoded = decode_body(body, kind, decoder)
                except msgspec.DecodeError as exc:
                    raise TransportError(f"GET {path}: unexpected response body: {exc}", retryable=False) from None
                if decoded.repairs or decoded.unkept:
                    self._report(path, decoded)
                return decoded.value
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

    def _report(self, path: str, decoded: Decoded[Any]) -> None:
        """Log and count the odd fields and the objects left out of one response."""
        for n, repair in enumerate(decoded.repairs):
            metrics.SECMASTER_FIELD_COERCIONS.labels(repair.kind, repair.field).inc()
            if n < LOGGED_PER_RESPONSE:
                log.warning(f"REST {repair.kind} field {repair.field} did not fit its type; {repair.action}",
                            path=path, ticker=repair.key, field=repair.field, value_type=repair.value_type,
                            action=repair.action)
        if len(decoded.repairs) > LOGGED_PER_RESPONSE:
            log.warning("more REST fields did not fit their types", path=path,
                        more=len(decoded.repairs) - LOGGED_PER_RESPONSE)
        for unkept in decoded.unkept:
            metrics.SECMASTER_OBJECTS_SKIPPED.labels(unkept.kind).inc()
            log.error(f"REST {unkept.kind} skipped: {unkept.reason}", path=path, ticker=unkept.key,
                      reason=unkept.reason)
        self.stats.coercions += len(decoded.repairs)
        self.stats.skipped += len(decoded.unkept)

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
