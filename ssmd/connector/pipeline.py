"""The hot path: one frame in -> raw frame, normalized records (or a dead letter) out.

For every frame, in order: decode once (``ssmd.kalshi.wire``), check the seq of sequenced
messages, let the session react to command responses, normalize, then publish the raw
frame unchanged to ``{env}.{feed}.raw.{channel}`` and each record Cap'n Proto encoded to
``{env}.{feed}.{type}.{ticker}``. A frame that cannot be used goes to the dead-letter
subject with its raw bytes. Duplicates and order-book deltas awaiting a snapshot are
published raw but not normalized. Publishing is idempotent per frame (``msg_id``), so a
failed frame is retried whole. A read batch goes out at once: one ``publish_batch_nowait``
on the memory bus, one pipelined ``publish_many`` elsewhere (NATS).
"""

from __future__ import annotations

from typing import Any

from ssmd.codec import encode
from ssmd.connector.session import Session
from ssmd.connector.stats import Stats
from ssmd.errors import BackendError
from ssmd.kalshi import wire
from ssmd.kalshi.normalize import Problem, normalize
from ssmd.kalshi.seq import SeqResult
from ssmd.log import get_logger
from ssmd.middleware.transport.base import Transport
from ssmd.records import Record
from ssmd.retry import backoff
from ssmd.subjects import dlq_subject, parse_record_subject, raw_subject, record_subject

Publish = tuple[str, bytes, dict[str, str] | None, str | None]
"""(subject, data, headers, msg_id), as ``Transport.publish`` takes them."""

log = get_logger("connector")

_TYPE_NAME: dict[type, str] = {t: t.__struct_config__.tag for t in (*wire.DATA_TYPES, *wire.CONTROL_TYPES)}  # type: ignore[misc]
_SEQUENCED = frozenset({wire.Trade, wire.OrderbookSnapshot, wire.OrderbookDelta, wire.MarketLifecycle,
                        wire.EventLifecycle, wire.EventFeeUpdate})
_BOOK = (wire.OrderbookSnapshot, wire.OrderbookDelta)
_TIMED = frozenset({wire.Ticker, wire.Trade, wire.OrderbookDelta})
_SUBJECT_CACHE_MAX = 200_000
_PUBLISH_ATTEMPTS = 8
_NONE: list[Record] = []
_DUPLICATE, _GAP = SeqResult.DUPLICATE, SeqResult.GAP
"""As constants: looking up an Enum member costs ~70 ns, per frame."""


