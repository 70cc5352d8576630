"""The security master: which markets exist, what they are, and whether they trade.

Reads Kalshi REST (``ssmd.kalshi.rest``, via ``fetch``), keeps the markets in the cache
(``store``), journals every change to ``{env}.secmaster.changes`` (``diff``, ``journal``),
keeps a Parquet history for DuckDB (``history``, views in ``sql/secmaster.sql``), follows
the WebSocket lifecycle records and the clock between syncs (``lifecycle``, ``created``),
and tells the connector what to follow (``selection``, ``hook``; ``journal.ChangeFollower``
for a connector in another process). Pure logic lives in ``model``, ``diff``,
``lifecycle`` and ``selection``; ``service`` and ``loops`` are the async shell.

May import: ssmd core modules, ssmd.kalshi.rest, ssmd.middleware interfaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssmd.secmaster.service import SecmasterService, SyncSummary

__all__ = ["SecmasterService", "SyncSummary"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ssmd.secmaster import service

        return getattr(service, name)
    raise AttributeError(name)
