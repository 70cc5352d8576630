"""One WebSocket connection's command handling and subscriptions (pure, no sockets).

Implements subscribe / unsubscribe / update_subscription / list_subscriptions with
Kalshi's responses and error codes, per-sid ``seq`` (not on ticker), snapshot-then-delta
for order books, ``send_initial_snapshot``, and the per-connection faults (skipped seq,
duplicated frames, extra fields, terminal errors).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import msgspec

from ssmd.fixed import format_price
from ssmd.simulator import frames
from ssmd.simulator.book import ONE
from ssmd.simulator.engine import Event

CHANNELS = frozenset({
    "orderbook_delta", "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2",
    "multivariate_market_lifecycle", "communications", "order_group_updates", "user_orders",
    "cfbenchmarks_value", "cfbenchmarks_value_5hz", "pyth_value",
})
PRIVATE = frozenset({
    "orderbook_delta", "fill", "market_positions", "communications", "order_group_updates",
    "user_orders", "cfbenchmarks_value", "cfbenchmarks_value_5hz", "pyth_value",
})
UNSEQUENCED = frozenset({"ticker", "fill", "user_orders", "market_positions"})
UPDATABLE = frozenset({"orderbook_delta", "ticker", "fill", "user_orders", "trade"})
GLOBAL_ONLY = frozenset({"market_lifecycle_v2", "multivariate_market_lifecycle"})
CONTROL = "control"

Out = tuple[str, bytes]
"""(channel for the counters, frame)."""


class World(Protocol):
    def snapshot_body(self, ticker: str, yes_price: bool) -> bytes | None: ...
    def ticker_body(self, ticker: str) -> bytes | None: ...
    def trading_tickers(self) -> list[str]: ...


class Sub:
    __slots__ = ("channel", "markets", "seq", "sid", "skip_ack", "yes_price")

    def __init__(self, sid: int, channel: str, markets: list[str] | None, skip_ack: bool, yes_price: bool) -> None:
        self.sid = sid
        self.channel = channel
        self.markets: dict[str, None] | None = None if markets is None else dict.fromkeys(markets)
        self.seq = 0
        self.skip_ack = skip_ack
        self.yes_price = yes_price


class CommandError(Exception):
    def __init__(self, code: int, **extra: Any) -> None:
        self.code = code
        self.extra = extra


class Session:
    def __init__(self, world: World, *, authenticated: bool, market_limit: int = 256) -> None:
        self.world = world
        self.authenticated = authenticated
        self.market_limit = market_limit
        self.subs: dict[int, Sub] = {}
        self.by_channel: dict[str, list[Sub]] = {}
        self.next_sid = 1
        self.skip: dict[str, int] = {}
        self.dup: dict[str, int] = {}
        self.refuse_snapshots = 0
        """The next n ``get_snapshot`` commands answer error 18 (command timeout)."""
        self.extra_fields = False

    # -- data fan-out ------------------------------------------------------------------
    def deliver(self, event: Event, out: list[Out]) -> None:
        subs = self.by_channel.get(event.channel)
        if not subs:
            return
        for sub in subs:
            if sub.markets is not None and event.ticker not in sub.markets:
                continue
            body = event.body
            if sub.yes_price and event.side == "no":
                body = frames.encode({**msgspec.json.decode(body), "price_dollars": format_price(ONE - event.price)})
            self._emit(sub, event.type, body, out)

    def _emit(self, sub: Sub, type_: str, body: bytes, out: list[Out], id_: int | None = None) -> None:
        seq = None
        channel = sub.channel
        if channel not in UNSEQUENCED:
            sub.seq += 1
            seq = sub.seq
        if self.skip.get(channel) and id_ is None:  # a lost frame: its seq is used, nothing is sent
            self.skip[channel] -= 1
            return
        if self.extra_fields:
            body = b'{"x_sim_extra":{"note":"unknown field"},' + body[1:]
        frame = frames.envelope(type_, sub.sid, seq, body, id_)
        if self.extra_fields:
            frame = frame[:-1] + b',"x_sim_envelope":true}'
        out.append((channel, frame))
        if self.dup.get(channel):
            self.dup[channel] -= 1
            out.append((channel, frame))

    def kill(self, channel: str, code: int) -> list[Out]:
        """A terminal error on every subscription of ``channel``; they go silent."""
        out: list[Out] = []
        for sub in list(self.by_channel.get(channel, ())):
            seq = None if channel in UNSEQUENCED else sub.seq
            out.append((channel, frames.error(code, sid=sub.sid, seq=seq)))
            self._drop(sub.sid)
        return out

    def _drop(self, sid: int) -> Sub:
        sub = self.subs.pop(sid)
        self.by_channel[sub.channel].remove(sub)
        return sub

    def has_data_subs(self) -> bool:
        return bool(self.subs)

    # -- commands ----------------------------------------------------------------------
    def handle(self, text: str | bytes) -> list[Out]:
        out: list[Out] = []
        try:
            cmd = msgspec.json.decode(text)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return [(CONTROL, frames.error(1))]
        if not isinstance(cmd, dict):
            return [(CONTROL, frames.error(1))]
        id_ = _id(cmd)
        name = cmd.get("cmd")
        try:
            if name == "subscribe":
                self._subscribe(id_, _params(cmd), out)
            elif name == "unsubscribe":
                self._unsubscribe(id_, _params(cmd), out)
            elif name == "update_subscription":
                self._update(id_, _params(cmd), out)
            elif name == "list_subscriptions":
                listing = [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]
                out.append((CONTROL, frames.control(_with_id(id_, {"type": "ok", "msg": listing}))))
            else:
                raise CommandError(5)
        except CommandError as exc:
            out.append((CONTROL, frames.error(exc.code, id_, **exc.extra)))
        return out

    def _markets(self, params: dict[str, Any]) -> list[str] | None:
        one, many = params.get("market_ticker"), params.get("market_tickers")
        if one is not None and many is not None:
            raise CommandError(11)
        if one is not None:
            if not isinstance(one, str) or not one:
                raise CommandError(11)
            return [one]
        if many is not None:
            if not isinstance(many, list) or not many or not all(isinstance(t, str) and t for t in many):
                raise CommandError(11)
            return list(dict.fromkeys(many))
        return None

    def _subscribe(self, id_: int | None, params: dict[str, Any], out: list[Out]) -> None:
        channels = params.get("channels")
        if not channels:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11)
        for channel in channels:
            if channel not in CHANNELS:
                raise CommandError(8)
            if channel in PRIVATE and not self.authenticated:
                raise CommandError(9)
        markets = self._markets(params)
        if params.get("market_id") is not None or params.get("market_ids") is not None:
            raise CommandError(11)  # market UUIDs are not accepted by the simulator
        if markets is None and "orderbook_delta" in channels:
            raise CommandError(14)
        if markets is not None and len(markets) > self.market_limit:
            raise CommandError(26, market_tickers=markets[self.market_limit:])
        skip_ack = bool(params.get("skip_ticker_ack"))
        yes_price = bool(params.get("use_yes_price"))
        for channel in channels:
            sub = Sub(self.next_sid, channel, None if channel in GLOBAL_ONLY else markets, skip_ack,
                      yes_price and channel == "orderbook_delta")
            self.next_sid += 1
            self.subs[sub.sid] = sub
            self.by_channel.setdefault(channel, []).append(sub)
            ack = {"type": "subscribed", "msg": {"channel": channel, "sid": sub.sid}}
            out.append((channel, frames.control(_with_id(id_, ack))))
            if channel == "orderbook_delta" and markets:
                self._snapshots(sub, markets, None, out)
            if channel == "ticker" and params.get("send_initial_snapshot"):
                self._tickers(sub, markets, out)

    def _snapshots(self, sub: Sub, markets: Iterable[str], id_: int | None, out: list[Out]) -> None:
        for ticker in markets:
            body = self.world.snapshot_body(ticker, sub.yes_price)
            if body is not None:
                self._emit(sub, "orderbook_snapshot", body, out, id_)

    def _tickers(self, sub: Sub, markets: Iterable[str] | None, out: list[Out]) -> None:
        for ticker in self.world.trading_tickers() if markets is None else markets:
            body = self.world.ticker_body(ticker)
            if body is not None:
                self._emit(sub, "ticker", body, out)

    def _unsubscribe(self, id_: int | None, params: dict[str, Any], out: list[Out]) -> None:
        sids = params.get("sids")
        if not sids:
            raise CommandError(4)
        if not isinstance(sids, list) or not all(isinstance(s, int) for s in sids):
            raise CommandError(11)
        unknown = [s for s in sids if s not in self.subs]
        for sid in sids:
            if sid in self.subs:
                sub = self._drop(sid)
                reply: dict[str, Any] = {"sid": sid}
                if sub.channel not in UNSEQUENCED:
                    reply["seq"] = sub.seq
                reply["type"] = "unsubscribed"
                out.append((sub.channel, frames.control(_with_id(id_, reply))))
        if unknown:
            raise CommandError(7)

    def _update(self, id_: int | None, params: dict[str, Any], out: list[Out]) -> None:
        sids = params.get("sids")
        if sids is None and params.get("sid") is not None:
            sids = [params["sid"]]
        if not isinstance(sids, list) or len(sids) != 1:
            raise CommandError(12)
        sub = self.subs.get(sids[0]) if isinstance(sids[0], int) else None
        if sub is None:
            raise CommandError(7)
        action = params.get("action")
        if not action:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot") or sub.channel not in UPDATABLE:
            raise CommandError(13)
        if action == "get_snapshot" and sub.channel != "orderbook_delta":
            raise CommandError(13)
        if action == "get_snapshot" and self.refuse_snapshots:
            self.refuse_snapshots -= 1
            raise CommandError(18)
        markets = self._markets(params)
        if markets is None:
            if action != "get_snapshot":
                raise CommandError(14)
            markets = list(sub.markets or ())
        if sub.markets is None:
            raise CommandError(11)
        added: list[str] = []
        if action == "add_markets":
            added = [t for t in markets if t not in sub.markets]
            if len(sub.markets) + len(added) > self.market_limit:
                raise CommandError(26, market_tickers=added)
            sub.markets.update(dict.fromkeys(added))
        elif action == "delete_markets":
            for t in markets:
                sub.markets.pop(t, None)
        reply: dict[str, Any] = {"sid": sub.sid}
        if sub.channel not in UNSEQUENCED:
            reply["seq"] = sub.seq
        reply["type"] = "ok"
        if not sub.skip_ack:
            reply["msg"] = {"market_tickers": list(sub.markets)}
        out.append((sub.channel, frames.control(_with_id(id_, reply))))
        if action == "get_snapshot":
            self._snapshots(sub, [t for t in markets if t in sub.markets], id_, out)
        elif sub.channel == "orderbook_delta" and added:
            self._snapshots(sub, added, None, out)
        elif sub.channel == "ticker" and added and params.get("send_initial_snapshot"):
            self._tickers(sub, added, out)


def _params(cmd: dict[str, Any]) -> dict[str, Any]:
    params = cmd.get("params")
    if params is None:
        raise CommandError(2)
    if not isinstance(params, dict):
        raise CommandError(11)
    return params


def _with_id(id_: int | None, obj: dict[str, Any]) -> dict[str, Any]:
    return obj if id_ is None else {"id": id_, **obj}


def _id(cmd: dict[str, Any]) -> int | None:
    raw = cmd.get("id")
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw != 0 else None


def command_id(text: str | bytes) -> int | None:
    """The ``id`` of a command frame, if it has a usable one."""
    try:
        cmd = msgspec.json.decode(text)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return _id(cmd) if isinstance(cmd, dict) else None
