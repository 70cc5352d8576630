"""``ssmd env apply`` and ``ssmd env teardown``: make an environment's backends ready, or
delete its data by prefix (ARCHITECTURE.md naming: objects under ``{bucket}/{env}/``,
cache keys ``{env}:*``, journal topics ``{env}.*``, stream subjects ``{env}.>``).

Both return human lines for the CLI; a backend that cannot be reached raises one
``BackendError`` naming it.
"""

from __future__ import annotations

import re
from typing import Any

from ssmd.config.keys import missing_fields
from ssmd.config.model import Environment
from ssmd.errors import AuthError, BackendError, CacheError, ConfigError, SsmdError
from ssmd.middleware.factory import (
    local_root,
    make_cache,
    make_journal,
    make_nats_transport,
    make_storage,
    make_transport,
)

_USERINFO = re.compile(r"//[^@/]*@")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _mask(url: str | None) -> str:
    return _USERINFO.sub("//****@", url or "")


def _where_transport(env: Environment) -> str:
    return f"nats {_mask(env.transport.url)}" if env.transport.type == "nats" else "memory"


def _where_storage(env: Environment) -> str:
    if env.storage.type == "s3":
        return f"s3 {_mask(env.storage.endpoint) or 'AWS'}"
    if env.storage.type == "memory":
        return "memory"
    return f"local {local_root(env)}"


def _where_cache(env: Environment, cache: Any) -> str:
    if env.cache.type == "redis":
        return f"redis {_mask(env.cache.url)}"
    return f"local {cache.path}" if env.cache.type == "local" else "memory"


def _where_journal(env: Environment, journal: Any) -> str:
    if env.journal_type == "file":
        return f"file {journal.root}"
    return f"jetstream stream {env.transport.jetstream.stream}" if env.journal_type == "jetstream" else "memory"


def _reason(exc: BaseException) -> str:
    """The error without its own backend prefix (the line already names the backend)."""
    text = str(exc)
    for prefix in ("transport: ", "storage: ", "cache: ", "journal: "):
        text = text.removeprefix(prefix)
    return text


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


async def apply_environment(env: Environment) -> list[str]:
    missing = missing_fields(env)
    if missing:
        raise AuthError(f"{env.name}: keys not set: {', '.join(missing)}")
    lines = [f"✓ keys: {len(env.keys)} configured, all required fields set" if env.keys else "✓ keys: none needed"]

    nats = make_nats_transport(env) if env.transport.type == "nats" else None
    transport = nats if nats is not None else make_transport(env)
    try:
        await transport.connect()
        await transport.ensure_stream()
        if nats is not None:
            info = await nats.stream_info()
            js = env.transport.jetstream
            lines.append(
                f"✓ transport {_mask(env.transport.url)}: stream {js.stream} ready (subjects {env.name}.>, "
                f"max age {js.max_age_hours:g}h, discard old, duplicate window {js.duplicate_window_seconds:g}s, "
                f"{info.state.messages} messages)"
            )
        else:
            lines.append("✓ transport memory: in-process bus (nothing to create)")
    except SsmdError as exc:
        raise BackendError(f"transport {_where_transport(env)}: {_reason(exc)}") from None
    finally:
        await transport.close()

    storage = make_storage(env)
    buckets = [env.storage.buckets.raw, env.storage.buckets.normalized]
    try:
        for bucket in buckets:
            await storage.create_bucket(bucket)
    except SsmdError as exc:
        raise BackendError(f"storage {_where_storage(env)}: {_reason(exc)}") from None
    lines.append(f"✓ storage {_where_storage(env)}: buckets {', '.join(buckets)} ready")

    cache = make_cache(env)
    try:
        await cache.connect()
        await cache.ping()
    except (SsmdError, OSError) as exc:
        raise CacheError(f"cache {_where_cache(env, cache)}: unreachable: {_reason(exc)}") from None
    finally:
        await cache.close()
    lines.append(f"✓ cache {_where_cache(env, cache)}: reachable")

    journal = make_journal(env)
    try:
        await journal.connect()
        await journal.last_seq(f"{env.name}.day.events")
    except SsmdError as exc:
        raise BackendError(f"journal {_where_journal(env, journal)}: {_reason(exc)}") from None
    finally:
        await journal.close()
    lines.append(f"✓ journal {_where_journal(env, journal)}: ready")
    return lines


