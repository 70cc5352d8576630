"""The archiver's writers: raw files, Parquet batches and day manifests, against Storage.

Each write either fully succeeds (then the caller acks the deliveries it covers) or leaves
everything buffered for a retry. Nothing here reads the clock; times are passed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ssmd import metrics
from ssmd.archive import layout
from ssmd.archive import manifest as mf
from ssmd.archive.parquet import Batch
from ssmd.archive.raw import RawFile, torn_tail
from ssmd.calendar import day_bounds
from ssmd.config.model import Environment
from ssmd.errors import NotFoundError
from ssmd.log import get_logger
from ssmd.rawline import RawLine, line_of

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage

log = get_logger("archiver")


async def next_raw_number(storage: Storage, env: Environment, date: str, channel: str) -> int:
    """1 + the highest ``n`` of the day's existing ``{channel}-{n}`` files (1 if none). On
    appending storage, the highest file's torn last frame (a write cut short) is cut off
    first, so every file before the new one reads whole."""
    where = layout.Layout.of(env)
    highest, newest = 0, ""
    for info in await storage.list(layout.raw_day_prefix(where, date) + "/"):
        parsed = layout.parse_raw_name(info.path)
        if parsed and parsed[0] == channel and parsed[1] > highest:
            highest, newest = parsed[1], info.path
    if newest and storage.appends:
        await repair_tail(storage, newest)
    return highest + 1


async def repair_tail(storage: Storage, path: str) -> bytes:
    """Cut a raw file's torn last frame (a write cut short) back to its last whole frame;
    returns the file's content as it now is. A file damaged otherwise is left as it is
    (verify names it)."""
    data = await storage.get(path)
    whole = torn_tail(data)
    if whole is None:
        return data
    await storage.put(path, data[:whole])
    log.warning("raw file ended inside a zstd frame (a write cut short): cut back to its last whole frame",
                path=path, bytes_cut=len(data) - whole)
    return data[:whole]


class ManifestStore:
    """Day manifests held in memory, loaded from storage on first use, written when dirty."""

    def __init__(self, env: Environment, storage: Storage) -> None:
        self.env = env
        self.where = layout.Layout.of(env)
        """Where this environment's archive objects are named (``ssmd.archive.layout``)."""
        self.storage = storage
        self.days: dict[str, mf.Manifest] = {}
        self.dirty: set[str] = set()
        self.acks: dict[str, list[Any]] = {}

    async def get(self, date: str, now_ns: int) -> mf.Manifest:
        found = self.days.get(date)
        if found is not None:
            return found
        try:
            manifest = mf.decode(await self.storage.get(layout.manifest_path(self.where, date)))
        except (NotFoundError, FileNotFoundError):
            manifest = mf.new_manifest(self.env.feed, date, now_ns)
        self.days[date] = manifest
        return manifest

    def touch(self, date: str, acks: list[Any] | None = None) -> None:
        self.dirty.add(date)
        if acks:
            self.acks.setdefault(date, []).extend(acks)

    async def write_dirty(self, now_ns: int) -> list[Any]:
        """Write every dirty manifest; returns the deliveries that may now be acked."""
        done: list[Any] = []
        for date in sorted(self.dirty):
            manifest = self.days[date]
            if manifest.status == "complete":
                manifest.status = "open"  # new data after verification: verify again
            start, end = day_bounds(self.env.schedule, _date(date))
            manifest.quality_score = mf.quality_score(
                manifest, int(start.timestamp() * 1e9), int(end.timestamp() * 1e9), now_ns
            )
            manifest.updated_at = mf.rfc3339(now_ns)
            await self.storage.put(layout.manifest_path(self.where, date), mf.encode(manifest))
            self.dirty.discard(date)
            done.extend(self.acks.pop(date, []))
        return done


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


