"""The port's front door: the opening request (auth, REST or upgrade) and each client.

Requests to ``/v1/stream`` become WebSocket connections; every other path is REST. With
client keys configured, a request must carry ``X-API-Key`` with one of them, or it gets
401. A browser cannot set that header; a request with an ``Origin`` header and no key is
upgraded and must send ``{"action":"auth","key":...}`` as its first message.
"""

from __future__ import annotations

import http
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ssmd import metrics
from ssmd.gateway import protocol as proto
from ssmd.gateway.buffer import ClientBuffer
from ssmd.gateway.connection import ClientConnection
from ssmd.gateway.session import Session
from ssmd.log import get_logger

if TYPE_CHECKING:
    from ssmd.gateway.service import Gateway

STREAM_PATH = "/v1/stream"
log = get_logger("gateway")


def json_response(status: int, body: Any) -> Response:
    data = msgspec.json.encode(body)
    headers = Headers([
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
        ("Cache-Control", "no-store"),
    ])
    return Response(status, http.HTTPStatus(status).phrase, headers, data)


async def process_request(gw: Gateway, connection: Any, request: Request) -> Response | None:
    path = urlsplit(request.path).path
    key = request.headers.get("X-API-Key")
    if path == STREAM_PATH:
        if gw._state != "running":
            metrics.GATEWAY_REFUSED.labels(reason="stopping").inc()
            return json_response(503, {"error": "gateway is not accepting connections"})
        if gw._auth and (key is not None or "Origin" not in request.headers) and not gw.check_key(key):
            return _unauthorized()
        return None
    if not gw.check_key(key):
        return _unauthorized()
    reply = await gw.rest.handle(request.path)
    return json_response(reply.status, reply.body)


def _unauthorized() -> Response:
    metrics.GATEWAY_REFUSED.labels(reason="auth").inc()
    return json_response(401, {"error": "missing or invalid X-API-Key"})


def _peer(ws: Any) -> str:
    addr = ws.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


async def handle_client(gw: Gateway, ws: Any) -> None:
    cfg = gw.env.gateway
    key = ws.request.headers.get("X-API-Key")
    authed = not gw._auth or (key is not None and gw.check_key(key))
    session = Session(
        f"c{next(gw._ids)}", _peer(ws), connected_at=gw.clock.now_ns(),
        buffer=ClientBuffer(cfg.buffer_messages, cfg.buffer_bytes, cfg.drop_policy), authenticated=authed)
    conn = ClientConnection(gw, ws, session)
    gw.connections[session.id] = conn
    gw.router.add(session)
    gw._idle.clear()
    metrics.GATEWAY_CLIENTS.set(len(gw.connections))
    log.info("client connected", client=session.id, peer=session.peer)
    try:
        await conn.serve(proto.symbols_from_query(urlsplit(ws.request.path).query))
    finally:
        gw.router.remove(session)
        gw.connections.pop(session.id, None)
        gw.client_left(session)
        metrics.GATEWAY_CLIENTS.set(len(gw.connections))
        reason = _disconnect_reason(session.close_code, session.close_reason)
        metrics.GATEWAY_DISCONNECTS.labels(reason=reason).inc()
        log.info("client disconnected", client=session.id, reason=session.close_reason or reason,
                 sent=session.sent, dropped=session.buffer.dropped)
        if not gw.connections:
            gw._idle.set()


def _disconnect_reason(code: int, reason: str) -> str:
    if code == 1001:
        return "drain"
    if "too slow" in reason or "not reading" in reason:
        return "slow"
    if "auth" in reason or "API key" in reason:
        return "auth"
    if "too many requests" in reason:
        return "abuse"
    if "operator" in reason:
        return "operator"
    return "client"
