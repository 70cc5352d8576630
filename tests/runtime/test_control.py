"""The control API over real HTTP on 127.0.0.1, with fake components in a real Runtime."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from ssmd.errors import NotFoundError
from ssmd.middleware.factory import open_backends
from ssmd.runtime import discovery
from ssmd.runtime.app import Runtime
from ssmd.runtime.supervisor import RestartPolicy
from tests.day.fakes import FakeComponent, FakeSecmaster


class FakeGateway(FakeComponent):
    url = "ws://127.0.0.1:1/v1/stream"

    def clients(self) -> list[Any]:
        return []

    def disconnect(self, client_id: str) -> None:
        raise NotFoundError(f"no gateway client {client_id!r}")


class Harness:
    def __init__(self, runtime: Runtime, made: dict[str, list[Any]]) -> None:
        self.runtime = runtime
        self.made = made
        assert runtime.control is not None
        self.url = runtime.control.url
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


@pytest.fixture
async def harness(make_env: Callable[..., Any]) -> AsyncIterator[Harness]:
    env = make_env()
    backends = await open_backends(env)
    made: dict[str, list[Any]] = {}

    def factory(name: str) -> Callable[..., Any]:
        def build(env: Any, backends: Any, clock: Any) -> Any:
            comp = {"secmaster": FakeSecmaster, "gateway": lambda: FakeGateway("gateway")}.get(
                name, lambda: FakeComponent(name))()
            made.setdefault(name, []).append(comp)
            return comp
        return build

    runtime = Runtime(env, backends, factories={n: factory(n) for n in ("connector", "archiver", "gateway",
                                                                         "secmaster")},
                      scheduler=False, policy=RestartPolicy(max_restarts=0), health_timeout=5)
    await runtime.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop.wait()))
    h = Harness(runtime, made)  # the port is bound already: requests queue until it serves
    try:
        yield h
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await h.http.close()
        await backends.close()


async def test_status_and_run_file(harness: Harness) -> None:
    code, status = await harness.call("GET", "/status")
    assert code == 200 and status["env"] == harness.runtime.env.name
    names = {c["name"] for c in status["components"]}
    assert {"connector", "archiver", "gateway", "secmaster", "control", "reporter"} <= names
    assert status["day"]["state"] == "PENDING"
    assert status["endpoints"]["control"] == harness.url
    info = discovery.read(harness.runtime.env)
    assert info is not None and info.pid == os.getpid() and info.control_url == harness.url
    code, text = await harness.call("GET", "/metrics")
    assert code == 200 and "ssmd_component_up" in text


async def test_day_start_end_and_errors_through_the_api(harness: Harness) -> None:
    code, day = await harness.call("POST", "/day/start", {"date": "2026-07-19"})
    assert code == 200 and day["state"] == "ACTIVE"
    assert [s["name"] for s in day["steps"]][-1] == "health_check"
    assert harness.made["connector"][0].status().state == "running"
    code, err = await harness.call("POST", "/day/start", {"date": "2026-07-19"})
    assert code == 409 and err["error"] == "day 2026-07-19 is already ACTIVE"
    code, status = await harness.call("GET", "/status")
    assert status["day"] == {"date": "2026-07-19", "state": "ACTIVE", "since": day["since"], "step": None,
                             "error": None,  # and the day's span by the default schedule, 00:10 to 00:00 UTC
                             "starts_at": int(datetime(2026, 7, 19, 0, 10, tzinfo=UTC).timestamp()) * 10**9,
                             "ends_at": int(datetime(2026, 7, 20, 0, 0, tzinfo=UTC).timestamp()) * 10**9}
    code, ended = await harness.call("POST", "/day/end", {})
    assert code == 200 and ended["state"] == "COMPLETE"
    assert [s["name"] for s in ended["steps"]] == ["drain_gateway", "flush_archiver", "stop_connector",
                                                   "verify_archive", "compact"]
    assert harness.made["connector"][0].stops == 1
    code, history = await harness.call("GET", "/day/history?limit=5")
    assert [d["state"] for d in history] == ["COMPLETE"]
    code, shown = await harness.call("GET", "/day/2026-07-19")
    assert code == 200 and shown["end_time"] == ended["end_time"]
    assert (await harness.call("GET", "/day/1999-01-01"))[0] == 404
    code, manifest = await harness.call("GET", "/archive/2026-07-19/manifest")
    assert code == 200 and manifest["status"] == "complete" and manifest["date"] == "2026-07-19"
    assert (await harness.call("GET", "/archive/1999-01-01/manifest"))[0] == 404
    code, inventory = await harness.call("GET", "/archive/inventory")
    assert code == 200 and [d["date"] for d in inventory] == ["2026-07-19"]
    code, err = await harness.call("POST", "/clients/c9/disconnect")
    assert code == 404 and "c9" in err["error"]
    assert (await harness.call("POST", "/day/start", [1]))[0] == 400


async def test_a_component_failing_while_active_sets_error_and_recover_resumes(harness: Harness) -> None:
    await harness.call("POST", "/day/start", {"date": "2026-07-19"})
    manager = harness.runtime.manager
    errored = asyncio.Event()
    original = manager.mark_error

    async def mark_error(step: str, error: str) -> Any:
        try:
            return await original(step, error)
        finally:
            errored.set()

    manager.mark_error = mark_error  # type: ignore[method-assign]
    harness.made["connector"][0].crash(ConnectionError("exchange went away"))
    await asyncio.wait_for(errored.wait(), 10)
    _, day = await harness.call("GET", "/day")
    assert day["state"] == "ERROR"
    assert day["step"] == "connector" and "exchange went away" in day["error"]
    code, recovered = await harness.call("POST", "/day/recover")
    assert code == 200 and recovered["state"] == "ACTIVE"
    assert len(harness.made["connector"]) == 2 and harness.made["connector"][1].status().state == "running"
