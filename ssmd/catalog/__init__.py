"""The DuckDB catalog over the archive: index, views, macros, replay and a notebook API.

    from ssmd.catalog import open_catalog
    cat = open_catalog("kalshi-local")
    cat.sql("SELECT ticker, count(*) FROM trades GROUP BY ALL").show()
    cat.trades("2026-07-19", "KXBTCD-26JUL2317-T118999.99")   # Arrow table

May import: ssmd core modules, ``ssmd.archive`` (layout, manifest, column contracts of the
records and the history datasets, DuckDB connections), the middleware factory (to reach
storage and the cache); never the archiver, backfill, gateway, connector, CLI or TUI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssmd.catalog.catalog import Catalog, ReadSide, catalog_path, run_sync
from ssmd.config.model import Environment

if TYPE_CHECKING:
    from ssmd.middleware.cache.base import Cache
    from ssmd.middleware.storage.base import Storage

__all__ = ["Catalog", "ReadSide", "catalog_path", "open_catalog", "open_catalog_async"]


def _environment(env: str | Environment) -> Environment:
    if isinstance(env, Environment):
        return env
    from ssmd.config.load import load_environment

    return load_environment(env)


async def load_markets(catalog: Catalog, cache: Cache) -> int:
    """Copy the secmaster's markets (cache hash ``{env}:secmaster:markets``) into the
    catalog's ``markets`` view. A cache that is down or empty leaves the last copy."""
    from ssmd.subjects import cache_key

    try:
        markets = await cache.hgetall(cache_key(catalog.env.name, "secmaster", "markets"))
    except Exception:
        return 0
    if not markets:
        return 0
    import time

    return catalog.register_markets(markets, time.time_ns())


class _ReadSide:
    """Storage and cache of an environment, for reading (no transport, no journal)."""

    def __init__(self, storage: Storage, cache: Cache) -> None:
        self.storage = storage
        self.cache = cache

    async def close(self) -> None:
        await self.cache.close()


async def _read_side(env: Environment) -> _ReadSide:
    from ssmd.middleware.cache.degrading import DegradingCache
    from ssmd.middleware.factory import make_cache, make_storage

    cache = DegradingCache(make_cache(env))
    try:
        await cache.connect()
    except Exception:
        pass  # a cache that is down only means no fresh markets
    return _ReadSide(make_storage(env), cache)


async def open_catalog_async(env: str | Environment, *, backends: ReadSide | None = None, database: str | None = None,
                             refresh: bool = True) -> Catalog:
    """Open (and refresh) the catalog of an environment. ``backends`` (``Backends``, or
    anything with ``storage`` and ``cache``, which may be None) defaults to the
    environment's own storage and cache, which are then closed with the catalog."""
    environment = _environment(env)
    owned = backends is None
    if backends is None:
        backends = await _read_side(environment)
    try:
        catalog = await Catalog.open(environment, backends.storage, database=database, refresh=refresh)
        if backends.cache is not None:
            await load_markets(catalog, backends.cache)
    except BaseException:
        if owned:
            await backends.close()
        raise
    if owned:
        catalog.owned_backends = backends
    return catalog


def open_catalog(env: str | Environment, *, backends: ReadSide | None = None, database: str | None = None,
                 refresh: bool = True) -> Catalog:
    """Synchronous ``open_catalog_async`` for notebooks and scripts."""
    return run_sync(open_catalog_async(env, backends=backends, database=database, refresh=refresh))
