"""The TUI attached to a real `ssmd up` (simulator, memory bus, local archive)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ssmd.config.load import load_environment
from ssmd.runtime import discovery
from tests.cli.test_up import spawn, until, write_env
from tui.app import make_app
from tui.source import HttpStatusSource

pytestmark = pytest.mark.slow


async def test_overview_shows_rising_counts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "SSMD_DATA_DIR": str(data)}
    envfile = write_env(tmp_path)
    log = tmp_path / "up.log"
    proc = spawn("up", str(envfile), env=env, log=log)
    try:
        os.environ["SSMD_DATA_DIR"] = str(data)
        try:
            loaded = load_environment(str(envfile))
        finally:
            del os.environ["SSMD_DATA_DIR"]
        info = until(lambda: discovery.read(loaded), "the run file of ssmd up", procs=[proc])
        source = HttpStatusSource(info.control_url)
        app = make_app(source, refresh=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(200):  # the app polls every 0.2 s; wait for data to flow
                await pilot.pause(0.1)
                if app.rates.rate("trade") > 0 and app.status and app.status.day.state == "ACTIVE":
                    break
            assert app.reachable is True
            assert app.status is not None and app.status.day.state == "ACTIVE"
            components = app.query_one("#components")
            assert {"connector", "archiver", "gateway"} <= {str(k.value) for k in components.rows}  # type: ignore[attr-defined]
            assert app.rates.rate("trade") > 0 or app.rates.rate("ticker") > 0

            def received() -> int:
                assert app.status is not None
                connector = next(c for c in app.status.components if c.name == "connector")
                return sum(connector.counters.values())

            first = received()
            for _ in range(50):
                await pilot.pause(0.1)
                if received() > first:
                    break
            assert received() > first
            assert len(app.query("#rate-trade")) == 1  # a sparkline row per message type
            await source.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0, log.read_text()[-3000:]
