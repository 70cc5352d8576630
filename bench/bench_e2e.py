"""End to end: ``ssmd up`` as a user runs it, fed by an exchange that bursts N trades.

The exchange (``e2e_exchange.BurstExchange``, in this process) answers Kalshi's subscribe
commands and writes N prebuilt ``trade`` frames as fast as the reader takes them. The
secmaster sync of ``ssmd up`` needs Kalshi's REST API: the real simulator serves it here
(``rate=0``: REST only, no WebSocket data), and its trading markets are the trades' tickers.
Every reader is a child process, so the exchange and the reader each have a core:

* exchange alone: a raw-socket sink that counts bytes (what the exchange can push);
* ceiling: a bare websockets client that subscribes and reads the N frames (``decode=False``);
* ssmd: ``.venv/bin/ssmd up ENVFILE`` (memory bus, local storage in a temp dir, ports 0,
  ``endpoints`` at this exchange, channels [trade], markets all, flush every 0.25 s):
  from the first frame sent until the normalized trade Parquet holds N rows (footers
  polled every 20 ms). Checked exactly after a clean stop: N rows, N distinct trade ids,
  the ids sent. The time the connector had read everything (``/status``, polled every
  100 ms) splits reading from archiving;
* the same with one gateway client subscribed to ``*`` (realtime) reading as fast as it can.

``bench_e2e_nats.py`` runs the same burst through ``ssmd run connector`` + ``ssmd run
archiver`` over nats-server. Both run with ``python bench/run.py e2e`` (``--quick``: 30k).

``python bench/bench_e2e.py --profile OUT [N [WORKERS]]`` samples one ``ssmd up`` burst with py-spy
(``pip install py-spy``; attached for the burst only; raw collapsed stacks in OUT, and the
CPU µs per message of each stage printed, ``bench/stages.py``), or with
OUT ending in ``.prof`` runs ``ssmd up`` under cProfile (whole run, exact call counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from common import Result
from e2e_exchange import BurstExchange

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ENV_NAME = "e2e-bench"


def env_file(folder: Path, ws: str, rest: str, **sections: Any) -> Path:
    """The environment file of one run; ``sections`` replace top-level sections."""
    env: dict[str, Any] = {
        "name": ENV_NAME, "feed": "kalshi", "schema": "trade:v1,ticker:v1,orderbook:v1,lifecycle:v1",
        "schedule": {"timezone": "UTC", "day_start": "00:00", "day_end": "00:00", "auto_roll": True},
        "transport": {"type": "memory"},
        "storage": {"type": "local", "path": str(folder / "data"),
                    "buckets": {"raw": "raw", "normalized": "normalized"}},
        "cache": {"type": "local"}, "journal": {"type": "file"},
        "gateway": {"port": 0}, "metrics": {"port": 0}, "control": {"port": 0},
        "subscriptions": {"channels": ["trade"], "markets": "all"},
        "simulator": {"enabled": False},
        "endpoints": {"ws": ws, "rest": rest},
        "archiver": {"flush_interval_seconds": 0.25},
        **sections,
    }
    path = folder / f"{ENV_NAME}.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


class Child:
    """A reader process of ``e2e_exchange.py`` that prints JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE / "e2e_exchange.py"), *args,
                                                    stdout=asyncio.subprocess.PIPE)
        return cls(proc)

    async def line(self, timeout: float = 120) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"reader exited with {await self.proc.wait()}")
        return json.loads(raw)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def _reader_run(ex: BurstExchange, mode: str, n: int) -> tuple[float, float, dict[str, Any]]:
    """One burst to a reader child: (first frame sent, last frame written, reader's result)."""
    child = await Child.start(mode, ex.ws_url, str(n))
    try:
        sub = await asyncio.wait_for(ex.subscribers.get(), 30)
        await child.line()
        start, sent = await ex.burst(sub, n)
        if mode == "sink":
            await sub.ws.close()  # its close frame tells the sink the burst is over
        return start, sent, await child.line()
    finally:
        await child.stop()


def trade_parts(data: Path) -> list[Path]:
    return sorted((data / "normalized" / ENV_NAME / "kalshi" / "v1" / "trade").glob("date=*/part-*.parquet"))


