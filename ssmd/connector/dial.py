"""Opening one WebSocket connection: fresh signed headers, timeouts, and what a refusal means.

A refused upgrade is logged with its status and body. 401/403 mean the credentials are
wrong (or missing): an ``AuthError`` that stops the connector instead of a retry loop.
Anything else (other statuses, network errors, timeouts) is ``DialRetry``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ssmd.clock import Clock
from ssmd.connector.endpoints import KEY_NAME, Credentials
from ssmd.errors import AuthError, ConfigError
from ssmd.log import get_logger

log = get_logger("connector")


class TimedConnection(ClientConnection):
    """A client connection that notes when the last frame of any kind (ping included) came."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_frame = time.monotonic()

    def process_event(self, event: Any) -> None:
        self.last_frame = time.monotonic()
        super().process_event(event)


class DialRetry(Exception):
    """A connection attempt failed in a way worth retrying; the message is the cause."""


async def dial(url: str, credentials: Credentials | None, clock: Clock, open_timeout: float) -> TimedConnection:
    headers = credentials.headers(url, clock.now_ns() // 1_000_000) if credentials else {}
    try:
        ws = await connect(
            url, additional_headers=headers, create_connection=TimedConnection,
            open_timeout=open_timeout, ping_interval=None, close_timeout=2,
            max_size=2**24, max_queue=1024, compression=None, user_agent_header="ssmd",
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = bytes(exc.response.body or b"")[:300].decode("utf-8", "replace").strip()
        log.warning("upgrade refused", url=url, status=status, body=body)
        if status in (401, 403):
            who = "no credentials were sent (the environment has no kalshi key)" if not credentials \
                else f"check the {KEY_NAME} key (api_key, api_secret) and the clock"
            raise AuthError(f"{url} refused the WebSocket upgrade with HTTP {status} "
                            f"{body or '(no body)'!r}: {who}") from None
        raise DialRetry(f"upgrade refused: HTTP {status} {body!r}") from None
    except InvalidURI as exc:
        raise ConfigError("connector", "endpoints.ws", str(exc)) from None
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
        raise DialRetry(f"connect failed: {type(exc).__name__}: {exc}") from None
    assert isinstance(ws, TimedConnection)
    return ws


async def dial_unless_stopped(url: str, credentials: Credentials | None, clock: Clock, open_timeout: float,
                              stopping: asyncio.Event) -> TimedConnection | None:
    """``dial``, abandoned (None) when ``stopping`` is set first."""
    opening = asyncio.ensure_future(dial(url, credentials, clock, open_timeout))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((opening, stopped), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        opening.cancel()
        raise
    finally:
        stopped.cancel()
    if opening.done():
        return opening.result()
    opening.cancel()
    try:
        ws = await opening
    except (asyncio.CancelledError, DialRetry, AuthError):
        return None
    await ws.close()
    return None
