"""``ssmd env apply`` and ``ssmd env teardown`` from the command line, against real servers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from ssmd.cli.main import main
from ssmd.middleware.factory import make_cache, make_journal, make_storage, make_transport
from ssmd.middleware.transport.base import StartPosition


async def _main(argv: list[str]) -> int:
    """The CLI in a thread: it runs its own event loop."""
    return await asyncio.to_thread(main, argv)


def _write(env: Any, tmp_path: Path) -> str:
    path = tmp_path / f"{env.name}.yaml"
    path.write_text(yaml.safe_dump(msgspec.to_builtins(env), sort_keys=False))
    return str(path)


@pytest.fixture
def distributed(make_env: Any, nats_server: Any, s3_server: Any, redis_server: Any) -> Any:
    return make_env(transport="nats", nats_url=nats_server.url, storage="s3", s3_endpoint=s3_server.url,
                    cache="redis", redis_url=redis_server.url)


def test_apply_embedded(make_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env()
    assert main(["env", "apply", _write(env, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "✓ transport memory" in out and "✓ cache local" in out and "✓ journal file" in out
    assert (tmp_path / "data" / "raw").is_dir() and (tmp_path / "data" / "normalized").is_dir()
    assert (tmp_path / "data" / "cache.sqlite").is_file()


@pytest.mark.slow
def test_apply_distributed_creates_stream_and_buckets(distributed: Any, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(distributed, tmp_path)
    for _ in range(2):  # idempotent
        assert main(["env", "apply", path]) == 0
    out = capsys.readouterr().out
    stream = distributed.transport.jetstream.stream
    assert f"✓ transport {distributed.transport.url}: stream {stream} ready (subjects {distributed.name}.>" in out
    assert "max age 24h, discard old, duplicate window 120s" in out
    assert f"buckets {distributed.name}-raw, {distributed.name}-normalized ready" in out
    assert f"✓ cache redis {distributed.cache.url}: reachable" in out
    assert f"✓ journal jetstream stream {stream}: ready" in out


def test_apply_refuses_missing_keys(make_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_API_SECRET", raising=False)
    monkeypatch.setenv("KALSHI_API_KEY", "id-1")
    env = make_env(keys={"kalshi": {"type": "api_key", "fields": ["api_key", "api_secret"], "source": "env"}})
    assert main(["env", "apply", _write(env, tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "kalshi.api_secret ($KALSHI_API_SECRET)" in err and "api_key" not in err.replace("api_key", "", 1)


def test_apply_names_an_unreachable_backend(make_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port

    env = make_env(cache="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert main(["env", "apply", _write(env, tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ssmd: cache redis redis://127.0.0.1:") and "unreachable" in err
    assert len(err.splitlines()) == 1


async def _seed(env: Any, other: Any) -> None:
    storage = make_storage(env)
    for e in (env, other):
        for path in (f"{e.storage.buckets.raw}/{e.name}/kalshi/2026/07/19/trade-1.jsonl.zst",
                     f"{e.storage.buckets.raw}/{e.name}/kalshi/2026/07/20/trade-1.jsonl.zst",
                     f"{e.storage.buckets.normalized}/{e.name}/kalshi/v1/trade/date=2026-07-19/part-1.parquet",
                     f"{e.storage.buckets.normalized}/{e.name}/kalshi/v1/trade/date=2026-07-20/part-1.parquet"):
            await storage.create_bucket(path.split("/")[0])
            await storage.put(path, b"12345")
        cache = make_cache(e)
        await cache.connect()
        await cache.set(f"{e.name}:day:current", "2026-07-20")
        await cache.set(f"{e.name}:day:2026-07-19:state", "COMPLETE")
        await cache.hset(f"{e.name}:secmaster:markets", {"T": "{}"})
        await cache.close()
        transport = make_transport(e)
        await transport.connect()
        await transport.ensure_stream()
        await transport.publish(f"{e.name}.kalshi.trade.T", b"x")
        await transport.close()
        journal = make_journal(e)
        await journal.connect()
        await journal.append(f"{e.name}.day.events", {"state": "ACTIVE"})
        await journal.close()


async def _remaining(env: Any) -> tuple[int, int, int]:
    storage = make_storage(env)
    objects = len(await storage.list(f"{env.storage.buckets.raw}/{env.name}/")) + len(
        await storage.list(f"{env.storage.buckets.normalized}/{env.name}/"))
    cache = make_cache(env)
    await cache.connect()
    keys = len(await cache.keys(f"{env.name}:"))
    await cache.close()
    transport = make_transport(env)
    await transport.connect()
    sub = await transport.subscribe(f"{env.name}.>", start=StartPosition.beginning())
    messages = 0
    try:
        while True:
            await sub.next(timeout=0.5)
            messages += 1
    except TimeoutError:
        pass
    await transport.close()
    return objects, keys, messages


@pytest.mark.slow
async def test_teardown_dry_run_then_for_real(distributed: Any, make_env: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str], nats_server: Any,
                                              s3_server: Any, redis_server: Any) -> None:
    other = make_env(transport="nats", nats_url=nats_server.url, storage="s3", s3_endpoint=s3_server.url,
                     cache="redis", redis_url=redis_server.url)
    await _seed(distributed, other)
    path = _write(distributed, tmp_path)
    assert await _main(["env", "teardown", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 2 objects (10 B)" in out and "would delete 3 keys" in out
    assert "would delete 2 messages (journal included)" in out
    assert await _remaining(distributed) == (4, 3, 2)

    assert await _main(["env", "teardown", path, "--date", "2026-07-19"]) == 0
    out = capsys.readouterr().out
    assert out.count("deleted 1 objects (5 B)") == 2 and "deleted 1 keys" in out
    assert await _remaining(distributed) == (2, 2, 2)

    assert await _main(["env", "teardown", path]) == 0
    assert await _remaining(distributed) == (0, 0, 0)
    assert await _remaining(other) == (4, 3, 2)


async def test_teardown_embedded(make_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env()
    other = make_env(name=f"{env.name}x")
    await _seed(env, other)
    assert await _main(["env", "teardown", _write(env, tmp_path), "--dry-run"]) == 0
    assert "journal: would delete 1 entries in 1 topics" in capsys.readouterr().out
    assert await _main(["env", "teardown", _write(env, tmp_path)]) == 0
    assert "journal: deleted 1 entries" in capsys.readouterr().out
    assert (await _remaining(env))[:2] == (0, 0)
    assert (await _remaining(other))[:2] == (4, 3)


def test_teardown_rejects_a_bad_date(make_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "teardown", _write(make_env(), tmp_path), "--date", "19/07/2026"]) == 2
    assert "is not YYYY-MM-DD" in capsys.readouterr().err
