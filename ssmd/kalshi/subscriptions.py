"""Subscription planning (pure): which channels and markets go on which connection.

* Channels that need no market list go on connection 0 as one global subscription each:
  ``market_lifecycle_v2`` always (it takes no market filter), ``ticker``/``trade`` (and the
  private per-user channels) when the environment follows ``all`` markets.
* ``orderbook_delta`` always needs explicit tickers, and so do ``ticker``/``trade`` when the
  environment lists markets. Those markets are placed on connections of at most
  ``markets_per_connection`` markets, each channel split into subscriptions ("slots") of at
  most ``markets_per_subscription`` markets.
* A market that fits nowhere (``max_connections`` full) is never dropped silently: it waits
  in ``overflow`` (counted in ``overflowed_total``) and is placed as soon as room frees up.

``add``/``remove`` return the ``Change``s to apply to live connections (subscribe a new
slot, add/delete markets on an existing one, unsubscribe an emptied one). A (re)connected
connection subscribes ``subscriptions(conn)`` from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

import msgspec

ALWAYS_GLOBAL = frozenset({"market_lifecycle_v2", "multivariate_market_lifecycle"})
"""Channels that take no market filter."""
NEEDS_MARKETS = frozenset({"orderbook_delta"})
"""Channels that refuse a subscription without markets (error 14)."""

ChangeAction = Literal["subscribe", "add_markets", "delete_markets", "unsubscribe"]


class SubKey(NamedTuple):
    """One planned subscription: connection index, channel, slot (-1 = global)."""

    conn: int
    channel: str
    slot: int


class Change(msgspec.Struct, frozen=True):
    key: SubKey
    action: ChangeAction
    markets: tuple[str, ...] = ()


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    markets_per_subscription: int = 256
    markets_per_connection: int = 200
    max_connections: int = 10


class _Conn:
    __slots__ = ("markets", "next_slot", "slots")

    def __init__(self) -> None:
        self.markets: dict[str, None] = {}
        self.slots: dict[str, dict[int, dict[str, None]]] = {}
        self.next_slot: dict[str, int] = {}


class Planner:
    def __init__(self, channels: Iterable[str], markets: Literal["all"] | Iterable[str], limits: Limits) -> None:
        if limits.markets_per_subscription < 1 or limits.markets_per_connection < 1 or limits.max_connections < 1:
            raise ValueError("subscription limits must be at least 1")
        self.limits = limits
        follow_all = markets == "all"
        self.global_channels: list[str] = []
        self.market_channels: list[str] = []
        for channel in dict.fromkeys(channels):
            if channel in ALWAYS_GLOBAL or (follow_all and channel not in NEEDS_MARKETS):
                self.global_channels.append(channel)
            else:
                self.market_channels.append(channel)
        self._conns: list[_Conn] = [_Conn()]
        self._where: dict[str, int] = {}
        self.overflow: dict[str, None] = {}
        self.overflowed_total = 0
        if not follow_all:
            self.add(markets)

    # --- queries -------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    @property
    def markets(self) -> list[str]:
        """Every placed market (not the overflow)."""
        return list(self._where)

    def connection_markets(self, conn: int) -> int:
        """How many markets are placed on connection ``conn``."""
        return len(self._conns[conn].markets)

    def connection_of(self, ticker: str) -> int | None:
        return self._where.get(ticker)

    def subscriptions(self, conn: int) -> list[tuple[SubKey, tuple[str, ...] | None]]:
        """Everything connection ``conn`` subscribes to: (key, markets or None for global)."""
        out: list[tuple[SubKey, tuple[str, ...] | None]] = []
        if conn == 0:
            out.extend((SubKey(0, ch, -1), None) for ch in self.global_channels)
        state = self._conns[conn]
        for channel in self.market_channels:
            for slot, markets in state.slots.get(channel, {}).items():
                if markets:
                    out.append((SubKey(conn, channel, slot), tuple(markets)))
        return out

    def slot_markets(self, key: SubKey) -> tuple[str, ...] | None:
        if key.slot < 0:
            return None
        return tuple(self._conns[key.conn].slots.get(key.channel, {}).get(key.slot, {}))

    def channel_markets(self, channel: str) -> int:
        """How many markets ``channel`` covers explicitly (0 for a global channel)."""
        if channel not in self.market_channels:
            return 0
        return len(self._where)

    # --- changes -------------------------------------------------------------------

    def add(self, tickers: Iterable[str], *, _requeue: bool = False) -> list[Change]:
        if not self.market_channels:
            return []
        batch: dict[SubKey, list[str]] = {}
        created: set[SubKey] = set()
        for ticker in tickers:
            if ticker in self._where or ticker in self.overflow:
                continue
            conn = self._room()
            if conn is None:
                self.overflow[ticker] = None
                self.overflowed_total += 0 if _requeue else 1
                continue
            state = self._conns[conn]
            state.markets[ticker] = None
            self._where[ticker] = conn
            for channel in self.market_channels:
                slots = state.slots.setdefault(channel, {})
                slot = next((i for i, m in slots.items() if len(m) < self.limits.markets_per_subscription), None)
                if slot is None:
                    slot = state.next_slot.get(channel, 0)
                    state.next_slot[channel] = slot + 1
                    slots[slot] = {}
                    created.add(SubKey(conn, channel, slot))
                slots[slot][ticker] = None
                batch.setdefault(SubKey(conn, channel, slot), []).append(ticker)
        return [
            Change(key, "subscribe" if key in created else "add_markets", tuple(markets))
            for key, markets in batch.items()
        ]

    def remove(self, tickers: Iterable[str]) -> list[Change]:
        batch: dict[SubKey, list[str]] = {}
        emptied: set[SubKey] = set()
        for ticker in tickers:
            if self.overflow.pop(ticker, 0) is None:
                continue
            conn = self._where.pop(ticker, None)
            if conn is None:
                continue
            state = self._conns[conn]
            del state.markets[ticker]
            for channel, slots in state.slots.items():
                for slot, markets in list(slots.items()):
                    if markets.pop(ticker, 0) is None:
                        key = SubKey(conn, channel, slot)
                        batch.setdefault(key, []).append(ticker)
                        if not markets:
                            del slots[slot]
                            emptied.add(key)
        changes = [
            Change(key, "unsubscribe" if key in emptied else "delete_markets", tuple(markets))
            for key, markets in batch.items()
        ]
        if self.overflow and batch:
            waiting = list(self.overflow)
            self.overflow.clear()
            changes.extend(self.add(waiting, _requeue=True))
        return changes

    def _room(self) -> int | None:
        for i, state in enumerate(self._conns):
            if len(state.markets) < self.limits.markets_per_connection:
                return i
        if len(self._conns) < self.limits.max_connections:
            self._conns.append(_Conn())
            return len(self._conns) - 1
        return None
