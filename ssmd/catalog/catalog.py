"""The catalog: a DuckDB database beside the archive with the index, views and macros.

Views (``trades``, ``tickers``, ``orderbook``, ``lifecycle``, ``markets``, ``files``,
``days``, ``gaps``) and macros (``ohlcv``, ``vwap``, ``spread``, ``book_at``, ``gaps_on``)
come from the ``sql/`` folder (``ssmd.resources.sql_dir()``), so they load from a wheel too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import duckdb
import pyarrow as pa

from ssmd.archive import duck, layout
from ssmd.catalog import index
from ssmd.config.model import Environment
from ssmd.errors import DataError, SsmdError
from ssmd.resources import sql_dir

if TYPE_CHECKING:
    from ssmd.middleware.cache.base import Cache
    from ssmd.middleware.storage.base import Storage

T = TypeVar("T")
_DUCK_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "bool": "BOOLEAN"}


class ReadSide(Protocol):
    """What a catalog reads through: the archive's storage and, for market metadata, the
    cache (None: no markets view refresh). ``open_backends``'s ``Backends`` is one."""

    @property
    def storage(self) -> Storage: ...
    @property
    def cache(self) -> Cache | None: ...
    async def close(self) -> None: ...


def catalog_path(env: Environment) -> str:
    """Where the catalog database lives: beside local data, in a cache folder otherwise."""
    if env.storage.type == "local":
        from ssmd.middleware.factory import local_root

        return str(Path(local_root(env)) / "catalog.duckdb")
    if env.storage.type == "memory":
        return ":memory:"
    root = Path(os.environ.get("SSMD_CACHE_DIR") or Path.home() / ".cache" / "ssmd")
    return str(root / env.name / "catalog.duckdb")


_TYPE_OF_VIEW = {"trades": "trade", "tickers": "ticker", "orderbook": "orderbook", "lifecycle": "lifecycle"}


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _duck_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    return _DUCK_TYPES[str(kind)]


def empty_relation(record_type: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {_duck_type(k)}) AS {n}" for n, k, _ in index.datasets()[record_type])
    return f"(SELECT {cols}, CAST(NULL AS DATE) AS date WHERE false)"