def archived_rows(data: Path, seen: dict[Path, int]) -> int:
    import pyarrow.parquet as pq

    for path in trade_parts(data):
        if path not in seen:
            seen[path] = pq.read_metadata(path).num_rows
    return sum(seen.values())


def exact(data: Path, n: int, prefix: str) -> str:
    """'' when the archive holds exactly the N trades sent (each once, with the exact price,
    size and side ``trade_blobs`` gave it), else what is wrong."""
    from decimal import Decimal

    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in trade_parts(data):
        rows += pq.read_table(path, columns=["trade_id", "price", "size", "side"]).to_pylist()
    ids = [r["trade_id"] for r in rows]
    if len(ids) != n or len(set(ids)) != n or set(ids) != {f"{prefix}-{i}" for i in range(n)}:
        return f"{len(ids)} rows, {len(set(ids))} distinct trade ids, {n} sent"
    for r in rows:
        i = int(r["trade_id"].rsplit("-", 1)[1])
        want = (Decimal(100 + i % 9800) / 10_000, Decimal(100 + i % 5000) / 100, "yes" if i % 2 else "no")
        if (r["price"], r["size"], r["side"]) != want:
            return f"trade {r['trade_id']}: price, size, side {r['price']}, {r['size']}, {r['side']}, sent {want}"
    return ""


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def _connector_read(control: str) -> int:
    status = _get_json(control + "/status")
    for component in status["components"]:
        if component["name"] == "connector":
            return int(component["counters"].get("trade", 0))
    return 0


async def _ssmd_run(ex: BurstExchange, rest: str, n: int, *, gateway: bool, profile: Path | None = None,
                    timeout: float = 120, workers: int = 1) -> dict[str, Any]:
    """``ssmd up`` in a child process, one burst of N trades, until all are in Parquet."""
    with tempfile.TemporaryDirectory(prefix="ssmd-e2e-") as tmp:
        folder = Path(tmp)
        data = folder / "data"
        envfile = env_file(folder, ex.ws_url, rest)
        cmd = [str(BIN / "ssmd"), "up", str(envfile), "--duration", str(timeout + 60), "--workers", str(workers)]
        if profile is not None and profile.suffix == ".prof":  # cProfile: the whole run, exact call counts
            cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "ssmd.cli.main", *cmd[1:]]
        log = (folder / "up.log").open("wb")
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=asyncio.subprocess.STDOUT,
                                                    env={**os.environ, "SSMD_DATA_DIR": str(data)})
        reader: Child | None = None
        spy: asyncio.subprocess.Process | None = None
        try:
            sub = await wait(ex.subscribers.get(), proc, 60, "the connector's trade subscription")
            run_file = data / "run" / f"{ENV_NAME}.json"
            info = await wait(_until(lambda: run_file.exists() and "gateway" in (
                i := json.loads(run_file.read_text()))["endpoints"] and i), proc, 30, "the run file")
            control = info["endpoints"]["control"]
            if gateway:
                reader = await Child.start("gateway", info["endpoints"]["gateway"], str(n))
                await reader.line()
            if profile is not None and profile.suffix != ".prof":  # py-spy: the burst only, not pausing ssmd
                spy = await asyncio.create_subprocess_exec(
                    str(BIN / "py-spy"), "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "500",
                    "--nonblocking", "--subprocesses", "-o", str(profile), stdout=asyncio.subprocess.DEVNULL)
                await asyncio.sleep(1.0)
            prefix, cpu0 = f"b{ex.bursts + 1}", cpu_seconds(proc.pid)
            burst = asyncio.create_task(ex.burst(sub, n))
            seen: dict[Path, int] = {}
            read_at, rows, polls, deadline = None, 0, 0, time.monotonic() + timeout
            while rows < n and time.monotonic() < deadline and proc.returncode is None:
                await asyncio.sleep(0.02)
                rows, polls = archived_rows(data, seen), polls + 1
                if read_at is None and polls % 5 == 0 and await asyncio.to_thread(_connector_read, control) >= n:
                    read_at = time.monotonic()
            done_at, cpu = time.monotonic(), cpu_seconds(proc.pid) - cpu0
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
            start, sent = await burst
            got = await reader.line(30) if reader else None
            out: dict[str, Any] = {"start": start, "sent": sent, "read": read_at, "archived": done_at,
                                   "rows": rows, "gw": got, "cpu": cpu}
        except Exception as exc:
            raise RuntimeError(f"{exc}; ssmd up log: {(folder / 'up.log').read_text()[-2000:]}") from exc
        finally:
            if spy is not None and spy.returncode is None:
                spy.kill()
                await spy.wait()
            if reader is not None:
                await reader.stop()
            await stop(proc)
            log.close()
        if proc.returncode != 0:
            raise RuntimeError(f"ssmd up exited {proc.returncode}: {(folder / 'up.log').read_text()[-2000:]}")
        out["problem"] = exact(data, n, prefix)
        return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _until(check: Any, poll: float = 0.05) -> Any:
    while True:  # another process's file: nothing to wait on in-process
        if value := check():
            return value
        await asyncio.sleep(poll)


