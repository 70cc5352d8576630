"""The archiver: raw frames → ``.jsonl.zst`` + day manifests, normalized records → Parquet.

Public API: ``Archiver`` (the component), ``verify_day`` and ``compact_day`` (day-end
steps). Pure parts (column contract, file naming, raw line format, manifest, flush and
de-duplication policy) live in their own modules and never touch storage or the clock.
May import: ssmd core modules, ssmd.catalog.duck; never the gateway, connector or TUI.
"""

from ssmd.archiver.day import CompactReport, VerifyReport, compact_day, verify_day
from ssmd.archiver.service import Archiver

__all__ = ["Archiver", "CompactReport", "VerifyReport", "compact_day", "verify_day"]
