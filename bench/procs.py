"""Pieces the process-level chaos scenarios share (``chaos_process.py``, ``chaos_infra.py``).

* ``Ssmd``: one ``ssmd up`` or ``ssmd run COMPONENT`` child process with its log, its run
  file, its control API and ``/metrics``; stopped with SIGINT (clean) or SIGKILL.
* ``paced``: write trades to a ``BurstExchange`` subscriber at a steady rate, counting every
  frame written, so a scenario knows exactly what the exchange sent before a fault.
* ``archive``: what a data dir holds after the fact: trade ids per Parquet file (read with
  DuckDB), raw trade frames (every ``.jsonl.zst`` decompressed whole), files that cannot
  be read, temp files left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_e2e import ENV_NAME  # noqa: E402
from e2e_exchange import Subscriber, ws_frame  # noqa: E402

from ssmd.simulator.frames import envelope, trade_msg  # noqa: E402

BIN = Path(sys.executable).parent


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return bytes(answer.read())


def get_json(url: str, timeout: float = 10) -> Any:
    return json.loads(get(url, timeout))


async def until(check: Any, timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``check`` (sync; run in a thread) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if value := await asyncio.to_thread(check):
                return value
        except Exception as exc:  # another process's HTTP API or file: retried until the deadline
            last_exc = exc
        await asyncio.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}"
                       + (f" (last error: {last_exc})" if last_exc else ""))


class Ssmd:
    """``ssmd up ENVFILE`` (``component`` None) or ``ssmd run COMPONENT ENVFILE``."""

    def __init__(self, envfile: Path, data: Path, log: Path, component: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.envfile, self.data, self.log, self.component = envfile, data, log, component
        self.extra_env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.info: dict[str, Any] = {}

    async def start(self, timeout: float = 90) -> Ssmd:
        if self.component is None:
            cmd = [str(BIN / "ssmd"), "up", str(self.envfile), "--duration", "900"]
        else:
            cmd = [str(BIN / "ssmd"), "run", self.component, str(self.envfile), "--control-port", "0",
                   "--metrics-port", "0"]
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "SSMD_DATA_DIR": str(self.data), **self.extra_env})
        name = ENV_NAME if self.component is None else f"{ENV_NAME}-{self.component}"
        run_file = self.data / "run" / f"{name}.json"

        def ready() -> dict[str, Any] | None:
            if self.proc is None or self.proc.returncode is not None:
                raise RuntimeError(f"ssmd exited {self.proc and self.proc.returncode}: {self.tail()}")
            if not run_file.exists():
                return None
            info = json.loads(run_file.read_text())
            return info if info.get("pid") == self.proc.pid and "control" in info.get("endpoints", {}) else None

        self.info = await until(ready, timeout, f"the run file of {' '.join(cmd[1:3])}")
        return self

    @property
    def control(self) -> str:
        return str(self.info["endpoints"]["control"])

    def status(self) -> dict[str, Any]:
        return dict(get_json(self.control + "/status"))

    def component_status(self, name: str) -> dict[str, Any]:
        for comp in self.status()["components"]:
            if comp["name"] == name:
                return dict(comp)
        return {}

    def metrics(self) -> str:
        return get(self.control + "/metrics").decode()

    def counter(self, component: str, key: str) -> int:
        return int(self.component_status(component).get("counters", {}).get(key, 0))

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    async def kill(self) -> None:
        """SIGKILL: no flush, no manifest, nothing but what is already on disk."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout: float = 120) -> int:
        """SIGINT and wait (the clean stop of Ctrl-C); SIGKILL after ``timeout``."""
        if self.proc is None:
            return 0
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return int(self.proc.returncode or 0)

    @property
    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@dataclass
class Sender:
    """Trades written to one subscriber at ``rate``/s; ``sent`` counts frames written."""

    sub: Subscriber
    tickers: list[str]
    prefix: str
    rate: float
    sent: int = 0
    seq: int = 0
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def _chunk(self, n: int) -> bytes:
        assert self.sub.trade_sid is not None
        ts_ms = time.time_ns() // 1_000_000
        parts = []
        for i in range(self.sent, self.sent + n):
            self.seq += 1
            body = trade_msg(f"{self.prefix}-{i}", self.tickers[i % len(self.tickers)], 100 + i % 9800,
                             100 + i % 5000, "yes" if i % 2 else "no", ts_ms)
            parts.append(ws_frame(envelope("trade", self.sub.trade_sid, self.seq, body)))
        return b"".join(parts)

    async def run(self, total: int, step: float = 0.02) -> None:
        """Send ``total`` trades (or until ``stop()``) at ``rate``, in chunks every ``step`` s."""
        start = time.monotonic()
        while self.sent < total and not self.stopped.is_set():
            due = min(total, int((time.monotonic() - start) * self.rate) + 1)
            if due > self.sent:
                self.sub.ws.transport.write(self._chunk(due - self.sent))
                self.sent = due
                await self.sub.ws.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), step)

    def stop(self) -> None:
        self.stopped.set()


