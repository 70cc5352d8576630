"""The day manifest (``manifest.json`` beside the day's raw files), pure.

Seed fields: feed, date, data_type, schema_version, status, record_count, byte_size,
first_timestamp, last_timestamp, gaps, quality_score, connector_version, created_at.
Added: per-file statistics (counts by message type, seq ranges per sid), merged counts and
seq ranges, the normalized datasets' row counts, and the verification outcome.

``status``: ``open`` while the archiver writes the day, ``complete`` once ``verify_day``
found every file readable and the counts consistent, ``incomplete`` otherwise.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ssmd import __version__
from ssmd.archive.raw import FileStats
from ssmd.clock import rfc3339
from ssmd.status import GapInfo

Status = Literal["open", "complete", "incomplete"]


class TypeStats(msgspec.Struct, kw_only=True):
    rows: int = 0
    files: int = 0
    bytes: int = 0
    first_ts: int | None = None
    last_ts: int | None = None


class Manifest(msgspec.Struct, kw_only=True):
    feed: str
    date: str
    data_type: str = "raw"
    schema_version: str = "v1"
    status: Status = "open"
    record_count: int = 0
    byte_size: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    gaps: list[GapInfo] = []
    quality_score: float = 1.0
    connector_version: str = __version__
    created_at: str = ""
    updated_at: str = ""
    files: list[FileStats] = []
    counts: dict[str, int] = {}
    """Raw frames by message type, over every file of the day."""
    seq_ranges: dict[str, list[int]] = {}
    """sid → [first seq, last seq, frames with a seq], over every file."""
    normalized: dict[str, TypeStats] = {}
    """Rows written per record type (before compaction's de-duplication)."""
    verified_at: str | None = None
    problems: list[str] = []
    completeness: str = "complete"
    """complete (no gap) | healed (every gap healed) | degraded, set by ``verify_day``
    (see ``ssmd.archive.completeness``)."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Manifest)


def encode(manifest: Manifest) -> bytes:
    return msgspec.json.format(_encoder.encode(manifest), indent=2)


def decode(data: bytes) -> Manifest:
    return _decoder.decode(data)


def new_manifest(feed: str, date: str, now_ns: int) -> Manifest:
    stamp = rfc3339(now_ns)
    return Manifest(feed=feed, date=date, created_at=stamp, updated_at=stamp)


def put_file(manifest: Manifest, stats: FileStats) -> None:
    """Insert or replace one file's statistics and recompute the day totals."""
    files = [f for f in manifest.files if f.name != stats.name]
    files.append(msgspec.structs.replace(stats, counts=dict(stats.counts),
                                         seq_ranges={k: list(v) for k, v in stats.seq_ranges.items()}))
    files.sort(key=lambda f: f.name)
    manifest.files = files
    summarize(manifest)


def gap_key(gap: GapInfo) -> tuple[str, str, int, int | None]:
    """Gaps are identified by kind, channel, start and sid; later versions add facts."""
    return (gap.kind, gap.channel, gap.start_ns, gap.sid)


def add_gap(manifest: Manifest, gap: GapInfo) -> bool:
    """Record a gap once; a later version of it adds its end or its healing, never takes
    them away. True when the manifest changed."""
    key = gap_key(gap)
    for i, g in enumerate(manifest.gaps):
        if gap_key(g) == key:
            merged = msgspec.structs.replace(gap, end_ns=gap.end_ns if gap.end_ns is not None else g.end_ns,
                                             healed=gap.healed or g.healed)
            if merged == g:
                return False
            manifest.gaps[i] = merged
            return True
    manifest.gaps.append(gap)
    manifest.gaps.sort(key=lambda g: g.start_ns)
    return True


def add_rows(manifest: Manifest, record_type: str, rows: int, size: int, first_ts: int, last_ts: int) -> None:
    stats = manifest.normalized.setdefault(record_type, TypeStats())
    stats.rows += rows
    stats.files += 1
    stats.bytes += size
    stats.first_ts = first_ts if stats.first_ts is None else min(stats.first_ts, first_ts)
    stats.last_ts = last_ts if stats.last_ts is None else max(stats.last_ts, last_ts)


def summarize(manifest: Manifest) -> None:
    counts: dict[str, int] = {}
    ranges: dict[str, list[int]] = {}
    first: int | None = None
    last: int | None = None
    for f in manifest.files:
        for kind, n in f.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        for sid, (lo, hi, n) in f.seq_ranges.items():
            cur = ranges.get(sid)
            ranges[sid] = [lo, hi, n] if cur is None else [min(cur[0], lo), max(cur[1], hi), cur[2] + n]
        if f.first_received_at is not None:
            first = f.first_received_at if first is None else min(first, f.first_received_at)
        if f.last_received_at is not None:
            last = f.last_received_at if last is None else max(last, f.last_received_at)
    manifest.counts = counts
    manifest.seq_ranges = ranges
    manifest.record_count = sum(f.records for f in manifest.files)
    manifest.byte_size = sum(f.bytes for f in manifest.files)
    manifest.first_timestamp = None if first is None else rfc3339(first)
    manifest.last_timestamp = None if last is None else rfc3339(last)


def missing_seqs(seq_ranges: dict[str, list[int]]) -> int:
    """Sequence numbers absent between each sid's first and last (an upper bound when
    sids were reused across connections)."""
    return sum(max(0, hi - lo + 1 - n) for lo, hi, n in seq_ranges.values())


def quality_score(manifest: Manifest, day_start_ns: int, day_end_ns: int, now_ns: int) -> float:
    """1.0 = every second of the day covered and no sequence hole.

    ``(1 - outage share of the day so far) * (1 - missing share of sequenced frames)``,
    rounded to 4 places. Open-ended outages count until ``now_ns`` (or the day's end).
    """
    horizon = max(day_start_ns + 1, min(day_end_ns, now_ns))
    span = horizon - day_start_ns
    down = 0
    for gap in manifest.gaps:
        if gap.kind != "outage":
            continue
        start = max(gap.start_ns, day_start_ns)
        end = min(gap.end_ns if gap.end_ns is not None else horizon, horizon)
        down += max(0, end - start)
    outage_share = min(1.0, down / span)
    expected = sum(hi - lo + 1 for lo, hi, _ in manifest.seq_ranges.values())
    hole_share = missing_seqs(manifest.seq_ranges) / expected if expected else 0.0
    return round(max(0.0, (1.0 - outage_share) * (1.0 - hole_share)), 4)
