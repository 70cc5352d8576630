"""Where archive objects live (pure naming; see ARCHITECTURE.md "Storage").

* raw: ``{raw bucket}/{env}/{feed}/YYYY/MM/DD/{channel}-{n}.jsonl.zst`` + ``manifest.json``
* normalized: ``{normalized bucket}/{env}/{feed}/v1/{type}/date=YYYY-MM-DD/*.parquet``

Parquet part files are named ``part-{ns:019d}-{k:04d}.parquet`` (ns = flush time), so name
order is write order; day-end compaction leaves one ``compacted.parquet`` per type and day.
"""

from __future__ import annotations

import re

import msgspec

from ssmd.config.model import Environment

SCHEMA_VERSION = "v1"
COMPACTED_NAME = "compacted.parquet"
_RAW_NAME = re.compile(r"^(?P<channel>.+)-(?P<n>\d+)\.jsonl\.zst$")
_DATE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


class Layout(msgspec.Struct, frozen=True):
    """What naming needs of an environment: its two buckets, its name and its feed."""

    raw_bucket: str
    normalized_bucket: str
    env: str
    feed: str

    @classmethod
    def of(cls, env: Environment) -> Layout:
        buckets = env.storage.buckets
        return cls(buckets.raw, buckets.normalized, env.name, env.feed)


def raw_day_prefix(where: Layout, date: str) -> str:
    yyyy, mm, dd = date.split("-")
    return f"{where.raw_bucket}/{where.env}/{where.feed}/{yyyy}/{mm}/{dd}"


def raw_file_path(where: Layout, date: str, channel: str, n: int) -> str:
    return f"{raw_day_prefix(where, date)}/{channel}-{n}.jsonl.zst"


def manifest_path(where: Layout, date: str) -> str:
    return f"{raw_day_prefix(where, date)}/manifest.json"


def parse_raw_name(name: str) -> tuple[str, int] | None:
    """(channel, n) of a raw file name, or None if it is not one."""
    m = _RAW_NAME.match(name.rsplit("/", 1)[-1])
    return (m["channel"], int(m["n"])) if m else None


def normalized_root(where: Layout) -> str:
    return f"{where.normalized_bucket}/{where.env}/{where.feed}/{SCHEMA_VERSION}"


def type_prefix(where: Layout, record_type: str) -> str:
    return f"{normalized_root(where)}/{record_type}"


def partition_prefix(where: Layout, record_type: str, date: str) -> str:
    return f"{type_prefix(where, record_type)}/date={date}"


def part_path(where: Layout, record_type: str, date: str, flush_ns: int, k: int) -> str:
    return f"{partition_prefix(where, record_type, date)}/part-{flush_ns:019d}-{k:04d}.parquet"


def flush_ns_of(name: str) -> int:
    """The flush time in a part file's name (``part-{ns}-{k}.parquet``)."""
    return int(name.split("-", 2)[1])


def compacted_path(where: Layout, record_type: str, date: str) -> str:
    return f"{partition_prefix(where, record_type, date)}/{COMPACTED_NAME}"


def date_of(path: str) -> str | None:
    """The ``date=`` partition of a normalized path."""
    m = _DATE.search(path)
    return m.group(1) if m else None


def type_of(where: Layout, path: str) -> str | None:
    """The record type of a normalized path under this environment's root."""
    root = normalized_root(where) + "/"
    if not path.startswith(root):
        return None
    return path[len(root) :].split("/", 1)[0]