class FramePipeline:
    def __init__(self, env: str, feed: str, transport: Transport, stats: Stats, session: Session,
                 conn_id: str) -> None:
        self.env = env
        self.feed = feed
        self.transport = transport
        self.stats = stats
        self.session = session
        self.conn_id = conn_id
        self.frames = 0
        self._raw_subjects: dict[str, str] = {}
        self._record_subjects: dict[tuple[str, str], str] = {}
        self._dlq = dlq_subject(env, "connector")
        self._nowait = getattr(transport, "publish_nowait", None)
        self._batch_nowait = getattr(transport, "publish_batch_nowait", None) if self._nowait else None
        """Synchronous publishing when the transport has it (the memory bus): no coroutine
        per message, one store per batch."""

    async def process(self, batch: list[tuple[bytes, int]]) -> None:
        out: list[Publish] = []
        """This batch's messages for the memory bus, stored together at the end (the
        session's reactions, gaps and snapshot requests, are handled after the batch anyway);
        also what was prepared before an unexpected error, as single publishes would have."""
        pending: list[Publish] = []
        """Messages of this batch for a transport without ``publish_nowait`` (NATS): sent
        together, pipelined, once the batch is read."""
        try:
            self._prepare(batch, out, pending)
        finally:
            if out:
                self._store(out)
        if pending:
            await self._send(pending)

    def _prepare(self, batch: list[tuple[bytes, int]], out: list[Publish], pending: list[Publish]) -> None:
        """Decode, check, normalize and encode each frame; its messages go to ``out`` (memory
        bus) or ``pending`` (other transports)."""
        session = self.session
        tracker = session.tracker
        stats = self.stats
        received = stats.received
        sid_channel = session.sid_channel
        conn = self.conn_id
        decode = wire.decode
        raw_subjects = self._raw_subjects
        record_subjects = self._record_subjects
        records = stats.records
        append = out.append
        batch_nowait = self._batch_nowait
        for frame, received_at in batch:
            self.frames += 1
            n = self.frames
            msg = decode(frame)
            cls = type(msg)
            sid: int | None = getattr(msg, "sid", None)
            seq: int | None = None
            normal = True
            if cls in _SEQUENCED:
                seq = msg.seq  # type: ignore[union-attr]
                if session.retired and sid in session.retired:
                    normal = False
                elif sid is not None and seq is not None:
                    result = tracker.check(sid, seq, received_at)
                    if result is _DUPLICATE:
                        stats.duplicates += 1
                        normal = False
                    elif result is _GAP:
                        session.on_gap(tracker.last_gap)  # type: ignore[arg-type]
                if normal and session.resync and cls in _BOOK:
                    ticker = msg.msg.market_ticker  # type: ignore[union-attr]
                    if ticker in session.resync:
                        if cls is wire.OrderbookDelta:
                            stats.discarded += 1
                            normal = False
                        else:
                            del session.resync[ticker]
                type_name = _TYPE_NAME[cls]
                channel = sid_channel.get(sid, "") if sid is not None else ""
                channel = channel or wire.CHANNEL_OF_TYPE[type_name]
            elif cls is wire.Ticker:
                type_name = "ticker"
                channel = (sid_channel.get(sid) if sid is not None else None) or "ticker"
            elif cls is wire.Undecodable:
                type_name = msg.type or "unknown"  # type: ignore[union-attr]
                seq = msg.seq  # type: ignore[union-attr]
                channel = (sid_channel.get(sid) if sid is not None else None) or wire.CHANNEL_OF_TYPE.get(
                    type_name, "unknown")
            else:
                type_name = _TYPE_NAME[cls]
                seq = getattr(msg, "seq", None)
                channel = self._control(msg, received_at)
            received[type_name] = received.get(type_name, 0) + 1
            outcome: list[Record] | Problem = normalize(msg, received_at) if normal else _NONE
            stamp = str(received_at)
            headers = {"received_at": stamp, "conn": conn, "channel": channel, "type": type_name}
            if sid is not None:
                headers["sid"] = str(sid)
            if seq is not None:
                headers["seq"] = str(seq)
            if batch_nowait is None:
                pending.extend(self._messages(frame, n, channel, headers, outcome))
                continue
            if type(outcome) is not list:  # a dead letter
                out.extend(self._messages(frame, n, channel, headers, outcome))
                continue
            # fast path: the frame's messages join the batch stored at once (the memory bus)
            msg_id = f"{conn}:{n}"
            append((raw_subjects.get(channel) or self._raw_subject(channel), frame, headers, msg_id))
            if outcome:
                rheaders = {"received_at": stamp, "conn": conn}  # shared by the frame's records
                for i, record in enumerate(outcome):
                    rtype = record.TYPE
                    subject = record_subjects.get((rtype, record.ticker)) or self._record_subject(record)
                    append((subject, encode(record), rheaders, f"{msg_id}:{i}"))
                    records[rtype] = records.get(rtype, 0) + 1
                if cls in _TIMED:
                    ts = outcome[0].ts
                    if ts != received_at:
                        stats.lag_ns = received_at - ts

    def _store(self, out: list[Publish]) -> None:
        """Store a batch on a transport with ``publish_batch_nowait`` (the memory bus). That
        stores nothing when a subject is invalid; then the frames are published one by one,
        so a bad message costs only its own frame, as with single publishes."""
        try:
            self._batch_nowait(out)  # type: ignore[misc]
            self.stats.published += len(out)
            return
        except BackendError:
            pass
        stats = self.stats
        for frame in self._by_frame(out):
            done = 0
            try:
                for item in frame:
                    self._nowait(*item)  # type: ignore[misc]
                    done += 1
                stats.published += len(frame)
            except BackendError as exc:
                stats.error("publish", str(exc))
                for subject, *_ in frame[max(done, 1):]:  # records counted but not published
                    if subject != self._dlq:
                        stats.records[parse_record_subject(subject)[2]] -= 1

    def _by_frame(self, out: list[Publish]) -> list[list[Publish]]:
        """``out`` split per frame: each starts with its raw frame, whose id is ``{conn}:{n}``
        (its records' and dead letter's ids have one more ``:`` part)."""
        frames: list[list[Publish]] = []
        raw_parts = self.conn_id.count(":") + 2
        for item in out:
            if item[3] is not None and item[3].count(":") + 1 == raw_parts:
                frames.append([])
            frames[-1].append(item)
        return frames

    def _raw_subject(self, channel: str) -> str:
        subject = self._raw_subjects[channel] = raw_subject(self.env, self.feed, channel)
        return subject

    def _record_subject(self, record: Record) -> str:
        subjects = self._record_subjects
        if len(subjects) >= _SUBJECT_CACHE_MAX:
            subjects.clear()
        subject = subjects[(record.TYPE, record.ticker)] = record_subject(self.env, self.feed, record.TYPE,
                                                                          record.ticker)
        return subject

    def _control(self, msg: Any, received_at: int) -> str:
        session = self.session
        if type(msg) is wire.Subscribed:
            return session.on_subscribed(msg, received_at)
        if type(msg) is wire.Ok:
            session.on_ok(msg)
        elif type(msg) is wire.Unsubscribed:
            session.on_unsubscribed(msg)
        elif type(msg) is wire.Error:
            reason = session.on_error(msg, received_at)
            self.stats.error(f"exchange_error_{msg.code}", reason)
            log.warning("exchange error", conn=self.conn_id, code=msg.code, sid=msg.sid, error=reason)
        sid = msg.sid
        return (session.sid_channel.get(sid) if sid is not None else None) or "control"

    def _messages(self, frame: bytes, n: int, channel: str, headers: dict[str, str],
                  outcome: list[Record] | Problem) -> list[Publish]:
        """One frame's messages: the raw frame, then its records or its dead letter."""
        conn = self.conn_id
        stats = self.stats
        out: list[Publish] = [(self._raw_subjects.get(channel) or self._raw_subject(channel), frame, headers,
                               f"{conn}:{n}")]
        if type(outcome) is list:
            if outcome:
                rheaders = {"received_at": headers["received_at"], "conn": conn}
                records = stats.records
                for i, record in enumerate(outcome):
                    rtype = record.TYPE
                    subject = self._record_subjects.get((rtype, record.ticker)) or self._record_subject(record)
                    out.append((subject, encode(record), rheaders, f"{conn}:{n}:{i}"))
                    records[rtype] = records.get(rtype, 0) + 1
                received_at = int(headers["received_at"])
                if type(outcome[0]).TYPE != "lifecycle" and outcome[0].ts != received_at:
                    stats.lag_ns = received_at - outcome[0].ts
            return out
        problem: Problem = outcome  # type: ignore[assignment]
        out.append((self._dlq, frame, {"error_type": problem.error_type, "error": problem.reason[:500],
                                       "received_at": headers["received_at"], "conn": conn}, f"{conn}:{n}:dlq"))
        stats.dead_letters += 1
        stats.error(problem.error_type, problem.reason)
        return out

    async def _send(self, items: list[Publish]) -> None:
        """Publish a batch (pipelined where the transport can), retrying the whole batch on a
        transient failure: message ids make repeats harmless."""
        import asyncio

        many = getattr(self.transport, "publish_many", None)
        exc: BaseException | None = None
        for attempt, delay in zip(range(_PUBLISH_ATTEMPTS), backoff(0.05, 2.0), strict=False):
            if attempt:
                log.warning("publish failed, retrying", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
            try:
                if many is not None:
                    await many(items)
                else:
                    for item in items:
                        await self.transport.publish(*item)
                self.stats.published += len(items)
                return
            except BackendError as failed:
                exc = failed
                if not failed.retryable:
                    break
        self.stats.error("publish", str(exc))
        log.error("messages not published", conn=self.conn_id, count=len(items),
                  error=f"{type(exc).__name__}: {exc}")
