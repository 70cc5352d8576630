"""Who gets what: the index from market to subscribed sessions, and the fan-out.

``publish(update, now)`` hands one live message to every session subscribed to its
market (or to ``"*"``) without awaiting anything: each session queues it per its mode and
drop policy, and its own writer task sends it. A slow client therefore never holds back
the transport consumer or the other clients. The message's frame is rendered on first use
(``Update.data``), once for all its sessions: a record of a market nobody subscribed to
is never rendered.
"""

from __future__ import annotations

from collections.abc import Callable

from ssmd import metrics
from ssmd.gateway.protocol import WILDCARD
from ssmd.gateway.session import Session
from ssmd.gateway.state import Update

_DROP_REASONS = {"dropped_oldest": "drop_oldest", "dropped_newest": "drop_newest", "disconnect": "disconnect"}


class Router:
    def __init__(self, full_book: Callable[[str], bytes]) -> None:
        self.by_symbol: dict[str, set[Session]] = {}
        """Sessions by subscribed symbol (``"*"`` included); never replaced, and empty when
        nobody subscribed to anything."""
        self.full_book = full_book
        self.sessions: dict[str, Session] = {}
        self._dropped = {r: metrics.GATEWAY_DROPPED.labels(reason=r) for r in _DROP_REASONS.values()}

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session

    def remove(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        self.unsubscribe(session, list(session.symbols))

    def subscribe(self, session: Session, symbols: list[str]) -> list[str]:
        new = session.subscribe(symbols)
        for s in new:
            subscribers = self.by_symbol.setdefault(s, set())
            subscribers.add(session)
            metrics.GATEWAY_SUBSCRIPTIONS.labels(symbol=s).set(len(subscribers))
        return new

    def unsubscribe(self, session: Session, symbols: list[str]) -> list[str]:
        gone = session.unsubscribe(symbols)
        for s in gone:
            subscribers = self.by_symbol.get(s)
            if subscribers is None:
                continue
            subscribers.discard(session)
            if subscribers:
                metrics.GATEWAY_SUBSCRIPTIONS.labels(symbol=s).set(len(subscribers))
            else:
                del self.by_symbol[s]
                try:
                    metrics.GATEWAY_SUBSCRIPTIONS.remove(s)
                except KeyError:
                    pass
        return gone

    def publish(self, update: Update, now: float) -> int:
        """Queue ``update`` for its subscribers; returns how many got it."""
        direct = self.by_symbol.get(update.ticker)
        wild = self.by_symbol.get(WILDCARD)
        if direct and wild:
            targets: set[Session] | list[Session] = direct | wild
        else:
            targets = direct or wild or ()  # type: ignore[assignment]
        n = 0
        for session in targets:
            if session.state != "open":
                continue
            outcome = session.offer(update, now, self.full_book)
            if outcome != "queued":
                self._dropped[_DROP_REASONS[outcome]].inc()
            n += 1
        return n
