"""The archiver: raw frames → ``.jsonl.zst`` + day manifests, normalized records → Parquet.

Public API: ``Archiver`` (the component), ``verify_day`` and ``compact_day`` (day-end
steps). ``policy`` (flush and de-duplication) is pure; ``sinks`` and ``recovery`` move
bytes to and from storage. What the archive looks like (file naming, raw line format,
manifest, column contract, Parquet encoding) is the contract in ``ssmd.archive``, shared
with the catalog, backfill and healer.
May import: ssmd core modules, ``ssmd.archive``, ``ssmd.codec``; never the catalog, the
day lifecycle, the gateway, connector, CLI or TUI.
"""

from ssmd.archiver.day import CompactReport, VerifyReport, compact_day, verify_day
from ssmd.archiver.service import Archiver

__all__ = ["Archiver", "CompactReport", "VerifyReport", "compact_day", "verify_day"]
