"""Soak: ``ssmd up`` at a steady 10k msg/s for minutes; memory must stay flat, lag bounded.

The simulator runs as its own process (``ssmd sim --rate 10000``, so its work is not
counted as ssmd's), and ``ssmd up`` as another, with the whole pipeline (every channel,
gateway, archiver, secmaster, healer). Every 5 s the bench reads the ``ssmd up`` process's
RSS (``/proc``) and its status (``/status``: the connector's message count and lag, the
archiver's buffered records). Reported: the rate sustained, the RSS growth over the second
half of the run (MB/min, least squares; the first half is warm-up: caches, the memory
bus's retained window, the first Parquet files), the RSS at the end, the highest
connector lag seen and the most records the archiver held.

Full: 10 minutes; ``--quick``: 1 minute. ``python bench/bench_soak.py [SECONDS]`` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_e2e import BIN, ENV_NAME, _until, env_file, stop, wait
from common import Result

RATE = 10_000
SAMPLE = 5.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _status(control: str) -> dict[str, Any]:
    with urllib.request.urlopen(control + "/status", timeout=5) as resp:
        return json.loads(resp.read())


def _component(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next((c for c in status["components"] if c["name"] == name), {})


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y) points, y per second."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / den if den else 0.0


async def _sim() -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(str(BIN / "ssmd"), "sim", "--rate", str(RATE), "--markets", "50",
                                                "--lifecycle-interval", "0", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    ws = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()[-1]
    rest = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()[-1]
    return proc, ws, rest


async def soak(seconds: float) -> dict[str, Any]:
    sim, ws, rest = await _sim()
    try:
        with tempfile.TemporaryDirectory(prefix="ssmd-soak-") as tmp:
            folder = Path(tmp)
            channels = {"channels": ["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"], "markets": "all"}
            envfile = env_file(folder, ws, rest, subscriptions=channels, archiver={"flush_interval_seconds": 2.0})
            data = folder / "data"
            up = await asyncio.create_subprocess_exec(
                str(BIN / "ssmd"), "up", str(envfile), "--duration", str(seconds + 120),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "SSMD_DATA_DIR": str(data)})
            try:
                run_file = data / "run" / f"{ENV_NAME}.json"
                await wait(_until(run_file.exists), up, 60, "the run file")
                control = json.loads(run_file.read_text())["endpoints"]["control"]
                samples: list[dict[str, float]] = []
                start = time.monotonic()
                while time.monotonic() - start < seconds:
                    await asyncio.sleep(SAMPLE)
                    status = await asyncio.to_thread(_status, control)
                    connector, archiver = _component(status, "connector"), _component(status, "archiver")
                    samples.append({"t": time.monotonic() - start, "rss": _rss_mb(up.pid),
                                    "received": sum(v for k, v in connector.get("counters", {}).items()
                                                    if k in ("trade", "ticker", "orderbook_delta",
                                                             "orderbook_snapshot")),
                                    "lag": connector.get("lag_seconds") or 0.0,
                                    "buffered": archiver.get("details", {}).get("buffered_records", 0)})
            finally:
                await stop(up)
    finally:
        with contextlib.suppress(ProcessLookupError):
            sim.terminate()
        await sim.wait()
    half = [s for s in samples if s["t"] >= seconds / 2]
    first, last = samples[0], samples[-1]
    return {"rate": (last["received"] - first["received"]) / max(1e-9, last["t"] - first["t"]),
            "growth": slope([(s["t"], s["rss"]) for s in half]) * 60, "rss": last["rss"],
            "lag": max(s["lag"] for s in samples), "buffered": max(s["buffered"] for s in samples)}


def run(quick: bool = False) -> list[Result]:
    seconds = 60.0 if quick else 600.0
    r = asyncio.run(soak(seconds))
    label = f"soak {seconds / 60:.0f} min at {RATE:,} msg/s"
    return [
        Result(f"{label}: messages received per second", r["rate"], "msg/s", RATE, "simulator rate",
               goal="~100%"),
        Result(f"{label}: RSS growth over the second half", r["growth"], "MB/min", goal="flat (~0)",
               higher_is_better=False),
        Result(f"{label}: RSS at the end", r["rss"], "MB", goal="info"),
        Result(f"{label}: highest connector lag", r["lag"], "s", goal="< 1 s", higher_is_better=False),
        Result(f"{label}: most records the archiver held", r["buffered"], "records", goal="info"),
    ]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(soak(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)), indent=2))