class Catalog:
    """An open catalog. ``sql(q)`` gives DuckDB relations; the helpers give Arrow tables."""

    def __init__(self, env: Environment, storage: Storage, con: Any, database: str) -> None:
        self.env = env
        self.where = layout.Layout.of(env)
        """Where this environment's archive objects are named (``ssmd.archive.layout``)."""
        self.storage = storage
        self.con = con
        self.database = database
        self.owned_backends: ReadSide | None = None
        """Backends opened for this catalog (closed with it)."""

    @classmethod
    async def open(cls, env: Environment, storage: Storage, *, database: str | None = None,
                   refresh: bool = True) -> Catalog:
        target = database or catalog_path(env)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duck.connect(storage, target)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise DataError(f"{target}: cannot open the catalog ({exc})") from None
            # another process (e.g. ``ssmd up`` serving a replay) holds the file: index privately,
            # silently (stdout may be carrying replay output)
            target = ":memory:"
            con = duck.connect(storage, target)
        catalog = cls(env, storage, con, target)
        con.execute(index.FILES_DDL)
        con.execute(index.DAYS_DDL)
        if refresh:
            await catalog.refresh()
        else:
            catalog.load_views()
        return catalog

    async def refresh(self) -> dict[str, int]:
        """Index new, changed and removed files and manifests, then rebuild the views."""
        counts = await index.refresh(self.con, self.env, self.storage)
        self.load_views()
        return counts

    def load_views(self) -> None:
        sources = {t: self._source(t) for t in index.datasets()}
        sources["coverage"] = self._coverage_source()
        for script in sorted(sql_dir().glob("*.sql")):
            text = script.read_text(encoding="utf-8")
            for record_type, source in sources.items():
                text = text.replace("{" + record_type + "}", source)
            try:
                self.con.execute(text)
            except duckdb.Error as exc:
                raise DataError(f"{script.name}: {exc}") from None
        try:  # the secmaster's market history views (sql/secmaster.sql) over its version files
            from ssmd.secmaster.history import register_views
        except ImportError:
            return
        register_views(self.con, self.env, self.storage)

    def _coverage_source(self) -> str:
        self.con.execute(index.COVERAGE_DDL)
        paths = [self.storage.url(p) for (p,) in self.con.execute(
            "SELECT path FROM ssmd_coverage_files ORDER BY date").fetchall()]
        if not paths:
            return ("(SELECT CAST(NULL AS VARCHAR) AS date, CAST(NULL AS VARCHAR) AS ticker, "
                    "CAST(NULL AS TIMESTAMPTZ) AS hour, CAST(NULL AS VARCHAR) AS status, "
                    "CAST(NULL AS BIGINT) AS ws_trades, CAST(NULL AS BIGINT) AS rest_trades, "
                    "CAST(NULL AS BIGINT) AS updates, CAST(NULL AS VARCHAR[]) AS gaps WHERE false)")
        return f"read_parquet({duck.path_list(paths)})"

    def _source(self, record_type: str) -> str:
        rows = self.con.execute(
            "SELECT path, date, status FROM ssmd_files WHERE type = ? ORDER BY path", [record_type]).fetchall()
        if not any(status == "ok" for _, _, status in rows):
            return empty_relation(record_type)
        opts = "hive_partitioning = true, union_by_name = true"
        bad_dates = {str(d) for _, d, status in rows if status != "ok"}
        root = self.storage.url(layout.type_prefix(self.where, record_type))
        if not bad_dates:
            return f"read_parquet({duck.sql_literal(root + '/date=*/*.parquet')}, {opts})"
        globs: list[str] = []
        for date in sorted({str(d) for _, d, _ in rows}):
            if date not in bad_dates:
                globs.append(self.storage.url(layout.partition_prefix(self.where, record_type, date)) + "/*.parquet")
        globs += [self.storage.url(p) for p, d, status in rows if str(d) in bad_dates and status == "ok"]
        return f"read_parquet({duck.path_list(globs)}, {opts})"

    # ---- queries ---------------------------------------------------------------------
    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """A DuckDB relation (``.arrow()``, ``.df()``, ``.show()``, ...)."""
        try:
            return self.con.sql(query, params=params)
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def query(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""
        try:
            return self.con.sql(query, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: duckdb.Error) -> SsmdError:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return DataError(f"query failed: {first}")

    def day_source(self, record_type: str, date: str) -> str:
        """The files of one type and day as a relation, without listing other days."""
        rows = self.con.execute("SELECT path, status FROM ssmd_files WHERE type = ? AND date = CAST(? AS DATE)",
                                [record_type, date]).fetchall()
        if not any(status == "ok" for _, status in rows):
            return f"(SELECT * EXCLUDE (date) FROM {empty_relation(record_type)})"
        if all(status == "ok" for _, status in rows):
            folder = self.storage.url(layout.partition_prefix(self.where, record_type, date))
            files = duck.sql_literal(folder + "/*.parquet")
        else:
            files = duck.path_list([self.storage.url(p) for p, status in rows if status == "ok"])
        # every column of the contract, also for files written before a column was added
        return (f"(SELECT * EXCLUDE (date) FROM {empty_relation(record_type)} UNION ALL BY NAME "
                f"SELECT * FROM read_parquet({files}, hive_partitioning = false, union_by_name = true))")

    def _typed(self, view: str, date: str | None, symbol: str | None, start: str | None, end: str | None,
               order: str) -> pa.Table:
        where, params = [], []
        if symbol:
            where.append("ticker = ?")
            params.append(symbol)
        if start:
            where.append("ts >= CAST(? AS TIMESTAMPTZ)")
            params.append(start)
        if end:
            where.append("ts < CAST(? AS TIMESTAMPTZ)")
            params.append(end)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        if date:
            source = self.day_source(_TYPE_OF_VIEW[view], date)
            return self.query(f"SELECT * FROM {source}{clause} ORDER BY {order}", params)
        return self.query(f"SELECT * EXCLUDE (date) FROM {view}{clause} ORDER BY {order}", params)

    def trades(self, date: str | None = None, symbol: str | None = None, *, start: str | None = None,
               end: str | None = None) -> pa.Table:
        return self._typed("trades", date, symbol, start, end, "ts, received_at, seq")

    def tickers(self, date: str | None = None, symbol: str | None = None, *, start: str | None = None,
                end: str | None = None) -> pa.Table:
        return self._typed("tickers", date, symbol, start, end, "ts, received_at")

    def orderbook(self, date: str | None = None, symbol: str | None = None, *, start: str | None = None,
                  end: str | None = None) -> pa.Table:
        return self._typed("orderbook", date, symbol, start, end, "ts, received_at, seq, side, level")

    def lifecycle(self, date: str | None = None, symbol: str | None = None, *, start: str | None = None,
                  end: str | None = None) -> pa.Table:
        return self._typed("lifecycle", date, symbol, start, end, "ts, received_at, seq")

    def ohlcv(self, symbol: str, every: str = "1 minute") -> pa.Table:
        return self.query("SELECT * FROM ohlcv(?, ?)", [symbol, every])

    def book_at(self, symbol: str, at: str) -> pa.Table:
        return self.query("SELECT * FROM book_at(?, ?)", [symbol, at])

    def bad_files(self) -> list[tuple[str, str]]:
        """(path, reason) of every indexed file that cannot be read."""
        rows = self.con.execute("SELECT path, error FROM ssmd_files WHERE status <> 'ok' ORDER BY path").fetchall()
        return [(p, e) for p, e in rows]

    def register_markets(self, markets: Mapping[str, Any], synced_at_ns: int | None = None) -> int:
        """Replace the ``markets`` table with ``ticker → market`` (JSON text or dict)."""
        rows = [(t, m if isinstance(m, str) else json.dumps(m)) for t, m in markets.items()]
        self.con.execute("BEGIN")
        self.con.execute("DELETE FROM ssmd_markets")
        if rows:
            stamp = (synced_at_ns or 0) // 1000
            self.con.executemany(
                "INSERT INTO ssmd_markets VALUES (?, CAST(? AS JSON), make_timestamptz(CAST(? AS BIGINT)))",
                [(t, m, stamp) for t, m in rows])
        self.con.execute("COMMIT")
        return len(rows)

    def close(self) -> None:
        self.con.close()
        if self.owned_backends is not None:
            backends, self.owned_backends = self.owned_backends, None
            run_sync(backends.close())

    async def aclose(self) -> None:
        self.con.close()
        if self.owned_backends is not None:
            backends, self.owned_backends = self.owned_backends, None
            await backends.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
