"""Admission of new connections: a budget per second, refused before any WebSocket work.

A reconnect storm (or an attacker opening thousands of sockets) would otherwise spend the
event loop on HTTP parsing, handshakes and task set-up while the fan-out to connected
clients waits. ``connection_class`` gives websockets a ``ServerConnection`` whose
``connection_made`` asks a token bucket first: an attempt over the budget gets a canned
``HTTP 503`` (with ``Retry-After`` and a JSON reason) and a lingering close, and never
reaches the handshake, the handler or the logs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from websockets.asyncio.server import ServerConnection

from ssmd import metrics
from ssmd.bucket import TokenBucket

RETRY_AFTER_SECONDS = 1
LINGER_SECONDS = 2.0
"""How long a refused connection may take to send its request before it is cut."""


def busy_response(rate: float) -> bytes:
    body = msgspec.json.encode({
        "error": f"too many new connections: the gateway admits {rate:g} per second; "
                 f"retry after {RETRY_AFTER_SECONDS} s"})
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: {RETRY_AFTER_SECONDS}\r\n"
            f"Cache-Control: no-store\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def connection_class(rate: float, burst: int) -> type[ServerConnection]:
    """A ``ServerConnection`` admitting at most ``rate`` new connections per second
    (``burst`` at once); ``rate`` 0 admits all."""
    if rate <= 0:
        return ServerConnection
    bucket = TokenBucket(rate, max(1, burst))
    response = busy_response(rate)
    refused = metrics.GATEWAY_REFUSED.labels(reason="busy")

    class AdmittingConnection(ServerConnection):
        refused_transport: Any = None
        linger: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if bucket.take(asyncio.get_running_loop().time()):
                super().connection_made(transport)
                return
            refused.inc()
            assert isinstance(transport, asyncio.Transport)
            self.refused_transport = transport
            transport.write(response)
            if transport.can_write_eof():
                transport.write_eof()  # the request may still arrive: read it, so no RST eats the reply
            self.linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.abort)

        def data_received(self, data: bytes) -> None:
            if self.refused_transport is None:
                super().data_received(data)

        def eof_received(self) -> None:  # a refused connection: returning None closes the transport
            if self.refused_transport is None:
                super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.refused_transport is None:
                super().connection_lost(exc)
            elif self.linger is not None:
                self.linger.cancel()

        def pause_writing(self) -> None:
            if self.refused_transport is None:
                super().pause_writing()

        def resume_writing(self) -> None:
            if self.refused_transport is None:
                super().resume_writing()

    return AdmittingConnection
