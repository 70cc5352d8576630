from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ssmd.config.load import load_environment
from ssmd.config.model import Buckets, CacheConfig, Environment, JournalConfig, StorageConfig
from ssmd.middleware.factory import Backends, open_backends


def make_env(tmp_path: Path, *, cache: str = "memory", journal: str = "memory", cache_url: str | None = None,
             **changes: Any) -> Environment:
    env = load_environment("kalshi-local")
    return msgspec.structs.replace(
        env,
        storage=StorageConfig(type="local", path=str(tmp_path), buckets=Buckets(raw="raw", normalized="normalized")),
        cache=CacheConfig(type=cache, url=cache_url),  # type: ignore[arg-type]
        journal=JournalConfig(type=journal),  # type: ignore[arg-type]
        **changes,
    )


@pytest.fixture
def env(tmp_path: Path) -> Environment:
    return make_env(tmp_path)


@pytest.fixture
async def backends(env: Environment) -> AsyncIterator[Backends]:
    opened = await open_backends(env)
    try:
        yield opened
    finally:
        await opened.close()
