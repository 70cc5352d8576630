"""The gateway's REST endpoints (GET only, JSON bodies), answered on the WebSocket port.

* ``/v1/markets``: every market, from the secmaster cache (``{env}:secmaster:markets``)
  when it holds any, else the markets seen live.
* ``/v1/markets/{ticker}``: metadata, latest ticker message and top of book.
* ``/v1/markets/{ticker}/trades?limit=N``: recent trades, oldest first, from the live ring
  topped up from the archive (today's Parquet, through the catalog) when it has more.
* ``/v1/health``: the gateway's status summary; 200 when healthy, 503 otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import msgspec

from ssmd.gateway.state import LiveState
from ssmd.log import get_logger
from ssmd.status import ComponentStatus

if TYPE_CHECKING:
    from ssmd.middleware.cache.base import Cache

MAX_TRADES = 1000
DEFAULT_TRADES = 100
_log = get_logger("gateway")

ArchiveTrades = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
Health = Callable[[], tuple[bool, ComponentStatus]]


class Reply(msgspec.Struct):
    status: int
    body: Any


class RestApi:
    def __init__(self, state: LiveState, cache: Cache, markets_key: str, health: Health,
                 archive_trades: ArchiveTrades | None = None) -> None:
        self.state = state
        self.cache = cache
        self.markets_key = markets_key
        self.health = health
        self.archive_trades = archive_trades

    async def handle(self, path: str) -> Reply:
        route, _, query = path.partition("?")
        parts = [unquote(p) for p in route.strip("/").split("/")]
        if parts[:1] != ["v1"]:
            return _not_found(route)
        rest = parts[1:]
        if rest == ["health"]:
            ok, status = self.health()
            return Reply(200 if ok else 503, {"healthy": ok, **msgspec.to_builtins(status)})
        if rest == ["markets"]:
            return await self.markets()
        if len(rest) == 2 and rest[0] == "markets" and rest[1]:
            return await self.market(rest[1])
        if len(rest) == 3 and rest[0] == "markets" and rest[2] == "trades" and rest[1]:
            try:
                limit = _limit(query)
            except ValueError as exc:
                return Reply(400, {"error": str(exc)})
            return await self.trades(rest[1], limit)
        return _not_found(route)

    async def _secmaster(self) -> dict[str, Any]:
        try:
            raw = await self.cache.hgetall(self.markets_key)
        except Exception as exc:  # a cache outage degrades to live data
            _log.warning("secmaster cache unavailable", error=type(exc).__name__)
            return {}
        out: dict[str, Any] = {}
        for ticker, text in raw.items():
            try:
                out[ticker] = msgspec.json.decode(text)
            except msgspec.DecodeError:
                out[ticker] = {"ticker": ticker}
        return out

    async def _metadata(self, ticker: str) -> Any:
        try:
            text = await self.cache.hget(self.markets_key, ticker)
        except Exception:
            return None
        if text is None:
            return None
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            return {"ticker": ticker}

    async def markets(self) -> Reply:
        known = await self._secmaster()
        if known:
            return Reply(200, {"source": "secmaster", "count": len(known),
                               "markets": [known[t] for t in sorted(known)]})
        live = [{"ticker": t, "latest": m.ticker_msg} for t, m in sorted(self.state.markets.items())]
        return Reply(200, {"source": "live", "count": len(live), "markets": live})

    async def market(self, ticker: str) -> Reply:
        metadata = await self._metadata(ticker)
        live = self.state.markets.get(ticker)
        if metadata is None and live is None:
            return Reply(404, {"error": f"unknown market {ticker!r}"})
        return Reply(200, {
            "ticker": ticker,
            "metadata": metadata,
            "latest": live.ticker_msg if live else None,
            "book": self.state.top(ticker),
            "lifecycle": live.lifecycle if live else None,
        })

    async def trades(self, ticker: str, limit: int) -> Reply:
        trades = self.state.recent_trades(ticker, limit)
        source = "live"
        if len(trades) < limit and self.archive_trades is not None:
            archived = await self.archive_trades(ticker, limit)
            if archived:
                seen = {t["trade_id"] for t in trades}
                older = [t for t in archived if t["trade_id"] not in seen]
                trades = (older + trades)[-limit:]
                source = "live+archive"
        if not trades and ticker not in self.state.markets and await self._metadata(ticker) is None:
            return Reply(404, {"error": f"unknown market {ticker!r}"})
        return Reply(200, {"ticker": ticker, "source": source, "count": len(trades), "trades": trades})


def _limit(query: str) -> int:
    values = parse_qs(query).get("limit")
    if not values:
        return DEFAULT_TRADES
    try:
        limit = int(values[0])
    except ValueError:
        raise ValueError(f"limit must be an integer, got {values[0]!r}") from None
    if not 1 <= limit <= MAX_TRADES:
        raise ValueError(f"limit must be between 1 and {MAX_TRADES}, got {limit}")
    return limit


def _not_found(route: str) -> Reply:
    return Reply(404, {"error": f"no such endpoint {route!r}",
                       "endpoints": ["/v1/stream", "/v1/markets", "/v1/markets/{ticker}",
                                     "/v1/markets/{ticker}/trades", "/v1/health"]})
