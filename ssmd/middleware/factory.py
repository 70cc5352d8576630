"""Build the four backends an environment file selects, and open them together.

``open_backends(env)`` is what every component and command uses. Embedded implementations
are imported here; the distributed ones (NATS, S3, Redis, JetStream journal) only when the
environment asks for them. The cache is wrapped in ``DegradingCache`` so that a cache that
goes away makes callers bypass it instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.errors import ConfigError
from ssmd.middleware.cache.base import Cache
from ssmd.middleware.cache.degrading import DegradingCache
from ssmd.middleware.journal.base import Journal
from ssmd.middleware.storage.base import Storage
from ssmd.middleware.transport.base import Transport

if TYPE_CHECKING:
    from ssmd.middleware.transport.nats import NatsTransport

DEFAULT_DATA_DIR = "./ssmd-data"


def data_path(env: Environment) -> Path | None:
    """Root folder of local storage (where buckets are folders), or None for s3/memory."""
    if env.storage.type != "local":
        return None
    return Path(local_root(env))


def local_root(env: Environment) -> str:
    """Folder for machine-local state (local storage, cache file, file journal)."""
    return env.storage.path or os.environ.get("SSMD_DATA_DIR") or DEFAULT_DATA_DIR


MEMORY_KEEP_ACKED = 10.0
"""Seconds the embedded bus keeps a message every consumer is done with."""
MEMORY_DUPLICATE_WINDOW = 10.0
"""Seconds the embedded bus remembers message ids (at most the configured window)."""


def make_nats_transport(env: Environment) -> NatsTransport:
    """The NATS transport of an environment with ``transport.type: nats`` (for what only
    JetStream has: stream info, purge, count)."""
    from ssmd.middleware.transport.nats import NatsTransport

    if not env.transport.url:
        raise ConfigError(env.name, "transport.url", "required for transport type nats")
    return NatsTransport(env.transport.url, env.name, env.transport.jetstream)


def make_transport(env: Environment, *, clock: Clock | None = None) -> Transport:
    js = env.transport.jetstream
    if env.transport.type == "nats":
        return make_nats_transport(env)
    from ssmd.middleware.transport.memory import MemoryTransport

    # In one process nothing reads the bus after the fact (the archive does that), so a
    # message every consumer is done with is kept only MEMORY_KEEP_ACKED seconds, and
    # publishes (which cannot half-fail in memory) are de-duplicated over a short window:
    # memory stays flat at any rate.
    return MemoryTransport(env.name, max_age=js.max_age_hours * 3600, max_bytes=js.max_bytes,
                           duplicate_window=min(js.duplicate_window_seconds, MEMORY_DUPLICATE_WINDOW),
                           keep_acked=MEMORY_KEEP_ACKED, clock=clock)


def make_storage(env: Environment) -> Storage:
    from ssmd.middleware.storage.fsspec_store import FsspecStorage

    if env.storage.type == "s3":
        return FsspecStorage.s3(env.storage.endpoint, env.storage.region)
    if env.storage.type == "memory":
        return FsspecStorage.memory()
    return FsspecStorage.local(local_root(env))


def make_cache(env: Environment) -> Cache:
    if env.cache.type == "redis":
        from ssmd.middleware.cache.redis import RedisCache

        if not env.cache.url:
            raise ConfigError(env.name, "cache.url", "required for cache type redis")
        return RedisCache(env.cache.url)
    if env.cache.type == "memory":
        from ssmd.middleware.cache.memory import MemoryCache

        return MemoryCache()
    from ssmd.middleware.cache.local import LocalCache

    return LocalCache(env.cache.path or Path(local_root(env)) / "cache.sqlite")


def make_journal(env: Environment, *, clock: Clock | None = None) -> Journal:
    kind = env.journal_type
    if kind == "jetstream":
        from ssmd.middleware.journal.jetstream import JetStreamJournal

        if env.transport.type != "nats" or not env.transport.url:
            raise ConfigError(env.name, "journal.type", "jetstream needs transport type nats with a url")
        return JetStreamJournal(env.transport.url, env.transport.jetstream.stream, env.name, clock=clock)
    if kind == "memory":
        from ssmd.middleware.journal.memory import MemoryJournal

        return MemoryJournal(clock)
    from ssmd.middleware.journal.file import FileJournal

    return FileJournal(env.journal.path or Path(local_root(env)) / "journal", clock=clock)


class Backends:
    """The environment's transport, storage, cache and journal, opened together."""

    def __init__(self, env: Environment, transport: Transport, storage: Storage, cache: DegradingCache,
                 journal: Journal) -> None:
        self.env = env
        self.transport = transport
        self.storage = storage
        self.cache: DegradingCache = cache
        self.journal = journal

    async def close(self) -> None:
        errors: list[BaseException] = []
        for backend in (self.transport, self.cache, self.journal):
            try:
                await backend.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def __aenter__(self) -> Backends:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def open_backends(env: Environment, *, clock: Clock | None = None) -> Backends:
    """Connect every backend of ``env``; the transport's stream is created if missing."""
    clock = clock or SystemClock()
    transport = make_transport(env, clock=clock)
    storage = make_storage(env)
    cache = DegradingCache(make_cache(env))
    journal = make_journal(env, clock=clock)
    opened: list[Any] = []
    try:
        await transport.connect()
        opened.append(transport)
        await transport.ensure_stream()
        await cache.connect()
        opened.append(cache)
        await journal.connect()
        opened.append(journal)
        if env.storage.type != "s3":
            for bucket in (env.storage.buckets.raw, env.storage.buckets.normalized):
                await storage.create_bucket(bucket)
    except BaseException:
        for backend in reversed(opened):
            try:
                await backend.close()
            except Exception:
                pass
        raise
    return Backends(env, transport, storage, cache, journal)
