"""The archiver component: transport → raw JSONL.zst + Parquet + manifests, at least once.

Deliveries are acked only after the data they carry is durably written; redeliveries are
recognised (``Deduper``) so the archive holds each frame and record once. While storage
fails, data stays buffered (and unacked, so the transport keeps it too); writes are retried
with backoff and the failure shows in metrics and ``status()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd import codec, metrics
from ssmd.archive.manifest import add_gap
from ssmd.archive.parquet import Batch, Buffer
from ssmd.archiver import recovery
from ssmd.archiver.policy import Deduper, FlushPolicy, RetryGate
from ssmd.archiver.sinks import ManifestStore, RawSink, write_batches
from ssmd.calendar import DayPartitioner
from ssmd.clock import Clock, SystemClock, rfc3339
from ssmd.config.model import Environment
from ssmd.errors import TransportError
from ssmd.log import get_logger
from ssmd.rawline import key_of
from ssmd.records import RECORD_TYPES
from ssmd.status import ComponentStatus, GapInfo
from ssmd.subjects import decode_token, dlq_subject, raw_subject

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("archiver")
ACTIVE: weakref.WeakSet[Archiver] = weakref.WeakSet()
"""Archivers running in this process (``verify_day`` asks them about unwritten data)."""

_gap_decoder = msgspec.json.Decoder(GapInfo)
_BATCH = 512
"""Deliveries taken per ``next_batch``."""


class Archiver:
    name = "archiver"

    def __init__(self, env: Environment, backends: Backends, *, clock: Clock = SystemClock(),
                 ack_wait: float = 60.0, durable_prefix: str = "archiver") -> None:
        self.env = env
        self.backends = backends
        self.clock = clock
        self.ack_wait = ack_wait
        self.policy = FlushPolicy(env.archiver, appends=backends.storage.appends)
        self._prefix = durable_prefix
        self._storage = backends.storage
        self._manifests = ManifestStore(env, self._storage)
        self._raw = RawSink(env, self._storage)
        self._buffers: dict[tuple[str, str], Buffer] = {}
        self._batches: list[Batch] = []
        self._gaps: list[tuple[GapInfo, Any]] = []
        self._ready: list[Any] = []
        self._dedup: dict[str, Deduper] = {}
        self._learned: set[tuple[str, str]] = set()
        self._day = DayPartitioner(env.schedule)
        self._gate = RetryGate()
        self._bytes_written = 0
        self._last_flush_ns = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._subs: list[Any] = []
        self._k = 0
        self._counters: dict[str, int] = {}
        self._state: str = "starting"
        self._started: int | None = None
        self._errors = 0
        self._stage = "normalized"
        """Which bucket the write in progress goes to (for the error metric)."""
        ACTIVE.add(self)

    # ---- component -------------------------------------------------------------------
    async def run(self) -> None:
        self._started = self.clock.now_ns()
        self._stopping.clear()
        self._done.clear()
        try:
            feed = f"{self.env.name}.{self.env.feed}"
            filters = {"raw": raw_subject(self.env.name, self.env.feed, ">"), "gaps": f"{feed}.gaps"}
            filters.update({t: f"{feed}.{t}.>" for t in RECORD_TYPES})
            for consumer, subject in filters.items():
                self._subs.append(await self.backends.transport.subscribe(
                    subject, durable=f"{self._prefix}-{consumer}", ack_wait=self.ack_wait,
                    max_ack_pending=max(10_000, 4 * self.env.archiver.flush_rows)))
            self._state = "running"
            async with asyncio.TaskGroup() as tg:
                for consumer, sub in zip(filters, self._subs, strict=True):
                    tg.create_task(self._consume(consumer, sub))
                tg.create_task(self._flusher())
        finally:
            self._state = "stopped"
            for sub in self._subs:
                with contextlib.suppress(Exception):
                    await sub.close()
            self._subs.clear()
            self._done.set()

    async def stop(self) -> None:
        """Stop consuming, flush what is buffered (best effort), and return."""
        self._state = "stopping"
        self._stopping.set()
        self._wake.set()
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout=30)

    def status(self) -> ComponentStatus:
        now = self.clock.now_ns()
        return ComponentStatus(
            name=self.name, state=self._state,  # type: ignore[arg-type]
            started_at=self._started,
            uptime_seconds=(now - self._started) / 1e9 if self._started else 0.0,
            counters=dict(self._counters), lag_seconds=self.lag_seconds(now), errors=self._errors,
            last_error=self._gate.last_error,
            details={"buffered_records": self.buffered, "storage": "failing" if self._gate.failing else "ok",
                     "write_failures": self._gate.failures,
                     "duplicates_skipped": sum(d.duplicates for d in self._dedup.values()),
                     "bytes_written": self._bytes_written,
                     "last_flush": rfc3339(self._last_flush_ns) if self._last_flush_ns else None},
        )

    # ---- public API ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Between start and the end of ``run()`` (a stopped archiver holds nothing: what it
        had not written is still unacked in the transport)."""
        return self._state in ("starting", "running", "stopping") and self._started is not None

    @property
    def buffered(self) -> int:
        return self._raw.pending + sum(len(b) for b in self._buffers.values()) + sum(b.rows for b in self._batches)

    def buffered_for(self, date: str) -> int:
        """Records of trading day ``date`` not yet durably written."""
        raw = sum(len(f.pending) for (d, _), f in self._raw.files.items() if d == date)
        return raw + sum(len(b) for (_, d), b in self._buffers.items() if d == date) + sum(
            b.rows for b in self._batches if b.date == date)

    def lag_seconds(self, now_ns: int) -> float:
        oldest = [b.oldest_received for b in self._buffers.values() if b.oldest_received is not None]
        if self._raw.oldest_received is not None:
            oldest.append(self._raw.oldest_received)
        return max(0.0, (now_ns - min(oldest)) / 1e9) if oldest else 0.0

    async def flush(self) -> None:
        """Write everything buffered now; raises the storage error if a write fails (the
        data stays buffered and is retried)."""
        await self._flush(force=True)

    # ---- consuming -------------------------------------------------------------------
    async def _consume(self, consumer: str, sub: Any) -> None:
        """Take deliveries in batches and buffer them in delivery order. A batch of first
        deliveries goes through in one pass; one holding a redelivery goes message by
        message (a redelivery may need the archive read back before it can be judged)."""
        dedup = self._dedup.setdefault(consumer, Deduper())
        while True:
            try:
                batch = await sub.next_batch(_BATCH)
            except StopAsyncIteration:
                break
            except TransportError:
                if self._stopping.is_set():
                    break
                raise
            now = self.clock.monotonic()
            if any(msg.redelivered for msg in batch):
                await self._take_one_by_one(consumer, batch, dedup, now)
                continue
            fresh, duplicates = dedup.first_deliveries(batch)
            failed: list[tuple[Any, str]] = []
            if consumer == "raw":
                self._raw.add_messages(fresh, self._day, now)
            else:
                failed = self._take(consumer, fresh, now)
            self._taken(consumer, len(fresh))
            # Duplicates are judged once the batch is buffered, as they are one by one: a
            # copy of a message buffered above is still pending, so it is not acked.
            for msg in duplicates:
                await self._duplicate(consumer, msg)
            for msg, error in failed:
                await self._dead_letter(msg, error)

    async def _take_one_by_one(self, consumer: str, batch: Sequence[Any], dedup: Deduper, now: float) -> None:
        taken = 0
        for msg in batch:
            if msg.redelivered:
                if consumer != "gaps":
                    await self._learn(consumer, msg, dedup)
                dup = dedup.is_duplicate(msg.seq, True, self._raw_key(msg) if consumer == "raw" else None)
            else:
                dup = dedup.is_duplicate(msg.seq, False)
            if dup:
                await self._duplicate(consumer, msg)
                continue
            if consumer == "raw":
                self._raw.add_messages([msg], self._day, now)
            else:
                for failed, error in self._take(consumer, [msg], now):
                    await self._dead_letter(failed, error)
            taken += 1
        self._taken(consumer, taken)

    async def _duplicate(self, consumer: str, msg: Any) -> None:
        """Already archived: ack it now, unless it is still buffered (then its write acks it)."""
        if not self._is_pending(consumer, msg.seq):
            await msg.ack()

    def _taken(self, consumer: str, n: int) -> None:
        if n:
            self._counters[consumer] = self._counters.get(consumer, 0) + n
            self._nudge(consumer, n)

    async def _learn(self, consumer: str, msg: Any, dedup: Deduper) -> None:
        """Before judging a redelivery of day D, read what earlier runs wrote last for D."""
        date = self._day(key_of(msg.headers, msg.data, msg.ts)[1] if consumer == "raw"
                         else int(msg.headers.get("received_at") or msg.ts))
        if (consumer, date) not in self._learned and await recovery.learn(
                self.env, self._storage, consumer, date, dedup, before_ns=self._started,
                own_raw=frozenset(self._raw.created)):
            self._learned.add((consumer, date))

    def _is_pending(self, consumer: str, seq: int) -> bool:
        if consumer == "raw":
            return seq in self._raw.seqs
        if consumer == "gaps":
            return any(m.seq == seq for _, m in self._gaps) or any(
                m.seq == seq for acks in self._manifests.acks.values() for m in acks)
        return any(seq in b.seqs for b in self._buffers.values() if b.type == consumer) or any(
            b.type == consumer for b in self._batches)

    @staticmethod
    def _raw_key(msg: Any) -> tuple[str, int]:
        return key_of(msg.headers, msg.data, msg.ts)

    def _take(self, consumer: str, msgs: Sequence[Any], now: float) -> list[tuple[Any, str]]:
        """Buffer records (or gaps); returns the messages that cannot be decoded, with why."""
        if consumer == "gaps":
            return [(msg, error) for msg in msgs if (error := self._take_gap(msg)) is not None]
        failed: list[tuple[Any, str]] = []
        decode, day = codec.decode, self._day
        date: str | None = None
        records: list[Any] = []
        taken: list[Any] = []
        for msg in msgs:  # runs of one day go into their buffer in one call
            try:
                record = decode(consumer, msg.data)
            except Exception as exc:
                failed.append((msg, f"cannot decode {consumer} record: {exc}"))
                continue
            day_of = day(record.received_at)
            if day_of != date:
                if records:
                    self._buffer(consumer, date).add_many(records, taken, now)  # type: ignore[arg-type]
                    records, taken = [], []
                date = day_of
            records.append(record)
            taken.append(msg)
        if records:
            self._buffer(consumer, date).add_many(records, taken, now)  # type: ignore[arg-type]
        return failed

    def _buffer(self, consumer: str, date: str) -> Buffer:
        buf = self._buffers.get((consumer, date))
        if buf is None:
            buf = self._buffers[(consumer, date)] = Buffer(consumer, date)
        return buf

    def _take_gap(self, msg: Any) -> str | None:
        try:
            gap = _gap_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            return f"bad gap message: {exc}"
        self._gaps.append((gap, msg))
        self._wake.set()
        return None

    async def _dead_letter(self, msg: Any, reason: str) -> None:
        self._errors += 1
        log.warning("dead letter", subject=msg.subject, error=reason)
        await self.backends.transport.publish(
            dlq_subject(self.env.name, "archiver"), msg.data,
            headers={"error_type": "decode", "error": reason, "subject": decode_token(msg.subject)})
        metrics.DEAD_LETTERS.labels("archiver").inc()
        await msg.ack()

    def _nudge(self, consumer: str, added: int) -> None:
        """Wake the flusher when what ``consumer`` buffered has reached ``flush_rows``, or
        was empty before these ``added`` rows (its next due time is new: the flusher, asleep
        since its last write, would otherwise wake up to a second late)."""
        if consumer == "raw":
            rows = self._raw.pending
        else:
            rows = max((len(b) for b in self._buffers.values() if b.type == consumer), default=0)
        if rows >= self.policy.rows or rows <= added:
            self._wake.set()

    # ---- flushing --------------------------------------------------------------------
    async def _flusher(self) -> None:
        while not self._stopping.is_set():
            now = self.clock.monotonic()
            dues = [self.policy.next_due(b.oldest) for b in self._buffers.values()]
            dues.append(self.policy.next_due(self._raw.oldest, raw=True))
            if self._manifests.dirty or self._batches or self._gaps:
                dues.append(now + self.policy.interval)
            wait = min([d for d in dues if d is not None], default=now + self.policy.interval) - now
            if self._gate.failing:
                wait = max(wait, self._gate.not_before - now)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, min(wait, 1.0)))
            self._wake.clear()
            if self._stopping.is_set():
                break
            with contextlib.suppress(Exception):
                await self._flush(force=False)
        with contextlib.suppress(Exception):
            await self._flush(force=True)

    async def _flush(self, *, force: bool) -> None:
        async with self._lock:
            now = self.clock.monotonic()
            if not force and not self._gate.ready(now):
                return
            metrics.ARCHIVER_LAG.set(self.lag_seconds(self.clock.now_ns()))
            try:
                await self._write(force, now)
            except Exception as exc:
                self._failed(exc)
                raise
            else:
                self._gate.succeeded()
                metrics.CIRCUIT_BREAKER_OPEN.labels("storage").set(0)
            finally:
                metrics.ARCHIVER_BUFFERED.set(self.buffered)
                acks, self._ready = self._ready, []
                if acks:
                    with contextlib.suppress(Exception):
                        await self.backends.transport.ack_many(acks)

    async def _write(self, force: bool, now: float) -> None:
        """Write what is due; every delivery made durable goes to ``self._ready``."""
        now_ns = self.clock.now_ns()
        for key, buf in list(self._buffers.items()):
            if force or self.policy.due(len(buf), buf.oldest, now):
                self._k += 1
                consumer = f"{self._prefix}-{buf.type}"
                self._batches.append(buf.seal(self.env, now_ns, self._k, consumer))
                del self._buffers[key]
        self._stage = "normalized"
        written = await write_batches(self._storage, self._batches, self._manifests, now_ns, self._ready)
        self._stage = "raw"
        if self._raw.pending and (force or self.policy.due(self._raw.pending, self._raw.oldest, now, raw=True)):
            with metrics.ARCHIVER_FLUSH_SECONDS.labels("raw").time():
                files, size, raw_acks = await self._raw.write(self._manifests, now_ns)
            metrics.ARCHIVER_FILES_WRITTEN.labels("raw").inc(files)
            metrics.ARCHIVER_BYTES_WRITTEN.labels("raw").inc(size)
            self._ready.extend(raw_acks)
            written += size
        if written:
            self._bytes_written += written
            self._last_flush_ns = now_ns
        self._raw.rotate(self.policy.rotate, now)
        self._stage = "manifest"
        while self._gaps:
            gap, msg = self._gaps[0]
            date = self._day(gap.start_ns)
            add_gap(await self._manifests.get(date, now_ns), gap)
            self._manifests.touch(date, [msg])
            self._gaps.pop(0)
        if self._manifests.dirty:
            self._ready.extend(await self._manifests.write_dirty(now_ns))

    def _failed(self, exc: BaseException) -> None:
        self._errors += 1
        delay = self._gate.failed(self.clock.monotonic(), f"{type(exc).__name__}: {exc}")
        metrics.ARCHIVER_WRITE_ERRORS.labels(self._stage).inc()
        metrics.CIRCUIT_BREAKER_OPEN.labels("storage").set(1)
        log.warning("archive write failed; data kept buffered", error=str(exc), retry_in=round(delay, 2),
                    buffered=self.buffered)
