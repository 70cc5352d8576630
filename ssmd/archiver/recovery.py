"""What an earlier archiver run wrote last: the facts that make redelivery safe.

* Parquet part files carry ``ssmd.last_seq`` (the highest stream sequence they hold) in
  their footer; the newest part per record type gives that consumer's watermark.
* Raw lines are recognised by content, ``(conn, received_at)``, read back from the newest
  raw file of each channel.

The archiver reads them for a day when the first redelivery of that day arrives: a delivery
that is still unacked was written at most one flush before the previous run stopped.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive.parquet import META_LAST_SEQ
from ssmd.archive.raw import read_durable
from ssmd.archiver.policy import Deduper
from ssmd.config.model import Environment
from ssmd.errors import DataError
from ssmd.log import get_logger

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage

log = get_logger("archiver")


async def newest_part(env: Environment, storage: Storage, record_type: str, date: str,
                      before_ns: int | None = None) -> str | None:
    """The newest part file of (type, day) (flushed before ``before_ns``, if given): part
    names carry their flush time, so name order is write order."""
    parts = [i.path for i in await storage.list(layout.partition_prefix(layout.Layout.of(env), record_type, date) + "/")
             if (name := i.path.rsplit("/", 1)[-1]).startswith("part-")
             and (before_ns is None or layout.flush_ns_of(name) < before_ns)]
    return max(parts, default=None)


async def watermark(env: Environment, storage: Storage, record_type: str, date: str,
                    before_ns: int | None = None) -> int:
    """Highest stream sequence in the newest part file of (type, day) flushed before
    ``before_ns`` (this run's start: its own files say nothing of what earlier runs left
    unacked, and redeliveries may come after it wrote newer messages); 0 if none."""
    newest = await newest_part(env, storage, record_type, date, before_ns)
    if newest is None:
        return 0
    try:
        meta = pq.read_metadata(pa.BufferReader(await storage.get(newest)))
    except (OSError, pa.ArrowInvalid):
        log.warning("newest part file unreadable; redeliveries of it may be archived twice", path=newest)
        return 0
    raw = (meta.metadata or {}).get(META_LAST_SEQ)
    return int(raw) if raw else 0


async def raw_keys(env: Environment, storage: Storage, date: str,
                   own: frozenset[str] = frozenset()) -> set[Hashable]:
    """(conn, received_at) of every line in the newest raw file of each channel of the day
    that an earlier run wrote (``own``: the names of the files this run created)."""
    where = layout.Layout.of(env)
    keys: set[Hashable] = set()
    newest: dict[str, tuple[int, str]] = {}
    for info in await storage.list(layout.raw_day_prefix(where, date) + "/"):
        parsed = layout.parse_raw_name(info.path)
        if parsed and info.path.rsplit("/", 1)[-1] not in own and parsed[1] > newest.get(parsed[0], (0, ""))[0]:
            newest[parsed[0]] = (parsed[1], info.path)
    for _, path in newest.values():
        try:
            lines = read_durable(await storage.get(path), path)
        except DataError as exc:
            log.warning("newest raw file unreadable", path=path, error=str(exc))
            continue
        keys.update((line.conn, line.received_at) for line in lines)
    return keys


async def learn(env: Environment, storage: Storage, consumer: str, date: str, dedup: Deduper,
                before_ns: int | None = None, own_raw: frozenset[str] = frozenset()) -> bool:
    """Teach ``dedup`` what earlier runs wrote for (consumer, day); False if storage could
    not be read (then redeliveries are judged by this run's memory; compaction removes
    any leftover duplicate rows)."""
    try:
        if consumer == "raw":
            dedup.known |= await raw_keys(env, storage, date, own_raw)
        else:
            dedup.watermark = max(dedup.watermark, await watermark(env, storage, consumer, date, before_ns))
    except Exception as exc:
        log.warning("cannot read back the archive to de-duplicate", date=date, error=str(exc))
        return False
    return True
