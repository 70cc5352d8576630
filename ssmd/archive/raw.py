"""The raw archive: one JSON line per frame, zstd-compressed files (pure, no I/O).

Line format (the contract shared with fixtures and the simulator)::

    {"received_at": <ns>, "conn": "<id>", "channel": "<channel>", "type": "<msg type>",
     "sid": <int|null>, "seq": <int|null>, "frame": "<frame text exactly as received>"}

A file is a concatenation of zstd frames, one per flush. Where the storage appends (local
files) a flush writes only its new frame at the file's committed size; an object store
gets the open file rewritten whole (old frames + the new one), so ``RawFile`` keeps the
compressed frames there, and only there. Every flushed frame is durable. A write cut short
(a crash, a full disk) can leave a torn last frame on local storage: ``complete_length``
finds the end of the last whole frame, and the next writer of that channel and day cuts
the file back to it (the lines of a torn frame were never acked: they come again).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import zstandard

from ssmd.errors import DataError
from ssmd.rawline import RawLine

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_HEADER = 18
"""The longest zstd frame header: magic, descriptor, window, dictionary id, content size."""
_RLE_BLOCK = 1
"""Block type whose content is one byte, whatever its size field says."""
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RawLine)


def encode_lines(lines: list[RawLine]) -> bytes:
    return _encoder.encode_lines(lines)


def compress(data: bytes, level: int = 3) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def decompress(data: bytes, name: str) -> bytes:
    """All frames of a ``.jsonl.zst`` file; a damaged or truncated file raises DataError."""
    return b"".join(iter_frames(data, name))


def complete_length(data: bytes) -> int:
    """Bytes of ``data`` that are whole zstd frames: ``len(data)`` for an intact file, less
    when it ends inside a frame (a write cut short) or with bytes that are not a frame."""
    offset = 0
    while offset < len(data):
        end = _frame_end(data, offset)
        if end is None:
            return offset
        offset = end
    return offset


def torn_tail(data: bytes) -> int | None:
    """Where a torn last frame (a write cut short) begins: the bytes after the last whole
    frame are the start of a zstd frame, nothing else. None when the file is whole, or
    damaged in a way that cutting would not repair (then it must be kept as it is)."""
    whole = complete_length(data)
    tail = data[whole:]
    if not tail or not _ZSTD_MAGIC.startswith(tail[:4]):
        return None
    return whole


def _frame_end(data: bytes, offset: int) -> int | None:
    """Where the zstd frame at ``offset`` ends, read from its frame and block headers alone
    (RFC 8878); None when ``data`` ends inside it or holds no frame there."""
    try:
        pos = offset + zstandard.frame_header_size(data[offset:offset + _MAX_HEADER])
    except zstandard.ZstdError:
        return None
    checksum = data[offset + 4] & 0x04
    while True:
        if pos + 3 > len(data):
            return None
        block = int.from_bytes(data[pos:pos + 3], "little")
        pos += 3 + (1 if (block >> 1) & 3 == _RLE_BLOCK else block >> 3)
        if block & 1:  # the frame's last block
            break
    end = pos + (4 if checksum else 0)
    return end if end <= len(data) else None


def iter_lines(text: bytes, name: str) -> Iterator[RawLine]:
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _decoder.decode(line)
        except msgspec.ValidationError as exc:
            raise DataError(f"{name}: line {i}: {exc}") from None
        except msgspec.DecodeError:
            raise DataError(f"{name}: line {i}: not a raw archive JSON line") from None


def iter_frames(data: bytes, name: str) -> Iterator[bytes]:
    """The decompressed zstd frames of a ``.jsonl.zst`` file one at a time (memory bound to
    one flush's lines); a damaged or truncated file raises DataError where it breaks."""
    dctx = zstandard.ZstdDecompressor()
    view = memoryview(data)
    offset = 0
    try:
        while offset < len(data):
            end = _frame_end(data, offset)
            obj = dctx.decompressobj()
            yield obj.decompress(view[offset:] if end is None else view[offset:end])
            if not obj.eof:
                raise DataError(f"{name}: truncated zstd data (file ends inside a frame)")
            offset = len(data) - len(obj.unused_data) if end is None else end
    except zstandard.ZstdError as exc:
        raise DataError(f"{name}: corrupt zstd data ({exc})") from None


def scan_stats(data: bytes, name: str, channel: str) -> FileStats:
    """The manifest facts of a raw file, read frame by frame (never the whole file's lines)."""
    stats = FileStats(name=name.rsplit("/", 1)[-1], channel=channel, bytes=len(data))
    for text in iter_frames(data, name):
        stats.add_lines(list(iter_lines(text, name)))
    return stats


def read_raw(data: bytes, name: str) -> list[RawLine]:
    """Decode a raw archive file (``.jsonl.zst`` or plain ``.jsonl``)."""
    text = decompress(data, name) if name.endswith(".zst") else data
    return list(iter_lines(text, name))


def read_durable(data: bytes, name: str) -> list[RawLine]:
    """The lines of a ``.jsonl.zst`` file's whole frames: those a write made durable (a
    torn last frame, never acked, is left out; a file damaged otherwise raises DataError)."""
    return read_raw(data[:complete_length(data)], name)


class FileStats(msgspec.Struct, kw_only=True):
    """Per-file facts recorded in the manifest."""

    name: str
    channel: str
    records: int = 0
    bytes: int = 0
    """Compressed size."""
    first_received_at: int | None = None
    last_received_at: int | None = None
    counts: dict[str, int] = {}
    """Frames by message type."""
    seq_ranges: dict[str, list[int]] = {}
    """sid → [first seq, last seq, frames with a seq]."""
    unreadable: str | None = None
    """Why the file could not be read back when the day was verified (then the other facts
    are the last ones known); verified again each time until it reads."""

    def add_lines(self, lines: list[RawLine]) -> None:
        if not lines:
            return
        self.records += len(lines)
        times = [line.received_at for line in lines]
        first, last = min(times), max(times)
        if self.first_received_at is None or first < self.first_received_at:
            self.first_received_at = first
        if self.last_received_at is None or last > self.last_received_at:
            self.last_received_at = last
        counts = self.counts
        ranges: dict[int, list[int]] = {}
        for line in lines:
            counts[line.type] = counts.get(line.type, 0) + 1
            sid, seq = line.sid, line.seq
            if sid is not None and seq is not None:
                rng = ranges.get(sid)
                if rng is None:
                    ranges[sid] = [seq, seq, 1]
                else:
                    if seq < rng[0]:
                        rng[0] = seq
                    if seq > rng[1]:
                        rng[1] = seq
                    rng[2] += 1
        for sid, (lo, hi, n) in ranges.items():
            key = str(sid)
            rng = self.seq_ranges.get(key)
            if rng is None:
                self.seq_ranges[key] = [lo, hi, n]
            else:
                rng[0], rng[1], rng[2] = min(rng[0], lo), max(rng[1], hi), rng[2] + n


class RawFile:
    """One open raw file: lines waiting for the next flush, the zstd frame a write is
    carrying, and (``keep_frames``, for storage that cannot append) the committed frames.

    A write covers the first ``n`` pending lines (those buffered when it began); lines that
    arrive while it is in flight wait for the next one.
    """

    def __init__(self, name: str, channel: str, opened: float, *, keep_frames: bool = True) -> None:
        self.opened = opened
        self.keep_frames = keep_frames
        self.frames: list[bytes] = []
        """Committed frames, kept only with ``keep_frames`` (the whole file is rewritten)."""
        self.stats = FileStats(name=name, channel=channel)
        self.pending: list[RawLine] = []
        self._frame: tuple[int, bytes] | None = None
        """(n, the zstd frame of the first n pending lines), kept for a retried write."""

    @property
    def committed_bytes(self) -> int:
        return self.stats.bytes

    def add(self, line: RawLine) -> None:
        self.pending.append(line)

    def pending_frame(self, n: int | None = None) -> bytes:
        """The zstd frame of the first ``n`` (default: all) pending lines: what an append writes."""
        n = len(self.pending) if n is None else n
        if self._frame is None or self._frame[0] != n:
            self._frame = (n, compress(encode_lines(self.pending[:n])) if n else b"")
        return self._frame[1]

    def next_content(self, n: int | None = None) -> bytes:
        """The whole file as it is after the first ``n`` (default: all) pending lines are
        flushed (what a rewrite writes; needs ``keep_frames``)."""
        assert self.keep_frames, "the committed frames were not kept"
        return b"".join([*self.frames, self.pending_frame(n)])

    def commit(self, n: int | None = None) -> int:
        """The first ``n`` (default: all) pending lines are durable: fold them into the file.
        Returns lines committed."""
        n = len(self.pending) if n is None else n
        if n:
            frame = self.pending_frame(n)
            if self.keep_frames:
                self.frames.append(frame)
            self.stats.bytes += len(frame)
            self.stats.add_lines(self.pending[:n])
            del self.pending[:n]
        self._frame = None
        return n
