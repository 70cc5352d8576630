"""Replay of the original frames from the raw archive (``ssmd data replay --raw``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ssmd.archive import layout
from ssmd.archive.raw import RawLine, read_raw
from ssmd.catalog.catalog import run_sync
from ssmd.catalog.replay import ReplayQuery, raw_mentions
from ssmd.config.model import Environment

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage


def _wanted_type(line_type: str, types: list[str]) -> bool:
    """Record types select wire types by name: ``orderbook`` covers ``orderbook_delta`` and
    ``orderbook_snapshot``, ``lifecycle`` covers ``market_lifecycle_v2`` and friends."""
    return any(t in line_type for t in types)


async def raw_lines(env: Environment, storage: Storage, q: ReplayQuery) -> list[RawLine]:
    """Lines of the day mentioning the symbols, within the window, by receive time."""
    where = layout.Layout.of(env)
    out: list[RawLine] = []
    for info in await storage.list(layout.raw_day_prefix(where, q.date) + "/"):
        if layout.parse_raw_name(info.path) is None:
            continue
        for line in read_raw(await storage.get(info.path), info.path):
            if q.start_ns is not None and line.received_at < q.start_ns:
                continue
            if q.end_ns is not None and line.received_at >= q.end_ns:
                continue
            if _wanted_type(line.type, q.types) and raw_mentions(line.frame, q.symbols):
                out.append(line)
    out.sort(key=lambda line: line.received_at)
    return out


def replay_raw(env: Environment, storage: Storage, q: ReplayQuery) -> Iterator[tuple[int, str]]:
    """(received_at ns, frame text) in receive order."""
    for line in run_sync(raw_lines(env, storage, q)):
        yield line.received_at, line.frame
