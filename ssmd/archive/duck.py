"""DuckDB connections that can read the archive wherever it is stored.

Local storage gives plain paths. Other storage (S3, memory) is read through its fsspec
filesystem, which the storage registers on the connection (``register_with``; DuckDB
cannot download httpfs here, and this keeps one client path and one set of credentials).
"""

from __future__ import annotations

from typing import Any, Protocol

import duckdb

from ssmd.errors import DataError, StorageError


class Storage(Protocol):
    """What a connection needs of ``ssmd.middleware``'s storage (which this package does
    not import): its URLs, and making them readable."""

    def url(self, path: str) -> str: ...
    def register_with(self, con: Any) -> None: ...


def connect(storage: Storage | None = None, database: str = ":memory:", *, read_only: bool = False) -> Any:
    con = duckdb.connect(database, read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    if storage is not None:
        register(con, storage)
    return con


def register(con: Any, storage: Storage) -> None:
    try:
        storage.register_with(con)
    except duckdb.Error as exc:
        if "already" not in str(exc).lower():
            raise StorageError(f"cannot register the {storage.url('x/y').partition('://')[0]} filesystem "
                               f"with DuckDB: {exc}") from None


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def path_list(urls: list[str]) -> str:
    return "[" + ", ".join(sql_literal(u) for u in urls) + "]"


def translate(exc: Exception, what: str) -> Exception:
    """DuckDB errors about a file → DataError naming it; others → DataError with the query."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{what}: {message}")
