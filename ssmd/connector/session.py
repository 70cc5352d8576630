"""Protocol state of one WebSocket connection (pure: no I/O, time passed in).

Which command asked for which subscription, the sid of each planned subscription, seq
tracking, order books waiting for a fresh snapshot, and what to do about acks, errors
and gaps. Commands to send pile up in ``outbox``; gap events in ``events`` (the
connection sends and publishes them).
"""

from __future__ import annotations

from typing import Literal

from ssmd.kalshi import wire
from ssmd.kalshi.commands import Commands
from ssmd.kalshi.seq import SeqGap, SeqTracker
from ssmd.kalshi.subscriptions import Change, Planner, SubKey
from ssmd.log import get_logger
from ssmd.status import GapInfo

log = get_logger("connector")
TERMINAL_ERRORS = frozenset({10, 25})
"""Subscription errors after which the subscription is dead: resubscribe."""

GapEvent = tuple[Literal["record"], GapInfo] | tuple[Literal["start"], object, list[GapInfo]] | tuple[
    Literal["end"], object, int
]


class Session:
    def __init__(self, index: int, planner: Planner) -> None:
        self.index = index
        self.planner = planner
        self.commands = Commands()
        self.tracker = SeqTracker()
        self.sid_key: dict[int, SubKey] = {}
        self.key_sid: dict[SubKey, int] = {}
        self.sid_channel: dict[int, str] = {}
        self._cmd_key: dict[int, SubKey] = {}
        self._sent: dict[SubKey, tuple[str, ...] | None] = {}
        self.awaiting: set[SubKey] = set()
        self.ready = False
        """Every subscription planned at connect time has been answered."""
        self.retired: set[int] = set()
        """Sids ended by us or by a terminal error: late frames are kept raw, not normalized."""
        self.resync: dict[str, int] = {}
        """Order-book markets whose deltas are discarded until a fresh snapshot (-> sid)."""
        self.outbox: list[str] = []
        self.events: list[GapEvent] = []
        self.refused: list[str] = []
        """Reasons of refused subscribe commands (for the operator)."""
        self.rest_books: list[tuple[int, tuple[str, ...], str]] = []
        """(sid, markets, reason): books to read from REST because a WS resnapshot failed."""
        self.control_frames = 0
        """Command responses received (subscribed, ok, unsubscribed, error)."""
        self.skipped = 0
        """Seqs jumped over by gaps (the freeze watch counts frames from the seqs)."""

    # --- subscribing -------------------------------------------------------------------

    def start(self, now_ns: int) -> None:
        """Subscribe everything planned for this connection."""
        for key, markets in self.planner.subscriptions(self.index):
            self._subscribe(key, markets)
            self.awaiting.add(key)
        self._check_ready(now_ns)

    def _subscribe(self, key: SubKey, markets: tuple[str, ...] | None) -> None:
        command = self.commands.subscribe(key.channel, markets)
        self._cmd_key[command.id] = key
        self._sent[key] = markets
        self.outbox.append(command.text())

    def apply(self, change: Change) -> None:
        """A live change of the plan for this connection."""
        key = change.key
        if change.action == "subscribe":
            self._subscribe(key, change.markets)
            return
        if change.action == "delete_markets" or change.action == "unsubscribe":
            for ticker in change.markets:
                self.resync.pop(ticker, None)
        sid = self.key_sid.get(key)
        if sid is None:
            return  # the subscribe is in flight: reconciled when its ack arrives
        if change.action == "unsubscribe":
            del self.key_sid[key]
            self.retired.add(sid)
            self.outbox.append(self.commands.unsubscribe([sid]).text())
        else:
            self.outbox.append(self.commands.update_subscription(sid, change.action, change.markets).text())

    def _check_ready(self, now_ns: int) -> None:
        if not self.ready and not self.awaiting:
            self.ready = True
            self.events.append(("end", ("outage", self.index), now_ns))

    # --- responses ---------------------------------------------------------------------

    def on_subscribed(self, msg: wire.Subscribed, now_ns: int) -> str:
        """Map the new sid; returns the channel."""
        self.control_frames += 1
        self.commands.answered(msg.id)
        key = self._cmd_key.pop(msg.id, None) if msg.id is not None else None
        sid = msg.msg.sid if msg.msg is not None and msg.msg.sid is not None else msg.sid
        channel = (msg.msg.channel if msg.msg is not None else None) or (key.channel if key else None) or "control"
        if sid is not None:
            self.sid_channel[sid] = channel
            self.tracker.forget(sid)
        if key is None:
            return channel
        if sid is not None:
            self.sid_key[sid] = key
            self.key_sid[key] = sid
        self.events.append(("end", ("error", key), now_ns))
        self.awaiting.discard(key)
        self._reconcile(key, sid)
        self._check_ready(now_ns)
        return channel

    def _reconcile(self, key: SubKey, sid: int | None) -> None:
        """Markets added or removed while the subscribe was in flight."""
        sent = self._sent.pop(key, None)
        if sent is None or sid is None:
            return
        current = self.planner.slot_markets(key) or ()
        if not current:
            self.key_sid.pop(key, None)
            self.retired.add(sid)
            self.outbox.append(self.commands.unsubscribe([sid]).text())
            return
        added = [m for m in current if m not in sent]
        gone = [m for m in sent if m not in current]
        if added:
            self.outbox.append(self.commands.update_subscription(sid, "add_markets", added).text())
        if gone:
            self.outbox.append(self.commands.update_subscription(sid, "delete_markets", gone).text())

    def on_ok(self, msg: wire.Ok) -> None:
        self.control_frames += 1
        self.commands.answered(msg.id)
        if msg.sid is not None and msg.seq is not None:
            self.tracker.control(msg.sid, msg.seq)

    def on_unsubscribed(self, msg: wire.Unsubscribed) -> None:
        self.control_frames += 1
        self.commands.answered(msg.id)
        if msg.sid is not None:
            key = self.sid_key.pop(msg.sid, None)
            if key is not None and self.key_sid.get(key) == msg.sid:
                del self.key_sid[key]
            self.tracker.forget(msg.sid)

    def on_error(self, msg: wire.Error, now_ns: int) -> str:
        """Handle an error frame; returns a description for the logs and counters."""
        self.control_frames += 1
        command = self.commands.answered(msg.id)
        reason = msg.reason
        if command is not None and command.cmd == "subscribe":
            key = self._cmd_key.pop(command.id, None)
            if key is not None:
                self._sent.pop(key, None)
                self.awaiting.discard(key)
                self.refused.append(f"{key.channel}: {reason}")
                log.error("subscribe refused", channel=key.channel, error=reason)
                self._check_ready(now_ns)
            return reason
        if msg.code in TERMINAL_ERRORS and msg.sid is not None:
            self._resubscribe(msg.sid, reason, now_ns)
        elif command is not None and command.params and command.params.get("action") == "get_snapshot":
            # no fresh snapshot is coming over the WebSocket: read the books from REST instead
            sid = command.params["sids"][0]
            if sid in self.sid_key:
                markets = tuple(command.params.get("market_tickers") or ())
                self.rest_books.append((sid, markets, f"get_snapshot refused: {reason}"))
        return reason

    def rest_book_done(self, sid: int, ticker: str) -> None:
        """A REST snapshot of ``ticker`` was published: its deltas count again."""
        if self.resync.get(ticker) == sid:
            del self.resync[ticker]

    def rest_books_failed(self, sid: int, reason: str, now_ns: int) -> None:
        """REST could not give the books either: start the subscription over (its books with it)."""
        if sid in self.sid_key:
            self.outbox.append(self.commands.unsubscribe([sid]).text())
            self._resubscribe(sid, reason, now_ns)

    def _resubscribe(self, sid: int, reason: str, now_ns: int) -> None:
        key = self.sid_key.pop(sid, None)
        self.tracker.forget(sid)
        self.retired.add(sid)
        channel = self.sid_channel.get(sid, "unknown")
        if key is None:
            log.warning("terminal error on an unknown subscription", sid=sid, error=reason)
            return
        self.key_sid.pop(key, None)
        markets = self.planner.slot_markets(key)
        gap = GapInfo(kind="error", channel=channel, start_ns=now_ns, sid=sid, cause=reason,
                      markets=list(markets or ()))
        self.events.append(("start", ("error", key), [gap]))
        if markets is None or markets:
            self._subscribe(key, markets)
        if key.channel == "orderbook_delta":
            for ticker in markets or ():
                self.resync[ticker] = sid  # books are untrustworthy until the new snapshot

    def on_gap(self, gap: SeqGap) -> None:
        """A hole in ``gap.sid``'s numbering: record it; order books ask for snapshots."""
        self.skipped += gap.missing
        key = self.sid_key.get(gap.sid)
        channel = self.sid_channel.get(gap.sid, key.channel if key else "unknown")
        info = GapInfo(kind="seq", channel=channel, start_ns=gap.at_ns, end_ns=gap.at_ns, sid=gap.sid,
                       expected=gap.expected, received=gap.received, cause="seq gap")
        if channel == "orderbook_delta" and key is not None:
            markets = self.planner.slot_markets(key) or ()
            if markets:
                self.outbox.append(self.commands.update_subscription(gap.sid, "get_snapshot", markets).text())
                for ticker in markets:
                    self.resync[ticker] = gap.sid
                info.markets = list(markets)
                info.cause = "seq gap: snapshot requested"
        elif key is not None:
            info.markets = list(self.planner.slot_markets(key) or ())  # [] = every market
        self.events.append(("record", info))
