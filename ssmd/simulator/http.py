"""The HTTP side of the simulator's one port: upgrade authentication and REST reads.

websockets calls ``process_request`` for every request. Requests under ``/trade-api/v2``
get a JSON answer (never upgraded); the upgrade at ``/trade-api/ws/v2`` is checked against
the configured public keys and refused with 401 (or 403 ``Forbidden\\n``) on failure.

REST market-data reads are public, so an unsigned request is served. A signed one (real
clients sign every request) is verified like Kalshi does unless ``auth`` is ``open``: the
string to sign is ``timestamp + GET + path`` (the path from ``/trade-api/v2``, no query),
and a failure answers 401 with Kalshi's nested error body (``authentication_error`` with
``details`` ``INCORRECT_API_KEY_SIGNATURE`` / ``NOT_FOUND``, or ``header_timestamp_expired``).
"""

from __future__ import annotations

import email.utils
import http
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ssmd.kalshi.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WS_PATH, verify
from ssmd.simulator import rest, rest_data

if TYPE_CHECKING:
    from ssmd.simulator.simulator import Simulator

REST_PREFIX = "/trade-api/v2"
TOO_MANY = b'{"error": "too many requests"}'
_STALE = ("stale timestamp", "timestamp is not in milliseconds")
_DETAILS = {"bad signature": "INCORRECT_API_KEY_SIGNATURE", "unknown key id": "NOT_FOUND"}


def response(status: int, body: bytes, content_type: str = "application/json") -> Response:
    code = http.HTTPStatus(status)
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Content-Type", content_type),
    ])
    return Response(code.value, code.phrase, headers, body)


def _query(text: str) -> dict[str, str]:
    """Query parameters; a repeated one (``tickers=a&tickers=b``) joins as ``a,b``."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(text):
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


class HttpSide:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.authenticated: dict[ServerConnection, bool] = {}
        self.rest_verified = 0
        """Signed REST requests whose signature was checked and good."""
        self.rest_refused = 0
        """Signed REST requests refused (401) for a bad key, signature or timestamp."""

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == WS_PATH:
            return self._upgrade(connection, request)
        if url.path == REST_PREFIX or url.path.startswith(REST_PREFIX + "/"):
            return self._rest(unquote(url.path[len(REST_PREFIX):]), _query(url.query), request.headers, url.path)
        return response(404, b'{"error": {"code": "not_found", "message": "no such path", "details": ""}}')

    # -- REST ---------------------------------------------------------------------------
    def _rest(self, path: str, query: dict[str, str], headers: Any, signed_path: str) -> Response:
        sim = self.sim
        sim.rest_requests += 1
        faults = sim.faults
        if faults.rest_fail > 0:
            faults.rest_fail -= 1
            return response(faults.rest_fail_status, TOO_MANY if faults.rest_fail_status == 429 else b"{}")
        reason = self._check(headers, signed_path)
        if reason:
            self.rest_refused += 1
            sim.log.info("rest request refused", path=signed_path, reason=reason)
            code = "header_timestamp_expired" if reason in _STALE else "authentication_error"
            body = {"error": {"code": code, "message": reason, "details": _DETAILS.get(reason, "")}}
            return response(401, msgspec.json.encode(body))
        if reason is None and sim.settings.auth != "open":
            self.rest_verified += 1
        if not sim.bucket.take(sim.loop_time(), sim.settings.rest_cost):
            sim.rest_throttled += 1
            return response(429, TOO_MANY)
        reply = rest_data.route(sim.venue(), path, query)
        if reply is None:
            reply = rest.route(sim.engine.universe, sim.engine.books, path, query, sim.hidden)
        return response(reply[0], msgspec.json.encode(reply[1]))

    # -- WebSocket upgrade ----------------------------------------------------------------
    def _upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        settings = self.sim.settings
        if self.sim.in_outage():
            self.sim.refused += 1
            return response(503, b"Service Unavailable\n", "text/plain")
        reason = "refused (fault injection)" if self.sim.faults.refuse_auth else self._check(request.headers)
        if reason is None:
            self.authenticated[connection] = True
            return None
        if reason == "" and settings.auth != "required":
            self.authenticated[connection] = settings.auth == "open"
            return None
        self.sim.refused += 1
        self.sim.log.info("upgrade refused", reason=reason or "missing KALSHI-ACCESS-* headers")
        if settings.refuse_status == 403:
            return response(403, b"Forbidden\n", "text/plain")
        text = f"401 Unauthorized: {reason or 'missing KALSHI-ACCESS-* headers'}\n"
        return response(settings.refuse_status, text.encode(), "text/plain; charset=utf-8")

    def _check(self, headers: Any, path: str = WS_PATH) -> str | None:
        """None when the signature (of ``GET path``) is good, "" when there are no auth
        headers, else why not."""
        settings = self.sim.settings
        key_id = headers.get(KEY_HEADER)
        stamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if key_id is None and stamp is None and signature is None:
            return ""
        if settings.auth == "open":
            return None
        if not key_id or not stamp or not signature:
            return "incomplete KALSHI-ACCESS-* headers"
        key = self.sim.public_keys.get(key_id)
        if key is None:
            return "unknown key id"
        if not stamp.isdigit():
            return "timestamp is not an integer"
        ts = int(stamp)
        if ts < 10**12:
            return "timestamp is not in milliseconds"
        now_ms = self.sim.settings.clock.now_ns() // 1_000_000
        if abs(now_ms - ts) > settings.max_skew_seconds * 1000:
            return "stale timestamp"
        if not verify(key, stamp, "GET", path, signature):
            return "bad signature"
        return None