def _object_prefixes(env: Environment, date: str | None) -> list[tuple[str, str | None]]:
    """(list prefix, required path fragment) pairs of the environment's (or that day's) objects."""
    raw, normalized = env.storage.buckets.raw, env.storage.buckets.normalized
    if date is None:
        return [(f"{raw}/{env.name}/", None), (f"{normalized}/{env.name}/", None)]
    yyyy, mm, dd = date.split("-")
    return [(f"{raw}/{env.name}/{env.feed}/{yyyy}/{mm}/{dd}/", None),
            (f"{normalized}/{env.name}/{env.feed}/", f"/date={date}/")]


async def teardown_environment(env: Environment, date: str | None = None, dry_run: bool = False) -> list[str]:
    if date is not None and not _DATE.match(date):
        raise ConfigError("--date", "date", f"{date!r} is not YYYY-MM-DD")
    verb = "would delete" if dry_run else "deleted"
    scope = f"{env.name} {date}" if date else env.name
    lines = [f"{'dry run: ' if dry_run else ''}teardown of {scope}"]

    storage = make_storage(env)
    for prefix, fragment in _object_prefixes(env, date):
        try:
            objects = [o for o in await storage.list(prefix) if fragment is None or fragment in o.path]
            if not dry_run:
                for obj in objects:
                    await storage.delete(obj.path)
        except SsmdError as exc:
            raise BackendError(f"storage {_where_storage(env)}: {_reason(exc)}") from None
        where = prefix + (f"*{fragment}" if fragment else "")
        lines.append(f"storage: {verb} {len(objects)} objects ({_size(sum(o.size for o in objects))}) under {where}")

    cache = make_cache(env)
    key_prefix = f"{env.name}:day:{date}:" if date else f"{env.name}:"
    try:
        await cache.connect()
        keys = await cache.keys(key_prefix)
        if keys and not dry_run:
            await cache.delete(*keys)
    except (SsmdError, OSError) as exc:
        raise CacheError(f"cache {_where_cache(env, cache)}: unreachable: {_reason(exc)}") from None
    finally:
        await cache.close()
    lines.append(f"cache: {verb} {len(keys)} keys {key_prefix}*")

    if date is None:
        lines.extend(await _teardown_streams(env, verb, dry_run))
    else:
        lines.append("journal and stream: kept (they span days; stream messages expire after max age)")
    return lines


async def _teardown_streams(env: Environment, verb: str, dry_run: bool) -> list[str]:
    lines = []
    if env.journal_type != "jetstream":
        journal = make_journal(env)
        try:
            await journal.connect()
            topics = await journal.topics(f"{env.name}.")
            count = 0
            for topic in topics:
                if dry_run:
                    count += await journal.last_seq(topic)
                else:
                    count += await journal.delete_topic(topic)
        except SsmdError as exc:
            raise BackendError(f"journal {_where_journal(env, journal)}: {_reason(exc)}") from None
        finally:
            await journal.close()
        lines.append(f"journal: {verb} {count} entries in {len(topics)} topics {env.name}.*")
    if env.transport.type == "nats":
        transport = make_nats_transport(env)
        subject = f"{env.name}.>"
        try:
            await transport.connect()
            count = await transport.count(subject) if dry_run else await transport.purge(subject)
        except SsmdError as exc:
            raise BackendError(f"transport {_where_transport(env)}: {_reason(exc)}") from None
        except Exception as exc:
            raise BackendError(f"transport {_where_transport(env)}: stream {env.transport.jetstream.stream}: "
                               f"{type(exc).__name__} {exc}") from None
        finally:
            await transport.close()
        what = "messages (journal included)" if env.journal_type == "jetstream" else "messages"
        lines.append(f"stream {env.transport.jetstream.stream}: {verb} {count} {what} on {subject}")
    else:
        lines.append("transport memory: nothing stored between runs")
    return lines
