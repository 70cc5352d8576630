"""The hot path: one frame in -> raw frame, normalized records (or a dead letter) out.

For every frame, in order: decode once and classify (``ssmd.kalshi.classify``: the
connector never names a wire type), check the seq of sequenced messages, let the session
react to command responses, normalize, then publish the raw frame unchanged to
``{env}.{feed}.raw.{channel}`` and each record to ``{env}.{feed}.{type}.{ticker}`` (the
record itself: the memory bus hands it to consumers as it is, NATS sends it Cap'n Proto
encoded). A frame that cannot be used goes to the dead-letter
subject with its raw bytes. Duplicates and order-book deltas awaiting a snapshot are
published raw but not normalized. Publishing is idempotent per frame (``msg_id``), so a
failed frame is retried whole. A read batch goes out in one ``Transport.publish_many``
(one store on the memory bus, pipelined on NATS); a batch the transport refuses for good
is published frame by frame, so a bad message costs only its own frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ssmd.connector.session import Session
from ssmd.connector.stats import Stats
from ssmd.errors import BackendError
from ssmd.kalshi import classify
from ssmd.kalshi.classify import (
    BOOK,
    BOOK_DELTA,
    CHANNEL_OF_TYPE,
    ERROR,
    OK,
    SEQUENCED,
    SUBSCRIBED,
    TIMED,
    TYPE_NAME,
    UNDECODABLE,
    UNSEQUENCED,
    UNSEQUENCED_CHANNEL,
    UNSEQUENCED_TYPE,
    UNSUBSCRIBED,
    book_ticker,
)
from ssmd.kalshi.normalize import Problem, normalize
from ssmd.kalshi.seq import SeqResult
from ssmd.log import get_logger
from ssmd.middleware.transport.base import Payload, Transport
from ssmd.rawline import RawLine
from ssmd.records import RECORD_TYPES, Record
from ssmd.retry import backoff
from ssmd.subjects import dlq_subject, parse_record_subject, raw_subject, record_subject

Publish = tuple[str, Payload, dict[str, str] | None, str | None]
"""(subject, data, headers, msg_id), as ``Transport.publish`` takes them."""

log = get_logger("connector")

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
        self._record_subjects: dict[str, dict[str, str]] = {t: {} for t in RECORD_TYPES}
        """Record subject by type, then ticker."""
        self._dlq = dlq_subject(env, "connector")

    async def process(self, batch: list[tuple[bytes, int]]) -> None:
        """Prepare a batch of frames and publish its messages at once. What was prepared
        before an unexpected error is still published (as frame-by-frame publishing would
        have); the session's reactions (gaps, snapshot requests) are handled after the batch."""
        out: list[Publish] = []
        try:
            self._prepare(batch, out)
        finally:
            if out:
                await self._publish(out)

    def _prepare(self, batch: list[tuple[bytes, int]], out: list[Publish]) -> None:
        """Decode, check and normalize each frame; its messages join ``out``."""
        session = self.session
        tracker = session.tracker
        stats = self.stats
        received = stats.received
        records = stats.records
        sid_channel = session.sid_channel
        conn = self.conn_id
        decode = classify.decode
        decode_error = classify.DecodeError
        undecodable = classify.undecodable
        raw_subjects = self._raw_subjects
        record_subjects = self._record_subjects
        append = out.append
        lag: int | None = None
        n = self.frames
        try:
            for frame, received_at in batch:
                n += 1
                try:
                    msg: classify.Decoded = decode(frame)
                except decode_error as exc:
                    msg = undecodable(frame, str(exc))
                cls = type(msg)
                sid: int | None = getattr(msg, "sid", None)
                seq: int | None = None
                normal = True
                if cls in SEQUENCED:
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
                    if normal and session.resync and cls in BOOK:
                        ticker = book_ticker(msg)
                        if ticker in session.resync:
                            if cls is BOOK_DELTA:
                                stats.discarded += 1
                                normal = False
                            else:
                                del session.resync[ticker]
                    type_name = TYPE_NAME[cls]
                    channel = sid_channel.get(sid, "") if sid is not None else ""
                    channel = channel or CHANNEL_OF_TYPE[type_name]
                elif cls is UNSEQUENCED:
                    type_name = UNSEQUENCED_TYPE
                    channel = (sid_channel.get(sid) if sid is not None else None) or UNSEQUENCED_CHANNEL
                elif cls is UNDECODABLE:
                    type_name = msg.type or "unknown"  # type: ignore[union-attr]
                    seq = msg.seq  # type: ignore[union-attr]
                    channel = (sid_channel.get(sid) if sid is not None else None) or CHANNEL_OF_TYPE.get(
                        type_name, "unknown")
                else:
                    type_name = TYPE_NAME[cls]
                    seq = getattr(msg, "seq", None)
                    channel = self._control(msg, received_at)
                received[type_name] = received.get(type_name, 0) + 1
                outcome: list[Record] | Problem = normalize(msg, received_at) if normal else _NONE
                stamp = str(received_at)
                line = RawLine(received_at, conn, channel, type_name, sid, seq, frame.decode("utf-8", "replace"))
                msg_id = f"{conn}:{n}"
                append((raw_subjects.get(channel) or self._raw_subject(channel), line, None, msg_id))
                if type(outcome) is not list:
                    append(self._dead_letter(frame, stamp, msg_id, outcome))  # type: ignore[arg-type]
                    continue
                if outcome:
                    rheaders = {"received_at": stamp, "conn": conn}  # shared by the frame's records
                    if len(outcome) == 1:  # the common case, without a loop
                        record = outcome[0]
                        rtype = record.TYPE
                        subject = record_subjects[rtype].get(record.ticker) or self._record_subject(record)
                        append((subject, record, rheaders, msg_id + ":0"))
                        records[rtype] = records.get(rtype, 0) + 1
                    else:
                        for i, record in enumerate(outcome):
                            rtype = record.TYPE
                            subject = record_subjects[rtype].get(record.ticker) or self._record_subject(record)
                            append((subject, record, rheaders, f"{msg_id}:{i}"))
                            records[rtype] = records.get(rtype, 0) + 1
                    if cls in TIMED:
                        ts = outcome[0].ts
                        if ts != received_at:
                            lag = received_at - ts
        finally:
            self.frames = n  # the ids of the frames prepared are used, whatever happens next
            if lag is not None:
                stats.lag_ns = lag

    async def _publish(self, items: list[Publish]) -> None:
        """Publish a batch, retrying the whole batch on a transient failure (message ids
        make repeats harmless); a batch refused for good goes frame by frame."""
        exc: BackendError | None = None
        for attempt, delay in zip(range(_PUBLISH_ATTEMPTS), backoff(0.05, 2.0), strict=False):
            if attempt:
                log.warning("publish failed, retrying", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
            try:
                await self.transport.publish_many(items)
            except BackendError as failed:
                exc = failed
                if not failed.retryable:
                    await self._publish_by_frame(items)
                    return
                continue
            self.stats.published += len(items)
            return
        self.stats.error("publish", str(exc))
        log.error("messages not published", conn=self.conn_id, count=len(items),
                  error=f"{type(exc).__name__}: {exc}")

    async def _publish_by_frame(self, items: list[Publish]) -> None:
        """Publish message by message: a frame whose message fails loses the rest of that
        frame only (its records, counted when prepared, are uncounted)."""
        stats = self.stats
        publish = self.transport.publish
        for frame in self._by_frame(items):
            done = 0
            try:
                for item in frame:
                    await publish(*item)
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
        subjects = self._record_subjects[record.TYPE]
        if len(subjects) >= _SUBJECT_CACHE_MAX:
            subjects.clear()
        subject = subjects[record.ticker] = record_subject(self.env, self.feed, record.TYPE, record.ticker)
        return subject

    def _control(self, msg: Any, received_at: int) -> str:
        session = self.session
        cls = type(msg)
        if cls is SUBSCRIBED:
            return session.on_subscribed(msg, received_at)
        if cls is OK:
            session.on_ok(msg)
        elif cls is UNSUBSCRIBED:
            session.on_unsubscribed(msg)
        elif cls is ERROR:
            reason = session.on_error(msg, received_at)
            self.stats.error(f"exchange_error_{msg.code}", reason)
            log.warning("exchange error", conn=self.conn_id, code=msg.code, sid=msg.sid, error=reason)
        sid = msg.sid
        return (session.sid_channel.get(sid) if sid is not None else None) or "control"

    def _dead_letter(self, frame: bytes, stamp: str, msg_id: str, problem: Problem) -> Publish:
        stats = self.stats
        stats.dead_letters += 1
        stats.error(problem.error_type, problem.reason)
        return (self._dlq, frame, {"error_type": problem.error_type, "error": problem.reason[:500],
                                   "received_at": stamp, "conn": self.conn_id}, f"{msg_id}:dlq")