class RawSink:
    """Open raw files per (date, channel)."""

    def __init__(self, env: Environment, storage: Storage) -> None:
        self.env = env
        self.where = layout.Layout.of(env)
        """Where this environment's archive objects are named (``ssmd.archive.layout``)."""
        self.storage = storage
        self.files: dict[tuple[str, str], RawFile] = {}
        self.acks: list[Any] = []
        self.seqs: set[int] = set()
        self.oldest: float | None = None
        self.oldest_received: int | None = None
        self.pending = 0
        """Lines buffered in all files, not yet written."""
        self.created: set[str] = set()
        """Names of the raw files this sink opened (an earlier run's are the others)."""

    def add(self, line: RawLine, date: str, msg: Any, now: float) -> None:
        """Buffer one frame's line; ``msg`` is acked once its file is written."""
        self.file(date, line.channel, now).add(line)
        self.pending += 1
        self.acks.append(msg)
        if msg.seq:
            self.seqs.add(msg.seq)
        if self.oldest is None:
            self.oldest, self.oldest_received = now, line.received_at

    def add_messages(self, msgs: Sequence[Any], day: Callable[[int], str], now: float) -> None:
        """``add`` the line of each raw frame delivery, ``day`` naming its trading day."""
        if not msgs:
            return
        date = channel = ""
        pending: list[RawLine] = []
        first: RawLine | None = None
        for msg in msgs:
            line = line_of(msg.subject, msg.headers, msg.data, msg.ts)
            day_of = day(line.received_at)
            if day_of != date or line.channel != channel:  # runs of one file look it up once
                date, channel = day_of, line.channel
                pending = self.file(date, channel, now).pending
                if first is None:
                    first = line
            pending.append(line)
        self.pending += len(msgs)
        self.acks.extend(msgs)
        self.seqs.update([msg.seq for msg in msgs if msg.seq])
        if self.oldest is None and first is not None:
            self.oldest, self.oldest_received = now, first.received_at

    def file(self, date: str, channel: str, now: float) -> RawFile:
        found = self.files.get((date, channel))
        if found is None:
            found = self.files[(date, channel)] = RawFile("", channel, now, keep_frames=not self.storage.appends)
        return found

    async def write(self, manifests: ManifestStore, now_ns: int) -> tuple[int, int, list[Any]]:
        """Write every open file with pending lines. Returns (files, bytes, acks).

        It covers the lines buffered when it starts: lines added while it awaits storage
        (the consumers keep running) are written, and their deliveries acked, next time.
        If a write fails, what it covered stays buffered and unacked.
        """
        todo = [(key, raw, len(raw.pending)) for key, raw in sorted(self.files.items()) if raw.pending]
        acks, self.acks = self.acks, []
        seqs, self.seqs = self.seqs, set()
        oldest, oldest_received = self.oldest, self.oldest_received
        self.oldest = self.oldest_received = None
        files = written = 0
        try:
            for (date, channel), raw, n in todo:
                manifest = await manifests.get(date, now_ns)
                if not raw.stats.name:
                    number = await next_raw_number(self.storage, self.env, date, channel)
                    raw.stats.name = layout.raw_file_path(self.where, date, channel, number).rsplit("/", 1)[-1]
                    self.created.add(raw.stats.name)
                path = f"{layout.raw_day_prefix(self.where, date)}/{raw.stats.name}"
                if raw.keep_frames:  # storage that cannot append: the whole file again
                    content = raw.next_content(n)
                    await self.storage.put(path, content)
                else:  # only the new frame, at the committed size (zstd, in a thread, frees the GIL)
                    content = await asyncio.to_thread(raw.pending_frame, n)
                    await self.storage.append(path, content, raw.committed_bytes)
                raw.commit(n)
                self.pending -= n
                files += 1
                written += len(content)
                mf.put_file(manifest, raw.stats)
                manifests.touch(date)
        except BaseException:
            self.acks[:0] = acks
            self.seqs |= seqs
            if oldest is not None:
                self.oldest, self.oldest_received = oldest, oldest_received
            raise
        return files, written, acks

    def rotate(self, should_close: Any, now: float) -> None:
        """Close files the policy says are full or old (the next line opens ``n + 1``)."""
        for key, raw in list(self.files.items()):
            if not raw.pending and raw.stats.name and should_close(raw.committed_bytes, raw.opened, now):
                del self.files[key]


async def write_batches(storage: Storage, batches: list[Batch], manifests: ManifestStore, now_ns: int,
                        acks: list[Any]) -> int:
    """Write sealed batches in order, removing each from ``batches`` once durable and
    moving its deliveries to ``acks``; returns the bytes written."""
    written = 0
    while batches:
        batch = batches[0]
        data = await batch.encode()
        manifest = await manifests.get(batch.date, now_ns)
        with metrics.ARCHIVER_FLUSH_SECONDS.labels("normalized").time():
            await storage.put(batch.path, data)
        first, last = batch.ts_range()
        mf.add_rows(manifest, batch.type, batch.rows, len(data), first, last)
        manifests.touch(batch.date)
        metrics.ARCHIVER_BYTES_WRITTEN.labels("normalized").inc(len(data))
        metrics.ARCHIVER_FILES_WRITTEN.labels("normalized").inc()
        metrics.ARCHIVER_RECORDS_WRITTEN.labels(batch.type).inc(batch.rows)
        acks.extend(batch.acks)
        batches.pop(0)
        written += len(data)
    return written
