"""``ssmd up``, ``ssmd run`` and ``ssmd day`` as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssmd.cli.main import main
from tests.servers import free_port

SSMD = str(Path(sys.executable).parent / "ssmd")
ENV_TEMPLATE: dict[str, Any] = {
    "name": "kalshi-local",
    "feed": "kalshi",
    "schema": "trade:v1,ticker:v1,orderbook:v1,lifecycle:v1",
    "schedule": {"timezone": "UTC", "day_start": "00:00", "day_end": "00:00", "auto_roll": True},
    "transport": {"type": "memory"},
    "storage": {"type": "local", "path": "${SSMD_DATA_DIR}", "buckets": {"raw": "raw", "normalized": "normalized"}},
    "cache": {"type": "local"},
    "journal": {"type": "file"},
    "gateway": {"port": 0},
    "metrics": {"port": 0},
    "control": {"port": 0},
    "subscriptions": {"channels": ["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"], "markets": "all"},
    "simulator": {"enabled": True, "seed": 7, "markets": 20, "rate": 100},
    "archiver": {"flush_interval_seconds": 0.5},
}


def write_env(folder: Path, **sections: Any) -> Path:
    raw = json.loads(json.dumps(ENV_TEMPLATE))
    raw.update(sections)
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def ssmd(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SSMD, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def spawn(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen([SSMD, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def until(condition: Callable[[], Any], what: str, timeout: float = 60.0, procs: list[Any] = ()) -> Any:  # type: ignore[assignment]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"process {proc.args} exited with {proc.returncode} while waiting for {what}"
        value = condition()
        if value:
            return value
        time.sleep(0.2)  # polling another process; nothing to wait on in-process
    raise AssertionError(f"timed out waiting for {what}")


def day_status(envfile: Path, env: dict[str, str]) -> dict[str, Any]:
    result = ssmd("day", "status", str(envfile), "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stop(proc: subprocess.Popen[bytes], log: Path, sig: int = signal.SIGINT) -> None:
    proc.send_signal(sig)
    rc = proc.wait(90)
    assert rc == 0, log.read_text()[-3000:]


def raw_lines(data: Path, env_name: str) -> list[Any]:
    from ssmd.archive.raw import read_raw

    lines = []
    for path in sorted((data / "raw" / env_name).rglob("*.jsonl.zst")):
        lines += read_raw(path.read_bytes(), str(path))
    return lines


def parquet_rows(data: Path, env_name: str, record_type: str) -> list[tuple[Any, ...]]:
    import duckdb

    files = list((data / "normalized" / env_name / "kalshi" / "v1" / record_type).rglob("*.parquet"))
    if not files:
        return []
    listing = ", ".join(f"'{f}'" for f in files)
    return duckdb.sql(f"SELECT ticker, CAST(received_at AS VARCHAR) FROM read_parquet([{listing}])").fetchall()


@pytest.mark.slow
def test_up_serves_status_to_a_second_process_and_leaves_a_complete_archive(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "SSMD_DATA_DIR": str(data)}
    envfile = write_env(tmp_path, metrics={"port": free_port()})
    log = tmp_path / "up.log"
    proc = spawn("up", str(envfile), "--duration", "300", env=env, log=log)
    try:
        first = until(lambda: (s := day_status(envfile, env))["source"] == "running" and s["day"]
                      and s["day"]["state"] == "ACTIVE" and s["stats"].get("messages") and s, "an ACTIVE day",
                      procs=[proc])
        later = until(lambda: (s := day_status(envfile, env))["stats"]["messages"] > first["stats"]["messages"]
                      and s, "rising counts", procs=[proc])
        assert {c["name"]: c["state"] for c in later["components"]}["connector"] == "running"
        assert later["endpoints"]["gateway"].startswith("ws://127.0.0.1:")
        human = ssmd("day", "status", str(envfile), env=env)
        assert f"day {first['day']['date']}  ACTIVE since" in human.stdout
        again = ssmd("day", "start", str(envfile), env=env)  # through the control API
        assert (again.returncode, again.stderr) == (1, f"ssmd: day {first['day']['date']} is already ACTIVE\n")
    finally:
        stop(proc, log)
    date = first["day"]["date"]
    assert not (data / "run" / "kalshi-local.json").exists()

    manifest = json.loads((data / "raw" / "kalshi-local" / "kalshi" / date.replace("-", "/") / "manifest.json")
                          .read_text())
    lines = raw_lines(data, "kalshi-local")
    assert manifest["status"] == "complete" and manifest["record_count"] == len(lines) > 0
    trades = parquet_rows(data, "kalshi-local", "trade")
    raw_trades = [line for line in lines if line.type == "trade"]
    assert len(trades) == len(raw_trades) == manifest["normalized"]["trade"]["rows"] > 0

    tickers = sorted({t for t, _ in trades})
    replay = ssmd("data", "replay", "--date", date, "--symbol", ",".join(tickers), "--type", "trade",
                  "--env", str(envfile), env=env)
    assert replay.returncode == 0, replay.stderr
    replayed = [json.loads(line) for line in replay.stdout.splitlines() if line.strip()]
    assert len(replayed) == len(raw_trades)
    assert sorted(m.get("ticker") or m.get("market_ticker") for m in replayed) == sorted(t for t, _ in trades)

    # after exit, `day status` falls back to the last known state in the cache and journal
    offline = day_status(envfile, env)
    assert offline["source"] == "last known" and offline["day"]["state"] == "ACTIVE"
    history = ssmd("day", "history", str(envfile), "--json", env=env)
    assert [d["date"] for d in json.loads(history.stdout)] == [date]


@pytest.mark.slow
def test_up_exits_zero_after_duration_and_day_commands_without_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "SSMD_DATA_DIR": str(data)}
    envfile = write_env(tmp_path)
    result = ssmd("up", str(envfile), "--duration", "3", env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(e["msg"] == "ssmd running" and e.get("gateway") for e in events)
    assert any(e["msg"] == "manifest written" for e in events)
    # with nothing running, a start that needs the simulator says how to get it
    start = ssmd("day", "start", str(envfile), env=env)
    assert start.returncode == 1 and "start it with `ssmd up kalshi-local`" in start.stderr
    end = ssmd("day", "end", str(envfile), env=env)
    assert end.returncode == 0, end.stdout + end.stderr
    assert "✓ verify_archive" in end.stdout and end.stdout.strip().endswith("COMPLETE")


def test_day_commands_report_one_clear_line_for_unknown_things(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_DATA_DIR", str(tmp_path / "data"))
    envfile = write_env(tmp_path)
    assert main(["day", "status", str(envfile)]) == 0
    assert "no trading day yet" in capsys.readouterr().out
    assert main(["day", "show", str(envfile), "2026-07-19"]) == 1
    assert capsys.readouterr().err.strip() == "ssmd: no trading day 2026-07-19 in kalshi-local"
    assert main(["day", "recover", str(envfile)]) == 1
    assert "ssmd up" in capsys.readouterr().err


def _stream_raw(env_file: Path) -> set[tuple[str, str]]:
    """(conn, received_at) of every raw frame the stream holds for the environment."""
    import asyncio

    from ssmd.config.load import load_environment
    from ssmd.middleware.factory import make_transport
    from ssmd.middleware.transport.base import StartPosition

    async def read() -> set[tuple[str, str]]:
        env = load_environment(str(env_file))
        transport = make_transport(env)
        await transport.connect()
        found: set[tuple[str, str]] = set()
        try:
            sub = await transport.subscribe(f"{env.name}.kalshi.raw.>", start=StartPosition.beginning())
            while True:
                try:
                    msg = await sub.next(timeout=2.0)
                except TimeoutError:
                    break
                found.add((msg.headers["conn"], msg.headers["received_at"]))
            await sub.close()
        finally:
            await transport.close()
        return found

    return asyncio.run(read())


def _status(data: Path, name: str) -> dict[str, Any]:
    from ssmd.runtime.client import ControlClient

    info = json.loads((data / "run" / f"{name}.json").read_text())
    return ControlClient(info["control_url"], timeout=10).get("/status")


def _component(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in status["components"] if c["name"] == name)


def _archive_facts(data: Path, env_name: str) -> tuple[set[tuple[str, str]], set[str], set[str], int]:
    lines = raw_lines(data, env_name)
    keys = {(line.conn, str(line.received_at)) for line in lines}
    assert len(keys) == len(lines), "a raw frame was archived twice"
    channels = {p.name.rsplit("-", 1)[0] for p in (data / "raw" / env_name).rglob("*.jsonl.zst")}
    snapshots = {json.loads(line.frame)["msg"]["market_ticker"] for line in lines if line.type == "orderbook_snapshot"}
    trades = sum(1 for line in lines if line.type == "trade")
    assert len(parquet_rows(data, env_name, "trade")) == trades
    return keys, channels, snapshots, trades


@pytest.mark.slow
def test_three_run_processes_over_nats_archive_like_one_up(tmp_path: Path, nats_server: Any) -> None:
    import uuid

    suffix = uuid.uuid4().hex[:6]
    nats = {"type": "nats", "url": nats_server.url}

    def setup(kind: str) -> tuple[Path, Path, dict[str, str], str]:
        folder = tmp_path / kind
        folder.mkdir()
        name = f"kalshi-{kind}-{suffix}"
        data = folder / "data"
        storage = {**ENV_TEMPLATE["storage"], "path": str(data)}
        envfile = write_env(folder, name=name, transport={**nats, "jetstream": {"stream": f"ssmd-{name}"}},
                            journal={}, storage=storage)
        return envfile, data, {**os.environ, "SSMD_DATA_DIR": str(data)}, name

    # one process: ssmd up
    envfile, data, env, name = setup("up")
    log = tmp_path / "up.log"
    up = spawn("up", str(envfile), env=env, log=log)
    try:
        until(lambda: (s := day_status(envfile, env))["day"] and s["stats"].get("messages", 0) > 300, "300 messages",
              procs=[up])
    finally:
        stop(up, log, signal.SIGTERM)
    up_keys, up_channels, up_snapshots, up_trades = _archive_facts(data, name)
    assert up_keys == _stream_raw(envfile)  # everything the connector published, nothing else

    # three processes: archiver, gateway, then the connector (with its simulator); the
    # markets come from the secmaster cache, as in a deployment
    envfile, data, env, name = setup("run")
    synced = ssmd("secmaster", "sync", str(envfile), env=env)
    assert synced.returncode == 0, synced.stderr
    procs = {c: spawn("run", c, str(envfile), env=env, log=tmp_path / f"{c}.log")
             for c in ("archiver", "gateway")}
    until(lambda: (data / "run" / f"{name}-archiver.json").exists(), "the archiver", procs=list(procs.values()))
    procs["connector"] = spawn("run", "connector", str(envfile), env=env, log=tmp_path / "connector.log")
    try:
        until(lambda: (data / "run" / f"{name}-connector.json").exists()
              and sum(v for k, v in _component(_status(data, f"{name}-connector"), "connector")["counters"].items()
                      if k in ("trade", "ticker", "orderbook_delta")) > 300,
              "300 messages", procs=list(procs.values()))
        gateway = _status(data, f"{name}-gateway")
        assert gateway["endpoints"]["gateway"].startswith("ws://127.0.0.1:")
    finally:
        stop(procs.pop("connector"), tmp_path / "connector.log")
    published = _stream_raw(envfile)
    try:
        until(lambda: _component(_status(data, f"{name}-archiver"), "archiver")["counters"].get("raw", 0)
              >= len(published), "the archiver to catch up", procs=list(procs.values()))
    finally:
        for component, proc in procs.items():
            stop(proc, tmp_path / f"{component}.log")
    run_keys, run_channels, run_snapshots, run_trades = _archive_facts(data, name)
    assert run_keys == published
    # same simulator seed and subscriptions: same channels, same markets, trades in both
    assert run_channels == up_channels and run_snapshots == up_snapshots
    assert run_trades > 0 and up_trades > 0


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        envfile = write_env(tmp_path, control={"port": port})
        result = ssmd("up", str(envfile), "--duration", "1", env={**os.environ, "SSMD_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 1
    assert result.stderr == f"ssmd: control API: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.slow
def test_up_on_a_terminal_prints_the_summary_lines(tmp_path: Path) -> None:
    import pty

    primary, secondary = pty.openpty()
    envfile = write_env(tmp_path)
    proc = subprocess.Popen([SSMD, "up", str(envfile), "--duration", "7"], stdin=subprocess.DEVNULL,
                            stdout=secondary, stderr=subprocess.PIPE,
                            env={**os.environ, "SSMD_DATA_DIR": str(tmp_path / "data")})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    os.close(primary)
    text = b"".join(chunks).decode()
    assert "ssmd up kalshi-local  (pid" in text
    assert "(built-in simulator, no credentials)" in text
    for step in ("sync_secmaster", "start_connector", "start_archiver", "start_gateway", "health_check"):
        assert f"✓ {step}" in text
    assert "✓ day " in text and " ACTIVE" in text
    assert "  gateway   ws://127.0.0.1:" in text
    assert " received " in text and " archived " in text  # a rates line
    last = text.strip().splitlines()[-1]
    assert last.startswith("✓ stopped (scheduler → secmaster → gateway → connector → healer → simulator → archiver")


def test_a_second_up_for_the_same_environment_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "run").mkdir(parents=True)
    (data / "run" / "kalshi-local.json").write_text(json.dumps(
        {"env": "kalshi-local", "pid": os.getpid(), "control_url": "http://127.0.0.1:9", "started_at": 1}))
    result = ssmd("up", str(write_env(tmp_path)), env={**os.environ, "SSMD_DATA_DIR": str(data)})
    assert result.returncode == 1
    assert result.stderr == (f"ssmd: ssmd up is already running for kalshi-local (pid {os.getpid()}, "
                             "http://127.0.0.1:9)\n")
