"""Chaos in the infrastructure: S3 down and back, Redis down and back, NATS restarted, all
under one ``ssmd up`` on the distributed backends (JetStream, S3 on moto, Redis) while a
steady stream of trades flows; and the secrets scan of a run with real credentials.

Each outage gets trades of its own prefix (``s3-``, ``redis-``, ``nats-``), so the archive,
downloaded from S3 at the end and read with DuckDB and zstd, says what each one cost.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_e2e import env_file, exchange
from chaos_common import ChaosResult, Scenario
from procs import Sender, Ssmd, get_json, read_archive, ssmd_cli, until

AWS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _download(endpoint: str, buckets: list[str], into: Path) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key=AWS["AWS_ACCESS_KEY_ID"], secret=AWS["AWS_SECRET_ACCESS_KEY"])
    for bucket in buckets:
        for path in fs.find(bucket):
            target = into / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fs.cat_file(path))


class _Phases:
    """One sender after another on the same subscription (seq continues), one prefix each."""

    def __init__(self, sub: Any, tickers: list[str], rate: float) -> None:
        self.sub, self.tickers, self.rate = sub, tickers, rate
        self.sent: dict[str, int] = {}
        self._seq = 0
        self._current: Sender | None = None
        self._task: asyncio.Task[None] | None = None

    def begin(self, prefix: str) -> None:
        self._current = Sender(self.sub, self.tickers, prefix, self.rate, seq=self._seq)
        self._task = asyncio.create_task(self._current.run(10**9))

    async def end(self) -> None:
        assert self._current is not None and self._task is not None
        self._current.stop()
        await self._task
        self.sent[self._current.prefix] = self._current.sent
        self._seq = self._current.seq


async def _outages(nats: Any, redis: Any, s3: Any, rate: float, down: float) -> list[ChaosResult]:
    async with exchange() as (ex, rest):
        with tempfile.TemporaryDirectory(prefix="chaos-infra-") as tmp:
            folder = Path(tmp)
            data = folder / "data"
            name = uuid.uuid4().hex[:6]
            buckets = {"raw": f"chaos-{name}-raw", "normalized": f"chaos-{name}-normalized"}
            envfile = env_file(folder, ex.ws_url, rest, journal={}, archiver={},
                               transport={"type": "nats", "url": nats.url, "jetstream": {"stream": f"ssmd-{name}"}},
                               storage={"type": "s3", "endpoint": s3.url, "buckets": buckets},
                               cache={"type": "redis", "url": redis.url})
            code, out = await ssmd_cli("env", "apply", str(envfile), data=data)
            if code != 0:
                raise RuntimeError(f"ssmd env apply failed: {out[-500:]}")
            up = await Ssmd(envfile, data, folder / "up.log").start()
            figures: dict[str, Any] = {}
            try:
                sub = await asyncio.wait_for(ex.subscribers.get(), 60)
                phases = _Phases(sub, ex.tickers, rate)

                def archiver() -> dict[str, Any]:
                    return dict(up.component_status("archiver").get("details", {}))

                # S3 down and back
                phases.begin("s3")
                await until(lambda: archiver().get("bytes_written"), 60, "the first write to S3")
                s3.stop()
                t0 = time.monotonic()
                await until(lambda: archiver()["storage"] == "failing", 60, "the archiver to see S3 down")
                figures["s3_seen"] = time.monotonic() - t0
                await asyncio.sleep(max(0.0, down - (time.monotonic() - t0)))
                s3.start()
                t1 = time.monotonic()
                await until(lambda: (d := archiver())["storage"] == "ok" and d["buffered_records"] < rate * 3, 120,
                            "the archiver to write to S3 again")
                figures["s3_back"] = time.monotonic() - t1
                await phases.end()
                # Redis down and back: the cache degrades (callers bypass it), and comes back
                phases.begin("redis")
                if "ssmd_cache_degraded 0.0" not in up.metrics():
                    raise RuntimeError("the cache reports degraded before Redis is stopped")
                redis.stop()
                t0 = time.monotonic()
                day_during = await until(lambda: get_json(up.control + "/day"), 30, "the day while Redis is down")
                degraded = await until(lambda: "ssmd_cache_degraded 1.0" in up.metrics(), 30,
                                       "the cache to report degraded")
                figures["redis_seen"] = time.monotonic() - t0
                await asyncio.sleep(max(0.0, down - (time.monotonic() - t0)))
                redis.start()
                t1 = time.monotonic()
                await until(lambda: get_json(up.control + "/day") and "ssmd_cache_degraded 0.0" in up.metrics(), 60,
                            "the cache to recover")
                figures["redis_back"] = time.monotonic() - t1
                figures["redis_day"] = bool(day_during) and degraded
                await phases.end()
                # NATS restarted (same port, same store)
                phases.begin("nats")
                await asyncio.sleep(1.0)
                nats.stop()
                t0 = time.monotonic()
                await asyncio.sleep(down)
                nats.start()
                await until(lambda: up.counter("archiver", "trade") > 0 and archiver()["storage"] == "ok", 60,
                            "the archiver after the NATS restart")
                await asyncio.sleep(2.0)
                await phases.end()
                figures["nats_down"] = time.monotonic() - t0
                total = sum(phases.sent.values())
                await until(lambda: up.counter("connector", "trade") >= total, 60, "the connector to read all")
                await asyncio.sleep(4.0)  # the last flush (2 s) and acks
                status = up.status()
            finally:
                code = await up.stop()
            _download(s3.url, list(buckets.values()), folder / "s3")
            archive = read_archive(folder / "s3")
            log = up.tail(10**7)
    rows = []
    for prefix, what, extra in (("s3", "S3 down and back", f"failing shown after {figures['s3_seen']:.1f} s, "
                                 f"writing again {figures['s3_back']:.1f} s after it returned"),
                                ("redis", "Redis down and back", f"degraded shown after {figures['redis_seen']:.1f} s"
                                 f" (control API /day still answered), recovered {figures['redis_back']:.1f} s "
                                 "after it returned"),
                                ("nats", "NATS restarted", f"nats-server down {down:.0f} s (same port and store)")):
        sent = phases.sent[prefix]
        got, dups = archive.count(prefix)
        raw_got, raw_dups = archive.raw_count(prefix)
        lost = sent - got
        held = lost == 0 and dups == 0 and raw_got == sent and raw_dups == 0
        if prefix == "redis":
            held = held and figures["redis_day"]
        rows.append(ChaosResult(
            f"{what}: recovered", f"{lost:,} of {sent:,} trades lost, {dups} duplicates ({sent - raw_got:,} lost, "
            f"{raw_dups} dup in raw)", "recovered, 0 lost, 0 duplicates", held,
            f"{rate:,.0f} trades/s through ssmd up on NATS + S3 (moto) + Redis; {extra}"))
    gaps = status.get("gaps") or []
    rows[-1] = ChaosResult(rows[-1].scenario, rows[-1].figure + f"; {len(gaps)} gaps recorded", rows[-1].goal,
                           rows[-1].held, rows[-1].detail + f"; exit {code}; "
                           f"{log.count('error')} log lines with 'error'")
    return rows


def outages(quick: bool) -> list[ChaosResult]:
    from tests.servers import NatsServer, RedisServer, S3Server, find_binary

    missing = [b for b in ("nats-server", "redis-server") if find_binary(b) is None]
    if missing:
        return [ChaosResult("S3, Redis down and back; NATS restarted", f"missing: {', '.join(missing)}",
                            "recovered, 0 lost", False)]
    saved = {k: os.environ.get(k) for k in AWS}
    os.environ.update(AWS)
    with tempfile.TemporaryDirectory(prefix="chaos-servers-") as tmp:
        nats = NatsServer(str(find_binary("nats-server")), Path(tmp) / "nats")
        redis = RedisServer(str(find_binary("redis-server")), Path(tmp) / "redis")
        s3 = S3Server()
        started: list[Any] = []
        try:
            for server in (nats, redis, s3):
                server.start()
                started.append(server)
            return asyncio.run(_outages(nats, redis, s3, rate=500.0, down=3.0 if quick else 15.0))
        finally:
            for server in started:
                server.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def scenarios(quick: bool) -> list[Scenario]:
    return [Scenario("S3, Redis down and back; NATS restarted", lambda: outages(quick))]