# ---- the archive, read back ------------------------------------------------------------
@dataclass
class Archive:
    trade_ids: list[str]
    """Every trade id in the trade Parquet files (duplicates kept)."""
    raw_trades: list[str]
    """Trade ids of the raw archive's trade frames (duplicates kept)."""
    parquet_files: int
    raw_files: int
    unreadable: list[str]
    temp_files: list[str]
    manifests: dict[str, dict[str, Any]]
    raw_files_ids: dict[str, list[str]] = field(default_factory=dict)
    """Trade ids per raw file (relative path)."""

    def count(self, prefix: str) -> tuple[int, int]:
        """(distinct, duplicate rows) of trade ids starting with ``prefix-`` in Parquet."""
        ids = [t for t in self.trade_ids if t.startswith(prefix + "-")]
        return len(set(ids)), len(ids) - len(set(ids))

    def duplicated_in(self) -> str:
        """Which raw files hold the trade ids archived more than once, and how many."""
        from collections import Counter

        twice = {t for t, n in Counter(self.raw_trades).items() if n > 1}
        return ", ".join(f"{name.rsplit('/', 1)[-1]}: {sum(t in twice for t in ids)} of {len(ids)}"
                         for name, ids in sorted(self.raw_files_ids.items()) if twice & set(ids))

    def raw_count(self, prefix: str) -> tuple[int, int]:
        ids = [t for t in self.raw_trades if t.startswith(prefix + "-")]
        return len(set(ids)), len(ids) - len(set(ids))


def read_archive(data: Path) -> Archive:
    """Read every file the archiver left: Parquet with DuckDB, raw with zstd (all frames)."""
    import duckdb
    import zstandard

    ids: list[str] = []
    raw_ids: list[str] = []
    raw_files_ids: dict[str, list[str]] = {}
    unreadable: list[str] = []
    temp = [str(p.relative_to(data)) for p in data.rglob("*") if ".tmp-" in p.name]
    parquet = [p for p in data.rglob("*.parquet") if ".tmp-" not in p.name]
    con = duckdb.connect()
    for path in sorted(parquet):
        try:
            rows = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
            if "/trade/" in str(path):
                ids += [r[0] for r in con.execute("SELECT trade_id FROM read_parquet(?)", [str(path)]).fetchall()]
            del rows
        except Exception as exc:
            unreadable.append(f"{path.relative_to(data)}: {exc}")
    raws = [p for p in data.rglob("*.jsonl.zst") if ".tmp-" not in p.name]
    for path in sorted(raws):
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(path.read_bytes(), read_across_frames=True)
            text = reader.read()
            mine = raw_files_ids.setdefault(str(path.relative_to(data)), [])
            for line in text.splitlines():
                row = json.loads(line)
                if row.get("type") == "trade":
                    mine.append(json.loads(row["frame"])["msg"]["trade_id"])
            raw_ids += mine
        except Exception as exc:
            unreadable.append(f"{path.relative_to(data)}: {exc}")
    manifests = {}
    for path in data.rglob("manifest.json"):
        try:
            manifests[str(path.relative_to(data))] = json.loads(path.read_text())
        except Exception as exc:
            unreadable.append(f"{path.relative_to(data)}: {exc}")
    return Archive(ids, raw_ids, len(parquet), len(raws), unreadable, temp, manifests, raw_files_ids)



async def ssmd_cli(*args: str, data: Path, timeout: float = 120) -> tuple[int, str]:
    """An ``ssmd`` command (e.g. ``data quality``): (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "ssmd"), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SSMD_DATA_DIR": str(data)})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode(errors="replace")


def assert_held(results: list[Any]) -> None:
    """For tests: print every figure, then fail naming each ``ChaosResult`` that missed its goal."""
    for r in results:
        print(f"{r.scenario}: {r.figure} (goal {r.goal}; {r.detail})")
    failed = [f"{r.scenario}: {r.figure} (goal: {r.goal}; {r.detail})" for r in results if not r.held]
    assert not failed, "\n".join(failed)