async def wait(work: Any, proc: asyncio.subprocess.Process, timeout: float, what: str) -> Any:
    task = asyncio.ensure_future(work)
    exited = asyncio.ensure_future(proc.wait())
    done, _ = await asyncio.wait({task, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    exited.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise RuntimeError(f"ssmd up exited ({proc.returncode}) or timed out waiting for {what}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 90)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def exchange() -> Any:
    from ssmd.simulator import SimSettings, Simulator

    async with Simulator(SimSettings(rate=0, lifecycle_interval=0)) as sim, \
            BurstExchange(sim.trading_tickers()) as ex:
        yield ex, sim.rest_url


async def _main(quick: bool) -> list[Result]:
    n = 30_000 if quick else 100_000
    async with exchange() as (ex, rest):
        start, _, sink = await _reader_run(ex, "sink", n)
        alone = n / (sink["last"] - start)
        start, _, bare = await _reader_run(ex, "client", n)
        ceiling = n / (bare["last"] - start)
        solo = await _ssmd_run(ex, rest, n, gateway=False)
        with_gw = await _ssmd_run(ex, rest, n, gateway=True)
        two = await _ssmd_run(ex, rest, n, gateway=False, workers=2)
    rows = []
    for label, run in (("ssmd up", solo), ("ssmd up + gateway client on *", with_gw),
                       ("ssmd up --workers 2", two)):
        check = "exact" if not run["problem"] else f"NOT EXACT: {run['problem']}"
        rows.append(Result(f"e2e {label}: first sent -> all {n:,} in Parquet ({check})",
                           n / (run["archived"] - run["start"]), "msg/s", ceiling, "bare websockets client",
                           goal=">= 45k msg/s, >= 60%"))
        rows.append(Result(f"e2e {label}: CPU of the main ssmd process per message", run["cpu"] / n * 1e6, "us/msg",
                           1e6 / ceiling, "bare client, wall per msg", higher_is_better=False))
        if run["read"] is not None:
            rows.append(Result(f"e2e {label}: connector has read all (status, +-0.1 s)",
                               n / (run["read"] - run["start"]), "msg/s", ceiling, "bare websockets client"))
        if (gw := run["gw"]) is not None:
            rows.append(Result(f"e2e {label}: the client received {gw['n']:,} of {n:,} trades",
                               gw["n"] / (gw["last"] - run["start"]) if gw["n"] else 0.0, "msg/s", ceiling,
                               "bare websockets client"))
    return [Result(f"e2e exchange alone -> raw socket sink, {n:,} trades", alone, "msg/s", goal="info: >> ssmd"),
            Result("e2e bare websockets client reads them (decode=False)", ceiling, "msg/s", alone,
                   "exchange alone"), *rows]


def run(quick: bool = False) -> list[Result]:
    return asyncio.run(_main(quick))


async def _profile(out: Path, n: int, workers: int) -> None:
    async with exchange() as (ex, rest):
        result = await _ssmd_run(ex, rest, n, gateway=False, profile=out, workers=workers)
    print(json.dumps({k: v for k, v in result.items() if k != "gw"}), file=sys.stderr)
    if out.suffix != ".prof":
        from stages import table

        print(table(out, n))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--profile"]:
        workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        asyncio.run(_profile(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 100_000, workers))
