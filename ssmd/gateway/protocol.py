"""The client protocol: parsing client actions and building replies (pure, no I/O).

A client sends one JSON object per frame with an ``action``: ``auth``, ``subscribe``,
``unsubscribe``, ``snapshot`` or ``replay``. ``parse_action`` turns a frame into one of
the Structs below or raises ``BadRequest`` with a reason a person can act on; the
connection stays up either way. Replies echo the request as ``request`` (and a client
``id`` as ``id``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from ssmd.errors import ProtocolError
from ssmd.gateway.frames import text_frame

Mode = Literal["realtime", "conflated", "latest"]
MODES: tuple[str, ...] = ("realtime", "conflated", "latest")
ACTIONS: tuple[str, ...] = ("auth", "subscribe", "unsubscribe", "snapshot", "replay")
WILDCARD = "*"
MAX_SYMBOLS = 10_000
MAX_TICKER_LEN = 128
DEFAULT_INTERVAL_MS = 250
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_encoder = msgspec.json.Encoder()


class BadRequest(ProtocolError):
    """A client frame the gateway cannot act on; answered with an ``error`` message."""

    def __init__(self, reason: str, request: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request = request


class Auth(msgspec.Struct, kw_only=True):
    key: str


class Subscribe(msgspec.Struct, kw_only=True):
    symbols: list[str]
    mode: Mode = "realtime"
    interval_ms: int = DEFAULT_INTERVAL_MS


class Unsubscribe(msgspec.Struct, kw_only=True):
    symbols: list[str]


class Snapshot(msgspec.Struct, kw_only=True):
    symbols: list[str]


class Replay(msgspec.Struct, kw_only=True):
    symbols: list[str]
    date: str
    start: str | int | None = msgspec.field(default=None, name="from")
    end: str | int | None = msgspec.field(default=None, name="to")
    speed: float = 1.0
    """1 = as recorded, 10 = ten times faster, 0 = as fast as the client reads."""


Action = Auth | Subscribe | Unsubscribe | Snapshot | Replay
_TYPES: dict[str, type[Action]] = {
    "auth": Auth, "subscribe": Subscribe, "unsubscribe": Unsubscribe, "snapshot": Snapshot, "replay": Replay,
}


class Request(msgspec.Struct):
    """A parsed client frame: the action, the object as sent (for echoing) and its ``id``."""

    action: Action
    raw: dict[str, Any]
    id: Any = None


def parse_action(frame: str | bytes, *, max_bytes: int) -> Request:
    """Parse one client frame. Raises ``BadRequest`` naming what is wrong."""
    size = len(frame.encode() if isinstance(frame, str) else frame)
    if size > max_bytes:
        raise BadRequest(f"frame too large: {size} bytes (limit {max_bytes})")
    try:
        obj = msgspec.json.decode(frame)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest("a request must be a JSON object with an \"action\"", obj)
    action = obj.get("action")
    if not isinstance(action, str) or action not in _TYPES:
        raise BadRequest(f"unknown action {action!r} (expected one of: {', '.join(ACTIONS)})", obj)
    fields = {k: v for k, v in obj.items() if k not in ("action", "id")}
    try:
        parsed = msgspec.convert(fields, _TYPES[action], strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"{action}: {exc}", obj) from None
    _check(parsed, obj)
    return Request(parsed, obj, obj.get("id"))


def _check(action: Action, raw: dict[str, Any]) -> None:
    if isinstance(action, Auth):
        return
    symbols = action.symbols
    name = raw["action"]
    if not symbols:
        raise BadRequest(f"{name}: symbols is empty", raw)
    if len(symbols) > MAX_SYMBOLS:
        raise BadRequest(f"{name}: too many symbols ({len(symbols)} > {MAX_SYMBOLS})", raw)
    for s in symbols:
        problem = symbol_problem(s)
        if problem:
            raise BadRequest(f"{name}: symbol {s[:MAX_TICKER_LEN]!r} {problem}", raw)
    if isinstance(action, Subscribe) and not 1 <= action.interval_ms <= 3_600_000:
        raise BadRequest(f"subscribe: interval_ms must be between 1 and 3600000, got {action.interval_ms}", raw)
    if isinstance(action, Replay):
        if WILDCARD in symbols:
            raise BadRequest("replay: name the symbols to replay (\"*\" is not allowed)", raw)
        if not _DATE.match(action.date):
            raise BadRequest(f"replay: date must be YYYY-MM-DD, got {action.date!r}", raw)
        if action.speed < 0:
            raise BadRequest(f"replay: speed must be >= 0, got {action.speed}", raw)


def symbol_problem(symbol: str) -> str | None:
    """Why ``symbol`` cannot be a ticker, or None."""
    if not symbol:
        return "is empty"
    if len(symbol) > MAX_TICKER_LEN:
        return f"is longer than {MAX_TICKER_LEN} characters"
    if not symbol.isprintable() or " " in symbol:  # the only white space str.isprintable() allows
        return "holds white space or control characters"
    return None


def symbols_from_query(query: str | None) -> list[str]:
    """The ``symbols=A,B`` parameter of the stream URL (already URL-decoded pairs)."""
    from urllib.parse import parse_qs

    if not query:
        return []
    out: list[str] = []
    for value in parse_qs(query).get("symbols", []):
        out.extend(s for s in (p.strip() for p in value.split(",")) if s)
    return out


def encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message)


def reply(kind: str, request: Request | None, **fields: Any) -> bytes:
    """``subscribed`` / ``unsubscribed`` / ``authenticated`` / ``replay_*`` replies, as frames."""
    out: dict[str, Any] = {"type": kind, **fields}
    if request is not None:
        if request.id is not None:
            out["id"] = request.id
        out["request"] = request.raw
    return text_frame(encode(out))


def error(reason: str, request: Any = None) -> bytes:
    out: dict[str, Any] = {"type": "error", "error": reason}
    if isinstance(request, dict) and "id" in request:
        out["id"] = request["id"]
    if request is not None:
        out["request"] = request
    return text_frame(encode(out))
