"""The run file other commands use to find a running ssmd, and the summary lines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from ssmd.day.state import DayRecord, DayState, StepResult
from ssmd.runtime import discovery, summary
from ssmd.status import ComponentStatus, SystemStatus


def test_run_file_round_trip_and_stale_pid(make_env: Callable[..., Any]) -> None:
    env = make_env()
    assert discovery.read(env) is None
    info = discovery.RunInfo(env=env.name, pid=os.getpid(), control_url="http://127.0.0.1:1", started_at=1,
                             endpoints={"gateway": "ws://127.0.0.1:2/v1/stream"})
    path = discovery.write(env, info)
    assert path == discovery.run_dir(env) / f"{env.name}.json"
    assert discovery.read(env) == info
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    discovery.write(env, discovery.RunInfo(env=env.name, pid=int(gone.stdout), control_url="x", started_at=1))
    assert discovery.read(env) is None  # its process is gone
    discovery.remove(env)
    assert path.exists()  # another process's file is not ours to remove
    discovery.write(env, info, "connector")
    discovery.remove(env, "connector")
    assert not discovery.run_file(env, "connector").exists()


def test_summary_lines() -> None:
    conn = ComponentStatus(name="connector", state="running", counters={"trade": 30, "ticker": 60, "subscribed": 4},
                           rates={"trade": 15.0, "ticker": 30.0, "subscribed": 0.0, "records.trade": 15.0},
                           lag_seconds=0.02)
    arch = ComponentStatus(name="archiver", state="running", counters={"raw": 94, "trade": 30})
    bad = ComponentStatus(name="gateway", state="restarting")
    status = SystemStatus(env="e", ts=0, version="0", components=[conn, arch, bad])
    line = summary.rates_line(status, now=0)
    assert "in 45/s (ticker 30, trade 15)  90 received  lag 0.02s  94 archived" in line
    assert line.endswith("! gateway restarting")
    assert summary.step_line("start", StepResult(name="health_check", ok=False, error="connector failed")) == (
        "  ✗ health_check     connector failed")
    failed = DayRecord(date="2026-07-19", state=DayState.FAILED, step="sync_secmaster", error="refused")
    assert summary.day_line(failed) == "✗ day 2026-07-19 FAILED at sync_secmaster: refused"
