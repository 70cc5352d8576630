"""Real servers for tests, on 127.0.0.1 and free ports: NATS (JetStream), Redis, moto S3,
Temporal. Each can be stopped and started again on the same port (and, for NATS, the same
store), so failure tests can take a dependency away and give it back.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str | None:
    """``name`` from the venv's bin folder, else from PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which(name)


def require_binary(name: str, package: str) -> str:
    path = find_binary(name)
    if path is None:
        message = f"{name} not found (install {package})"
        if os.environ.get("SSMD_REQUIRE_SERVERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        if port_open(port):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port} within {timeout} s")


def wait_port_closed(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and port_open(port):
        time.sleep(0.02)


class _Process:
    """A server process that can be stopped and started again on the same port."""

    name = "server"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_for_port(self.port, self.proc, self.name)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        wait_port_closed(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NatsServer(_Process):
    name = "nats-server"

    def command(self) -> list[str]:
        return [self.binary, "-a", HOST, "-p", str(self.port), "-js", "-sd", str(self.workdir / "store")]

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"


class RedisServer(_Process):
    name = "redis-server"

    def command(self) -> list[str]:
        return [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir)]

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


class TemporalServer(_Process):
    name = "temporal"

    def __init__(self, binary: str, workdir: Path) -> None:
        super().__init__(binary, workdir)
        self.http_port = free_port()
        self.metrics_port = free_port()

    def command(self) -> list[str]:
        return [self.binary, "server", "start-dev", "--headless", "--ip", HOST, "--port", str(self.port),
                "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
                "--log-level", "error"]

    def start(self) -> None:
        super().start()
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        """The port opens before the frontend serves ("Frontend is not healthy yet"): wait
        until a client connects (in a thread of its own: a caller may be inside a loop)."""
        import asyncio
        import threading

        from temporalio.client import Client

        error: list[BaseException] = []

        async def probe() -> None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    await Client.connect(self.address)
                    return
                except Exception as exc:
                    if time.monotonic() >= deadline or not self.running:
                        error.append(exc)
                        return
                    await asyncio.sleep(0.1)

        thread = threading.Thread(target=lambda: asyncio.run(probe()))
        thread.start()
        thread.join()
        if error:
            raise RuntimeError(f"temporal at {self.address} not healthy within {timeout} s: {error[0]}")

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


class S3Server:
    """moto's S3 API over HTTP in a thread of the test process (state survives a restart)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._cls = ThreadedMotoServer
        self.port = 0
        self._server: Any = None

    def start(self) -> None:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = self._cls(ip_address=HOST, port=self.port, verbose=False)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def reset(self) -> None:
        """Forget every bucket (moto's reset API)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).close()


def make_env(
    tmp_path: Path,
    *,
    name: str | None = None,
    transport: str = "memory",
    nats_url: str | None = None,
    storage: str = "local",
    s3_endpoint: str | None = None,
    cache: str = "local",
    redis_url: str | None = None,
    journal: str | None = None,
    **sections: Any,
) -> Any:
    """An ``Environment`` for tests with the given backends.

    The name is unique per call (``t`` + 8 hex digits) unless given, so tests sharing one
    NATS, Redis or S3 server never see each other's stream, keys or buckets: the stream is
    ``ssmd-{name}``; S3 buckets are ``{name}-raw`` / ``{name}-normalized``; local data
    lives in ``tmp_path/data``. Extra keyword arguments are environment sections given as
    plain data and merged over the defaults, e.g. ``simulator={"enabled": True}``.
    """
    import uuid

    import msgspec

    from ssmd.config.model import Environment

    name = name or f"t{uuid.uuid4().hex[:8]}"
    buckets = {"raw": f"{name}-raw", "normalized": f"{name}-normalized"} if storage == "s3" else {
        "raw": "raw", "normalized": "normalized"}
    raw: dict[str, Any] = {
        "name": name,
        "feed": "kalshi",
        "schema": "trade:v1,ticker:v1,orderbook:v1,lifecycle:v1",
        "transport": {"type": transport, "jetstream": {"stream": f"ssmd-{name}"}},
        "storage": {"type": storage, "buckets": buckets},
        "cache": {"type": cache},
        "journal": {},
        "metrics": {"port": 0},
        "control": {"port": 0},
        "gateway": {"port": 0},
    }
    if nats_url:
        raw["transport"]["url"] = nats_url
    if storage == "local":
        raw["storage"]["path"] = str(tmp_path / "data")
    if s3_endpoint:
        raw["storage"]["endpoint"] = s3_endpoint
    if redis_url:
        raw["cache"]["url"] = redis_url
    if cache == "local":
        raw["cache"]["path"] = str(tmp_path / "data" / "cache.sqlite")
    if journal:
        raw["journal"]["type"] = journal
    if journal == "file" or (journal is None and transport != "nats"):
        raw["journal"]["path"] = str(tmp_path / "data" / "journal")
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return msgspec.convert(raw, Environment)
