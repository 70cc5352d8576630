"""The embedded cache: one SQLite file (WAL) shared by every ssmd process on the machine.

``ssmd secmaster sync`` in one process and ``ssmd secmaster list`` in another, or
``ssmd day status`` beside a running ``ssmd up``, see the same state. Each call is one
transaction (writes take the write lock up front, ``BEGIN IMMEDIATE``), run in a worker
thread; expiry uses wall-clock time because several processes share it.
"""

from __future__ import annotations

import asyncio
import builtins
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ssmd.errors import CacheError

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, kind TEXT NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS strings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (key TEXT, field TEXT, value TEXT NOT NULL, PRIMARY KEY (key, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sets (key TEXT, member TEXT, PRIMARY KEY (key, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zsets (key TEXT, member TEXT, score REAL NOT NULL, PRIMARY KEY (key, member)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS zsets_by_score ON zsets (key, score);
"""
_TABLES = ("strings", "hashes", "sets", "zsets")
_TOP = chr(0x10FFFF)
_IN_CHUNK = 500
"""Fields per ``IN (...)`` list: under SQLite's bound-parameter limit on any build."""
Conn = sqlite3.Connection


def _wrong_type(key: str) -> CacheError:
    return CacheError(f"cache: key {key!r} holds another kind of value", retryable=False)


def _kind(db: Conn, key: str, now: float) -> str | None:
    row = db.execute("SELECT kind, expires FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None or (row[1] is not None and row[1] <= now):
        return None
    return str(row[0])


def _drop(db: Conn, key: str) -> None:
    db.execute("DELETE FROM meta WHERE key = ?", (key,))
    for table in _TABLES:
        db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))


def _claim(db: Conn, key: str, kind: str, now: float) -> None:
    """Make ``key`` a ``kind`` (creating it, replacing an expired one, or checking the kind)."""
    row = db.execute("SELECT kind, expires FROM meta WHERE key = ?", (key,)).fetchone()
    if row is not None and row[1] is not None and row[1] <= now:
        _drop(db, key)
        row = None
    if row is None:
        db.execute("INSERT INTO meta (key, kind, expires) VALUES (?, ?, NULL)", (key, kind))
    elif row[0] != kind:
        raise _wrong_type(key)


def _expect(db: Conn, key: str, kind: str, now: float) -> bool:
    """Whether ``key`` exists as a ``kind``; raises if it is another kind."""
    found = _kind(db, key, now)
    if found is None:
        return False
    if found != kind:
        raise _wrong_type(key)
    return True


def _drop_if_empty(db: Conn, key: str, table: str) -> None:
    if db.execute(f"SELECT 1 FROM {table} WHERE key = ? LIMIT 1", (key,)).fetchone() is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))


class LocalCache:
    def __init__(self, path: str | Path, *, busy_timeout: float = 15.0) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout * 1000)
        self._db: Conn | None = None
        self._lock = threading.Lock()

    async def connect(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> Conn:
        with self._lock:
            if self._db is None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=self._busy_ms / 1000)
                    db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                    db.execute("PRAGMA journal_mode = WAL")
                    db.execute("PRAGMA synchronous = NORMAL")
                    db.executescript(_SCHEMA)
                except (sqlite3.Error, OSError) as exc:
                    raise CacheError(f"cache: cannot open {self.path}: {exc}", retryable=False) from None
                self._db = db
            return self._db

    async def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def ping(self) -> bool:
        await self._call(False, lambda db, now: db.execute("SELECT 1").fetchone())
        return True

    async def _call(self, write: bool, fn: Callable[[Conn, float], T]) -> T:
        return await asyncio.to_thread(self._run, write, fn)

    def _run(self, write: bool, fn: Callable[[Conn, float], T]) -> T:
        db = self._db or self._open()
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(db, time.time())
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                raise CacheError(f"cache: {self.path}: {exc}", retryable=busy) from None

    # -- strings -----------------------------------------------------------------------
    async def get(self, key: str) -> str | None:
        def op(db: Conn, now: float) -> str | None:
            if not _expect(db, key, "string", now):
                return None
            row = db.execute("SELECT value FROM strings WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return await self._call(False, op)

    @staticmethod
    def _set(db: Conn, now: float, key: str, value: str, ttl: float | None) -> None:
        _drop(db, key)
        db.execute("INSERT INTO meta (key, kind, expires) VALUES (?, 'string', ?)",
                   (key, None if ttl is None else now + ttl))
        db.execute("INSERT INTO strings (key, value) VALUES (?, ?)", (key, value))

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        await self._call(True, lambda db, now: self._set(db, now, key, value, ttl))

    async def delete(self, *keys: str) -> int:
        def op(db: Conn, now: float) -> int:
            n = 0
            for key in keys:
                n += _kind(db, key, now) is not None
                _drop(db, key)
            return n

        return await self._call(True, op)

    async def mset(self, values: Mapping[str, str]) -> None:
        def op(db: Conn, now: float) -> None:
            for key, value in values.items():
                self._set(db, now, key, value, None)

        await self._call(True, op)

    async def keys(self, prefix: str) -> list[str]:
        def op(db: Conn, now: float) -> list[str]:
            rows = db.execute(
                "SELECT key FROM meta WHERE key >= ? AND key < ? AND (expires IS NULL OR expires > ?) ORDER BY key",
                (prefix, prefix + _TOP, now),
            ).fetchall()
            return [str(r[0]) for r in rows]

        return await self._call(False, op)

    # -- hashes ------------------------------------------------------------------------
    async def hget(self, key: str, field: str) -> str | None:
        def op(db: Conn, now: float) -> str | None:
            if not _expect(db, key, "hash", now):
                return None
            row = db.execute("SELECT value FROM hashes WHERE key = ? AND field = ?", (key, field)).fetchone()
            return None if row is None else str(row[0])

        return await self._call(False, op)

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        def op(db: Conn, now: float) -> list[str | None]:
            if not fields or not _expect(db, key, "hash", now):
                return [None] * len(fields)
            found: dict[str, str] = {}
            for i in range(0, len(fields), _IN_CHUNK):
                chunk = list(fields[i:i + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                found.update((str(f), str(v)) for f, v in db.execute(
                    f"SELECT field, value FROM hashes WHERE key = ? AND field IN ({marks})", (key, *chunk)))
            return [found.get(f) for f in fields]

        return await self._call(False, op)

    async def hset(self, key: str, values: Mapping[str, str]) -> None:
        if not values:
            return

        def op(db: Conn, now: float) -> None:
            _claim(db, key, "hash", now)
            db.executemany("INSERT OR REPLACE INTO hashes (key, field, value) VALUES (?, ?, ?)",
                           [(key, f, v) for f, v in values.items()])

        await self._call(True, op)

    async def hgetall(self, key: str) -> dict[str, str]:
        def op(db: Conn, now: float) -> dict[str, str]:
            if not _expect(db, key, "hash", now):
                return {}
            return {str(f): str(v) for f, v in db.execute("SELECT field, value FROM hashes WHERE key = ?", (key,))}

        return await self._call(False, op)

    async def hdel(self, key: str, *fields: str) -> int:
        return await self._remove(key, "hash", "hashes", "field", fields)

    async def _remove(self, key: str, kind: str, table: str, column: str, items: tuple[str, ...]) -> int:
        def op(db: Conn, now: float) -> int:
            if not items or not _expect(db, key, kind, now):
                return 0
            n = 0
            for item in items:
                n += db.execute(f"DELETE FROM {table} WHERE key = ? AND {column} = ?", (key, item)).rowcount
            _drop_if_empty(db, key, table)
            return n

        return await self._call(True, op)

    # -- sets --------------------------------------------------------------------------
    async def sadd(self, key: str, *members: str) -> int:
        if not members:
            return 0

        def op(db: Conn, now: float) -> int:
            _claim(db, key, "set", now)
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO sets (key, member) VALUES (?, ?)", [(key, m) for m in members])
            return db.total_changes - before

        return await self._call(True, op)

    async def srem(self, key: str, *members: str) -> int:
        return await self._remove(key, "set", "sets", "member", members)

    async def smembers(self, key: str) -> builtins.set[str]:
        def op(db: Conn, now: float) -> builtins.set[str]:
            if not _expect(db, key, "set", now):
                return builtins.set()
            return {str(r[0]) for r in db.execute("SELECT member FROM sets WHERE key = ?", (key,))}

        return await self._call(False, op)

    # -- sorted sets -------------------------------------------------------------------
    async def zadd(self, key: str, scores: Mapping[str, float]) -> int:
        if not scores:
            return 0

        def op(db: Conn, now: float) -> int:
            _claim(db, key, "zset", now)
            added = 0
            for member, score in scores.items():
                cur = db.execute("UPDATE zsets SET score = ? WHERE key = ? AND member = ?", (float(score), key, member))
                if cur.rowcount == 0:
                    db.execute("INSERT INTO zsets (key, member, score) VALUES (?, ?, ?)", (key, member, float(score)))
                    added += 1
            return added

        return await self._call(True, op)

    async def zrangebyscore(self, key: str, low: float, high: float) -> list[tuple[str, float]]:
        def op(db: Conn, now: float) -> list[tuple[str, float]]:
            if not _expect(db, key, "zset", now):
                return []
            rows: Any = db.execute(
                "SELECT member, score FROM zsets WHERE key = ? AND score >= ? AND score <= ? ORDER BY score, member",
                (key, low, high),
            )
            return [(str(m), float(s)) for m, s in rows]

        return await self._call(False, op)

    async def zrem(self, key: str, *members: str) -> int:
        return await self._remove(key, "zset", "zsets", "member", members)
