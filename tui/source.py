"""Where the TUI gets its data: the ``StatusSource`` protocol and its HTTP implementation.

``HttpStatusSource`` talks to the control API of a running ``ssmd up`` (status, actions)
and to its gateway (markets, books, trades, replay). Every call raises ``SourceDown``
when the process cannot be reached, so the app can say so and retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec

from ssmd.status import SystemStatus


class SourceDown(Exception):
    """The running ssmd cannot be reached (not started, stopped, or restarting)."""


class StatusSource(Protocol):
    async def status(self) -> SystemStatus: ...
    async def markets(self, query: str = "") -> list[dict[str, Any]]:
        """Markets (ticker, title, status, category, ...) matching ``query``."""
        ...
    async def market(self, ticker: str) -> dict[str, Any]:
        """One market: metadata plus ``ticker`` (latest), ``book`` {bids, asks}, ``trades``."""
        ...
    async def inventory(self) -> list[dict[str, Any]]:
        """Archive days: date, raw_bytes, normalized_bytes, status, quality, gaps."""
        ...
    async def manifest(self, date: str) -> dict[str, Any]: ...
    async def disconnect_client(self, client_id: str) -> None: ...
    async def end_day(self) -> str: ...
    def replay(self, date: str, symbols: list[str], speed: float) -> AsyncIterator[dict[str, Any]]:
        """Archived messages of ``date`` for ``symbols`` through the gateway, paced."""
        ...
    async def close(self) -> None: ...


class HttpStatusSource:
    """The control API (``control_url``) and the gateway it reports (``endpoints``)."""

    def __init__(self, control_url: str, *, timeout: float = 2.0) -> None:
        self.control_url = control_url.rstrip("/")
        self._timeout = timeout
        self._session: Any = None
        self._gateway: str | None = None

    async def _client(self) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    async def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        import aiohttp

        session = await self._client()
        try:
            async with session.request(method, url, **kwargs) as response:
                body = await response.read()
                if response.status >= 400:
                    raise SourceDown(f"{method} {url}: HTTP {response.status} {body[:200].decode(errors='replace')}")
                return msgspec.json.decode(body) if body else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SourceDown(f"cannot reach {url}: {exc or type(exc).__name__}") from None

    async def status(self) -> SystemStatus:
        data = await self._request("GET", f"{self.control_url}/status")
        status = msgspec.convert(data, SystemStatus)
        self._gateway = status.endpoints.get("gateway_http") or status.endpoints.get("gateway")
        return status

    def _gateway_http(self) -> str:
        if not self._gateway:
            raise SourceDown("the running ssmd reports no gateway")
        return self._gateway.replace("ws://", "http://").replace("/v1/stream", "").rstrip("/")

    async def markets(self, query: str = "") -> list[dict[str, Any]]:
        data = await self._request("GET", f"{self._gateway_http()}/v1/markets")
        rows = data.get("markets", data) if isinstance(data, dict) else data
        q = query.lower()
        return [r for r in rows if not q or q in msgspec.json.encode(r).decode().lower()]

    async def market(self, ticker: str) -> dict[str, Any]:
        from urllib.parse import quote

        base = f"{self._gateway_http()}/v1/markets/{quote(ticker, safe='')}"
        detail = await self._request("GET", base)
        trades = await self._request("GET", f"{base}/trades")
        detail = dict(detail or {})
        detail["trades"] = trades.get("trades", trades) if isinstance(trades, dict) else trades
        return detail

    async def inventory(self) -> list[dict[str, Any]]:
        data = await self._request("GET", f"{self.control_url}/archive/inventory")
        return list(data or [])

    async def manifest(self, date: str) -> dict[str, Any]:
        return dict(await self._request("GET", f"{self.control_url}/archive/{date}/manifest") or {})

    async def disconnect_client(self, client_id: str) -> None:
        await self._request("POST", f"{self.control_url}/clients/{client_id}/disconnect")

    async def end_day(self) -> str:
        result = await self._request("POST", f"{self.control_url}/day/end")
        return str((result or {}).get("state", "ENDING"))

    async def replay(self, date: str, symbols: list[str], speed: float) -> AsyncIterator[dict[str, Any]]:
        import websockets

        url = self._gateway_http().replace("http://", "ws://") + "/v1/stream"
        try:
            async with websockets.connect(url) as ws:
                request = {"action": "replay", "symbols": symbols, "date": date, "speed": speed}
                await ws.send(msgspec.json.encode(request).decode())
                async for frame in ws:
                    message = msgspec.json.decode(frame)
                    yield message
                    if message.get("type") in ("replay_done", "error"):
                        return
        except (OSError, websockets.WebSocketException) as exc:
            raise SourceDown(f"replay from {url}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
