"""The embedded journal: JSONL segment files per topic, safe for several processes.

Layout: ``{root}/{topic}/{first_seq:012d}.jsonl``, one ``{"seq","ts","data"}`` object per
line. An append takes an exclusive ``fcntl`` lock on ``{root}/{topic}/.lock``, reads the
last sequence from the tail of the newest segment, writes one line and fsyncs it. A line
cut short by a crash (no trailing newline) was never acknowledged: it is dropped.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from ssmd.clock import Clock, SystemClock
from ssmd.errors import JournalError
from ssmd.middleware.journal.base import Entry, checked_data
from ssmd.middleware.transport.base import StartPosition

_SUFFIX = ".jsonl"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Entry)


def _segments(folder: Path) -> list[Path]:
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(_SUFFIX))
    except FileNotFoundError:
        return []
    return [folder / n for n in names]


def _first_seq(segment: Path) -> int:
    return int(segment.name[: -len(_SUFFIX)])


def _tail(segment: Path) -> tuple[int, int]:
    """(last complete seq or 0, byte length of the complete lines)."""
    with open(segment, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        pos, buf = size, b""
        while pos > 0:
            step = min(8192, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            cut = buf.rfind(b"\n")
            if cut < 0:
                continue
            complete = pos + cut + 1
            start = buf.rfind(b"\n", 0, cut)
            if start < 0 and pos > 0:
                continue
            try:
                return _decoder.decode(buf[start + 1 : cut]).seq, complete
            except msgspec.DecodeError as exc:
                raise JournalError(f"journal: {segment}: last entry is corrupt: {exc}", retryable=False) from None
    return 0, 0


class FileJournal:
    def __init__(self, root: str | Path, *, clock: Clock | None = None, segment_entries: int = 10_000) -> None:
        self.root = Path(root)
        self._clock = clock or SystemClock()
        self._segment_entries = segment_entries

    async def connect(self) -> None:
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"journal: cannot create {self.root}: {exc.strerror}", retryable=False) from None

    async def close(self) -> None:
        return None

    def _folder(self, topic: str) -> Path:
        if not topic or "/" in topic or topic.startswith("."):
            raise JournalError(f"journal: invalid topic {topic!r}", retryable=False)
        return self.root / topic

    @contextmanager
    def _locked(self, folder: Path) -> Iterator[None]:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def append(self, topic: str, data: dict[str, Any]) -> int:
        (seq,) = await self.append_many(topic, [data])
        return seq

    async def append_many(self, topic: str, items: list[dict[str, Any]]) -> list[int]:
        """Append several entries under one lock and one fsync (same result as ``append`` each)."""
        folder = self._folder(topic)
        checked = [checked_data(topic, data) for data in items]
        if not checked:
            return []
        try:
            return await asyncio.to_thread(self._append_many, folder, checked)
        except OSError as exc:
            raise JournalError(f"journal: cannot append to {folder}: {exc.strerror or exc}") from None

    def _append_many(self, folder: Path, items: list[dict[str, Any]]) -> list[int]:
        with self._locked(folder):
            segments = _segments(folder)
            last, segment = 0, None
            if segments:
                segment = segments[-1]
                last, complete = _tail(segment)
                if last == 0:
                    last = _first_seq(segment) - 1
                if complete != segment.stat().st_size:
                    os.truncate(segment, complete)
            seqs: list[int] = []
            pending: dict[Path, list[bytes]] = {}
            now = self._clock.now_ns()
            for data in items:
                seq = last = last + 1
                if segment is None or seq - _first_seq(segment) >= self._segment_entries:
                    segment = folder / f"{seq:012d}{_SUFFIX}"
                pending.setdefault(segment, []).append(_encoder.encode(Entry(seq=seq, ts=now, data=data)) + b"\n")
                seqs.append(seq)
            for path, lines in pending.items():
                with open(path, "ab") as f:
                    f.write(b"".join(lines))
                    f.flush()
                    os.fsync(f.fileno())
            return seqs

    async def read(self, topic: str, start: StartPosition = StartPosition()) -> AsyncIterator[Entry]:
        folder = self._folder(topic)
        end = await self.last_seq(topic)
        if start.kind == "new" or end == 0:
            return
        segments = await asyncio.to_thread(_segments, folder)
        for i, segment in enumerate(segments):
            if start.kind == "seq" and i + 1 < len(segments) and _first_seq(segments[i + 1]) <= start.value:
                continue
            entries = await asyncio.to_thread(self._load, segment)
            for entry in entries:
                if entry.seq > end:
                    return
                if start.kind == "seq" and entry.seq < start.value:
                    continue
                if start.kind == "time" and entry.ts < start.value:
                    continue
                yield entry

    def _load(self, segment: Path) -> list[Entry]:
        try:
            raw = segment.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
            try:
                out.append(_decoder.decode(line))
            except msgspec.DecodeError as exc:
                raise JournalError(f"journal: {segment}:{number}: {exc}", retryable=False) from None
        return out

    async def last_seq(self, topic: str) -> int:
        folder = self._folder(topic)

        def last() -> int:
            segments = _segments(folder)
            if not segments:
                return 0
            seq, _ = _tail(segments[-1])
            return seq or _first_seq(segments[-1]) - 1

        return await asyncio.to_thread(last)

    async def topics(self, prefix: str = "") -> list[str]:
        def scan() -> list[str]:
            if not self.root.is_dir():
                return []
            return sorted(p.name for p in self.root.iterdir()
                          if p.is_dir() and p.name.startswith(prefix) and _segments(p))

        return await asyncio.to_thread(scan)

    async def delete_topic(self, topic: str) -> int:
        folder = self._folder(topic)

        def remove() -> int:
            n = 0
            with self._locked(folder):
                for segment in _segments(folder):
                    n += len(self._load(segment))
                    segment.unlink()
            return n

        return await asyncio.to_thread(remove)
