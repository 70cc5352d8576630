"""`ssmd day start|end` drive the Temporal workflows when the environment says so,
served by `ssmd worker` in its own process, as in the containerized deployment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from ssmd.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def env_file(tmp_path: Path, temporal_server: Any, make_env: Any) -> Path:
    env = make_env(
        orchestrator={"type": "temporal", "address": temporal_server.address},
        simulator={"enabled": True, "markets": 5, "rate": 20},
        secmaster={"requests_per_second": 1000},
    )
    data = msgspec.to_builtins(env)
    data["orchestrator"]["task_queue"] = f"ssmd-{env.name}"
    path = tmp_path / f"{env.name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_day_start_and_end_run_as_workflows(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "ssmd"), "worker", str(env_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )
    try:
        assert main(["day", "start", str(env_file), "--json"]) == 0
        started = json.loads(capsys.readouterr().out)
        assert started["state"] == "ACTIVE" and started["error"] is None
        assert next(line.split(":")[0] for line in started["steps"]) == "sync_secmaster"
        assert main(["day", "end", str(env_file), "--force"]) == 0
        out = capsys.readouterr().out
        assert f"Day {started['date']}" in out and "COMPLETE" in out and "✓" in out
        assert main(["day", "history", str(env_file), "--json"]) == 0
        history = json.loads(capsys.readouterr().out)
        assert history[0]["state"] == "COMPLETE"
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert worker.returncode == 0, worker.stdout.read().decode()[-2000:] if worker.stdout else ""
