"""Rebuilding Parquet from the raw log after a crash on the embedded bus."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive.raw import compress, encode_lines, iter_lines
from ssmd.archiver.rebuild import rebuild
from ssmd.calendar import DayPartitioner
from ssmd.kalshi.normalize import normalize_frame
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.runtime import discovery
from ssmd.runtime.crash import days_between, lost_window
from tests.archiver.helpers import make_env

FRAMES = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi" / "frames.jsonl"


async def test_frames_only_in_the_raw_log_get_their_records_and_a_second_rebuild_adds_none(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(str(tmp_path), attempts=1, fsync=False)
    where = layout.Layout.of(env)
    lines = list(iter_lines(FRAMES.read_bytes(), FRAMES.name))
    date = DayPartitioner(env.schedule)(lines[0].received_at)
    mine = [ln for ln in lines if DayPartitioner(env.schedule)(ln.received_at) == date]
    by_channel: dict[str, list] = {}
    for line in mine:
        by_channel.setdefault(line.channel, []).append(line)
    for channel, of_channel in by_channel.items():
        await storage.put(layout.raw_file_path(where, date, channel, 1), compress(encode_lines(of_channel)))
    expected = Counter(r.TYPE for ln in mine for r in normalize_frame(ln.frame.encode(), ln.received_at))
    assert expected["trade"] > 0 and expected["orderbook"] > 0

    rebuilt = await rebuild(env, storage, normalize_frame, [date], now_ns=mine[-1].received_at + 10**9)
    assert rebuilt.records == dict(expected)
    assert rebuilt.last_ns == max(ln.received_at for ln in mine)  # where what the crash lost begins
    again = await rebuild(env, storage, normalize_frame, [date], now_ns=mine[-1].received_at + 2 * 10**9)
    assert again.records == {}  # what Parquet holds is never written twice
    assert again.last_ns is not None and again.last_ns // 1000 == rebuilt.last_ns // 1000  # Parquet keeps µs
    parts = [p for p in tmp_path.rglob("*.parquet") if "trade" in str(p)]  # noqa: ASYNC240 - test inspection
    trades = [r for p in parts for r in pq.read_table(p).to_pylist()]
    want = [r.trade_id for ln in mine for r in normalize_frame(ln.frame.encode(), ln.received_at) if r.TYPE == "trade"]
    assert sorted(t["trade_id"] for t in trades) == sorted(want)


async def test_only_records_newer_than_parquet_holds_are_rebuilt(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(str(tmp_path), attempts=1, fsync=False)
    where = layout.Layout.of(env)
    lines = [ln for ln in iter_lines(FRAMES.read_bytes(), FRAMES.name) if ln.type == "trade"]
    date = DayPartitioner(env.schedule)(lines[0].received_at)
    lines = [ln for ln in lines if DayPartitioner(env.schedule)(ln.received_at) == date]
    half = len(lines) // 2
    await storage.put(layout.raw_file_path(where, date, "trade", 1), compress(encode_lines(lines[:half])))
    await rebuild(env, storage, normalize_frame, [date], now_ns=lines[half].received_at)  # Parquet: the first half
    await storage.put(layout.raw_file_path(where, date, "trade", 2), compress(encode_lines(lines[half:])))
    rebuilt = await rebuild(env, storage, normalize_frame, [date], now_ns=lines[-1].received_at + 10**9)
    newer = [r for ln in lines[half:] for r in normalize_frame(ln.frame.encode(), ln.received_at)]
    assert newer and rebuilt.records == {"trade": len(newer)}


def test_a_run_file_left_by_a_dead_process_says_the_run_crashed(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    path = discovery.run_file(env)
    path.parent.mkdir(parents=True)
    dead = discovery.RunInfo(env=env.name, pid=2**22 + 12345, control_url="http://127.0.0.1:1", started_at=1)
    path.write_bytes(msgspec.json.encode(dead))
    assert discovery.left_behind(env) == dead
    path.write_bytes(msgspec.json.encode(msgspec.structs.replace(dead, pid=os.getpid())))
    assert discovery.left_behind(env) is None  # still running
    path.unlink()
    assert discovery.left_behind(env) is None  # stopped cleanly


def test_the_days_to_rebuild_run_from_the_dead_run_start_to_now() -> None:
    env = make_env(Path("/nonexistent"))
    day, noon = 86_400 * 10**9, 1_784_808_000 * 10**9  # 2026-07-23 12:00 UTC
    first = DayPartitioner(env.schedule)(noon)
    assert days_between(env, noon, noon + 60 * 10**9) == [first]
    three = days_between(env, noon, noon + 2 * day)
    assert len(three) == 3 and three[0] == first and three == sorted(three)
    assert len(days_between(env, noon, noon + 30 * day)) == 7


def test_the_window_a_crash_lost_is_an_outage_per_subscribed_channel() -> None:
    env = make_env(Path("/nonexistent"))
    gaps = lost_window(env, 4242, last_ns=10, now_ns=99)
    assert [g.channel for g in gaps] == list(env.subscriptions.channels)
    assert all(g.kind == "outage" and (g.start_ns, g.end_ns) == (10, 99) and "4242" in g.cause for g in gaps)


def test_a_killed_process_never_reaped_counts_as_gone(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    env = make_env(tmp_path)
    child = subprocess.Popen(["sleep", "60"])
    try:
        path = discovery.run_file(env)
        path.parent.mkdir(parents=True)
        info = discovery.RunInfo(env=env.name, pid=child.pid, control_url="http://127.0.0.1:1", started_at=1)
        path.write_bytes(msgspec.json.encode(info))
        assert discovery.left_behind(env) is None  # running
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert discovery.left_behind(env) == info  # a zombie (not yet reaped) is not running
    finally:
        child.kill()
        child.wait()


async def test_a_rebuild_that_cannot_read_the_archive_never_blocks_the_start(tmp_path: Path) -> None:
    from ssmd.archive.raw import compress as zstd
    from ssmd.runtime.crash import rebuild_after_crash
    from tests.archiver.helpers import make_backends

    env = make_env(tmp_path)
    backends = make_backends(env)
    date = DayPartitioner(env.schedule)(10**18)
    part = layout.part_path(layout.Layout.of(env), "trade", date, 1, 1)
    await backends.storage.put(part, b"PAR1 not parquet at all")  # the newest part is damaged
    await backends.storage.put(layout.raw_file_path(layout.Layout.of(env), date, "trade", 1), zstd(b""))
    path = discovery.run_file(env)
    path.parent.mkdir(parents=True)
    path.write_bytes(msgspec.json.encode(discovery.RunInfo(env=env.name, pid=2**22 + 999, control_url="x",
                                                           started_at=10**18)))
    assert await rebuild_after_crash(env, backends, now_ns=10**18 + 10**9) is None  # logged, not raised
