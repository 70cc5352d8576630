"""The raw archive: one JSON line per frame, zstd-compressed files (pure, no I/O).

Line format (the contract shared with fixtures and the simulator)::

    {"received_at": <ns>, "conn": "<id>", "channel": "<channel>", "type": "<msg type>",
     "sid": <int|null>, "seq": <int|null>, "frame": "<frame text exactly as received>"}

A file is a concatenation of zstd frames, one per flush: an open file is rewritten whole
(old frames + the new one) at each flush, so every flushed frame is durable and a file
under its final name is always a complete, readable zstd stream. ``RawFile`` holds the
compressed frames and the per-file statistics that go into the day's manifest.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import zstandard

from ssmd.errors import DataError


class RawLine(msgspec.Struct):
    received_at: int
    conn: str
    channel: str
    type: str
    sid: int | None
    seq: int | None
    frame: str


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RawLine)


def line_from_message(subject: str, headers: dict[str, str], data: bytes, stored_ns: int) -> RawLine:
    """The archive line of a raw frame published by the connector (headers per the
    contract: received_at, conn, channel, type, sid, seq)."""
    sid, seq = headers.get("sid"), headers.get("seq")
    return RawLine(
        received_at=int(headers.get("received_at") or stored_ns),
        conn=headers.get("conn", ""),
        channel=headers.get("channel") or subject.rsplit(".", 1)[-1],
        type=headers.get("type", ""),
        sid=int(sid) if sid else None,
        seq=int(seq) if seq else None,
        frame=data.decode("utf-8", errors="replace"),
    )


def encode_lines(lines: list[RawLine]) -> bytes:
    return _encoder.encode_lines(lines)


def compress(data: bytes, level: int = 3) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def decompress(data: bytes, name: str) -> bytes:
    """All frames of a ``.jsonl.zst`` file; a damaged or truncated file raises DataError."""
    dctx = zstandard.ZstdDecompressor()
    out: list[bytes] = []
    rest = data
    try:
        while rest:
            obj = dctx.decompressobj()
            out.append(obj.decompress(rest))
            if not obj.eof:
                raise DataError(f"{name}: truncated zstd data (file ends inside a frame)")
            rest = obj.unused_data
    except zstandard.ZstdError as exc:
        raise DataError(f"{name}: corrupt zstd data ({exc})") from None
    return b"".join(out)


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


def read_raw(data: bytes, name: str) -> list[RawLine]:
    """Decode a raw archive file (``.jsonl.zst`` or plain ``.jsonl``)."""
    text = decompress(data, name) if name.endswith(".zst") else data
    return list(iter_lines(text, name))


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

    def add(self, line: RawLine) -> None:
        self.records += 1
        t = line.received_at
        if self.first_received_at is None or t < self.first_received_at:
            self.first_received_at = t
        if self.last_received_at is None or t > self.last_received_at:
            self.last_received_at = t
        self.counts[line.type] = self.counts.get(line.type, 0) + 1
        if line.sid is not None and line.seq is not None:
            key = str(line.sid)
            rng = self.seq_ranges.get(key)
            if rng is None:
                self.seq_ranges[key] = [line.seq, line.seq, 1]
            else:
                rng[0] = min(rng[0], line.seq)
                rng[1] = max(rng[1], line.seq)
                rng[2] += 1


class RawFile:
    """One open raw file: committed zstd frames plus lines waiting for the next flush."""

    def __init__(self, name: str, channel: str, opened: float) -> None:
        self.opened = opened
        self.frames: list[bytes] = []
        self.stats = FileStats(name=name, channel=channel)
        self.pending: list[RawLine] = []
        self._pending_frame: bytes | None = None

    @property
    def committed_bytes(self) -> int:
        return self.stats.bytes

    def add(self, line: RawLine) -> None:
        self.pending.append(line)
        self._pending_frame = None

    def next_content(self) -> bytes:
        """The whole file as it is after the pending lines are flushed."""
        if self._pending_frame is None:
            self._pending_frame = compress(encode_lines(self.pending)) if self.pending else b""
        return b"".join(self.frames) + self._pending_frame

    def commit(self) -> int:
        """The pending lines are durable: fold them into the file. Returns lines committed."""
        frame = self._pending_frame if self._pending_frame is not None else compress(encode_lines(self.pending))
        if self.pending:
            self.frames.append(frame)
        self.stats.bytes = sum(len(f) for f in self.frames)
        for line in self.pending:
            self.stats.add(line)
        n = len(self.pending)
        self.pending = []
        self._pending_frame = None
        return n
