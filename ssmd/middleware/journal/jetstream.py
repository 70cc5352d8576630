"""Journal on the environment's JetStream stream: each topic is a subject of it.

An entry is one message: data = the JSON object, headers ``Ssmd-Seq`` (1, 2, ... per
topic) and ``Ssmd-Ts`` (append time, ns). Appends are optimistic: they carry
``Nats-Expected-Last-Subject-Sequence`` so two writers never get the same sequence; the
loser reads the new last entry and tries again. Entries live as long as the stream keeps
messages (``transport.jetstream.max_age_hours``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.js.errors

from ssmd.clock import Clock, SystemClock
from ssmd.errors import JournalError, TransportError
from ssmd.middleware.journal.base import Entry, checked_data
from ssmd.middleware.transport.base import StartPosition
from ssmd.middleware.transport.nats import connect
from ssmd.middleware.transport.subjects import check_subject

_WRONG_LAST_SEQUENCE = 10071
_SEQ, _TS = "Ssmd-Seq", "Ssmd-Ts"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


class JetStreamJournal:
    def __init__(self, url: str, stream: str, env: str, *, clock: Clock | None = None) -> None:
        self.url = url
        self.stream = stream
        self.env = env
        self._clock = clock or SystemClock()
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        if self._nc is None:
            try:
                self._nc = await connect(self.url, f"ssmd-{self.env}-journal")
            except TransportError as exc:
                raise JournalError(str(exc).replace("transport:", "journal:", 1)) from None
            self._js = self._nc.jetstream(timeout=5.0)

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            await nc.close()

    def _check(self, topic: str) -> None:
        try:
            check_subject(topic)
        except TransportError:
            raise JournalError(f"journal: invalid topic {topic!r}", retryable=False) from None

    async def _last(self, topic: str) -> tuple[int, int]:
        """(stream sequence, topic sequence) of the topic's last entry, (0, 0) if none."""
        try:
            msg = await self._js.get_last_msg(self.stream, topic)
        except nats.js.errors.NotFoundError:
            return 0, 0
        return int(msg.seq or 0), int((msg.headers or {}).get(_SEQ, 0))

    async def append(self, topic: str, data: dict[str, Any]) -> int:
        self._check(topic)
        payload = _encode(checked_data(topic, data))
        await self.connect()
        try:
            for _ in range(100):
                stream_seq, seq = await self._last(topic)
                headers = {_SEQ: str(seq + 1), _TS: str(self._clock.now_ns()),
                           "Nats-Expected-Last-Subject-Sequence": str(stream_seq)}
                try:
                    await self._js.publish(topic, payload, headers=headers)
                except nats.js.errors.APIError as exc:
                    if exc.err_code == _WRONG_LAST_SEQUENCE:
                        continue  # another writer appended first
                    raise
                return seq + 1
        except JournalError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__} {exc}".strip()
            raise JournalError(f"journal: append to {topic} on stream {self.stream}: {reason}") from None
        raise JournalError(f"journal: append to {topic}: too many concurrent writers")

    async def append_many(self, topic: str, items: list[dict[str, Any]]) -> list[int]:
        for data in items:  # every entry is checked before the first is appended
            checked_data(topic, data)
        return [await self.append(topic, data) for data in items]

    async def read(self, topic: str, start: StartPosition = StartPosition()) -> AsyncIterator[Entry]:
        self._check(topic)
        await self.connect()
        try:
            end, _ = await self._last(topic)
            cursor = 1
            while start.kind != "new" and cursor <= end:
                try:
                    msg = await self._js.get_msg(self.stream, seq=cursor, subject=topic, next=True)
                except nats.js.errors.NotFoundError:
                    return
                if msg.seq > end:
                    return
                cursor = msg.seq + 1
                headers = msg.headers or {}
                data = _decode(msg.data or b"{}")
                entry = Entry(seq=int(headers.get(_SEQ, 0)), ts=int(headers.get(_TS, 0)), data=data)
                if start.kind == "seq" and entry.seq < start.value:
                    continue
                if start.kind == "time" and entry.ts < start.value:
                    continue
                yield entry
        except (nats.errors.Error, OSError) as exc:
            raise JournalError(f"journal: read {topic} on stream {self.stream}: {type(exc).__name__} {exc}") from None

    async def last_seq(self, topic: str) -> int:
        self._check(topic)
        await self.connect()
        try:
            return (await self._last(topic))[1]
        except (nats.errors.Error, OSError) as exc:
            raise JournalError(f"journal: {topic} on stream {self.stream}: {type(exc).__name__} {exc}") from None

    async def topics(self, prefix: str = "") -> list[str]:
        """Subjects under ``prefix`` whose last message is a journal entry."""
        await self.connect()
        info = await self._js.stream_info(self.stream, subjects_filter=f"{prefix}>" if prefix.endswith(".") else ">")
        found = []
        for subject in sorted((info.state.subjects or {}) if info.state.subjects else {}):
            if not subject.startswith(prefix) or subject.count(".") > 2:
                continue  # record and raw subjects have four tokens
            last = await self._js.get_last_msg(self.stream, subject)
            if _SEQ in (last.headers or {}):
                found.append(subject)
        return found

    async def delete_topic(self, topic: str) -> int:
        self._check(topic)
        await self.connect()
        _, count = await self._last(topic)
        await self._js.purge_stream(self.stream, subject=topic)
        return count
