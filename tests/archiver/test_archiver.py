"""The archiver on the real memory transport and local storage."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest
import zstandard

from ssmd import metrics
from ssmd.archive import manifest as mf
from ssmd.archive.raw import compress, read_raw
from ssmd.archiver import Archiver, compact_day, verify_day
from ssmd.errors import StorageError
from ssmd.records import Trade
from ssmd.status import GapInfo
from tests.archiver.helpers import (
    DAY,
    MS,
    T0,
    archive,
    consumed,
    frame_for,
    make_backends,
    make_env,
    publish,
    running,
    sample_records,
    until,
)


def _parquet_rows(root: Path, record_type: str) -> list[dict]:
    files = sorted((root / "ssmd-normalized/t1/kalshi/v1" / record_type / f"date={DAY}").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _raw_lines(root: Path) -> list:
    day = root / "ssmd-raw/t1/kalshi/2026/07/19"
    return [ln for f in sorted(day.glob("*.jsonl.zst")) for ln in read_raw(f.read_bytes(), f.name)]


async def test_archives_parquet_raw_and_manifest(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    records = sample_records()
    await archive(env, backends, records)

    trades = _parquet_rows(tmp_path, "trade")
    assert [str(t["price"]) for t in trades] == ["0.9990", "0.4101", "0.4102"]
    assert [str(t["size"]) for t in trades] == ["0.11", "0.12", "0.13"]
    assert trades[0]["ticker"] == "KXBTCD-26JUL2317-T118999.99" and trades[0]["side"] == "yes"
    assert len(_parquet_rows(tmp_path, "orderbook")) == 4  # 3 snapshot levels + 1 delta
    assert len(_parquet_rows(tmp_path, "ticker")) == 1 and len(_parquet_rows(tmp_path, "lifecycle")) == 1

    lines = _raw_lines(tmp_path)
    assert sorted(ln.frame.encode() for ln in lines) == sorted(frame_for(r) for r in records)
    assert {ln.conn for ln in lines} == {"c1"}
    text = zstandard.ZstdDecompressor().decompressobj().decompress(
        next((tmp_path / "ssmd-raw/t1/kalshi/2026/07/19").glob("trade-*.jsonl.zst")).read_bytes())
    first = json.loads(text.splitlines()[0])
    assert list(first) == ["received_at", "conn", "channel", "type", "sid", "seq", "frame"]

    manifest = json.loads((tmp_path / "ssmd-raw/t1/kalshi/2026/07/19/manifest.json").read_bytes())
    for field in ("feed", "date", "data_type", "schema_version", "status", "record_count", "byte_size",
                  "first_timestamp", "last_timestamp", "gaps", "quality_score", "connector_version", "created_at"):
        assert field in manifest
    assert manifest["record_count"] == len(records) and manifest["status"] == "open"
    assert manifest["counts"] == {"orderbook": 2, "trade": 3, "ticker": 1, "lifecycle": 1}
    assert manifest["seq_ranges"]["1"] == [1, 3, 3]
    assert {f["name"] for f in manifest["files"]} == {"orderbook-1.jsonl.zst", "trade-1.jsonl.zst",
                                                      "ticker-1.jsonl.zst", "lifecycle-1.jsonl.zst"}
    assert manifest["normalized"]["trade"]["rows"] == 3
    assert manifest["first_timestamp"] == "2026-07-19T15:45:00.002Z"


async def test_queryable_within_flush_interval_without_explicit_flush(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=0.2)
    backends = make_backends(env)
    archiver = Archiver(env, backends)
    folder = tmp_path / "ssmd-normalized/t1/kalshi/v1/trade" / f"date={DAY}"
    async with running(archiver):
        await publish(env, backends.transport, sample_records(n=1))
        await until(lambda: any(folder.glob("*.parquet")), timeout=5.0)
    assert len(_parquet_rows(tmp_path, "trade")) == 1


async def _written_not_acked(env: Any, backends: Any, records: list[Any], ack_wait: float
                             ) -> tuple[Archiver, asyncio.Task[None]]:
    """An archiver that consumed and wrote ``records`` and dies before acking them."""
    await publish(env, backends.transport, records)
    crashed = Archiver(env, backends, ack_wait=ack_wait)
    task = asyncio.create_task(crashed.run())
    await until(lambda: consumed(crashed) == len(records) and crashed.status().counters.get("raw") == len(records))
    await crashed._write(True, crashed.clock.monotonic())  # written to storage ...
    crashed._ready.clear()  # ... but the process dies before acking
    return crashed, task


async def test_crash_before_ack_redelivers_without_loss_or_duplicates(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=3600)
    backends = make_backends(env)
    first, second = sample_records(n=3), sample_records(ticker="KXOTHER", base=T0 + 10_000 * MS, n=2)
    crashed, task = await _written_not_acked(env, backends, first, ack_wait=0.3)
    await publish(env, backends.transport, second, start=100)
    await until(lambda: consumed(crashed) == len(first) + len(second))  # consumed, never written
    task.cancel()  # hard stop: no final flush, no acks
    with contextlib.suppress(asyncio.CancelledError):
        await task

    restarted = Archiver(env, backends, ack_wait=0.3)
    async with running(restarted):
        await until(lambda: consumed(restarted) >= len(second)
                    and restarted.status().details["duplicates_skipped"] >= 2 * len(first))
        await restarted.flush()
        assert restarted.buffered == 0

    trade_ids = [t["trade_id"] for t in _parquet_rows(tmp_path, "trade")]
    assert sorted(trade_ids) == sorted(r.trade_id for r in first + second if isinstance(r, Trade))
    frames = sorted(ln.frame.encode() for ln in _raw_lines(tmp_path))
    assert frames == sorted(frame_for(r) for r in first + second)


async def test_storage_failure_keeps_data_buffered_then_succeeds(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=3600)
    backends = make_backends(env)
    blocker = tmp_path / "ssmd-normalized"
    blocker.write_text("not a folder")  # every normalized write fails, as on a broken disk
    records = sample_records(n=2)
    await publish(env, backends.transport, records)
    archiver = Archiver(env, backends)
    errors_before = metrics.ARCHIVER_WRITE_ERRORS.labels("normalized")._value.get()
    async with running(archiver):
        await until(lambda: consumed(archiver) == len(records))
        with pytest.raises(StorageError):
            await archiver.flush()
        status = archiver.status()
        assert status.details["storage"] == "failing" and status.last_error
        assert status.details["bytes_written"] == 0 and status.details["last_flush"] is None
        assert metrics.CIRCUIT_BREAKER_OPEN.labels("storage")._value.get() == 1
        assert archiver.buffered >= len(records)
        assert metrics.ARCHIVER_WRITE_ERRORS.labels("normalized")._value.get() > errors_before
        assert not list(tmp_path.rglob("*.parquet"))  # noqa: ASYNC240 - test inspection
        report = await verify_day(env, backends, DAY)
        assert report.status == "incomplete" and any("still buffered" in p for p in report.problems)

        blocker.unlink()
        await archiver.flush()
        assert archiver.buffered == 0 and archiver.status().details["storage"] == "ok"
        assert metrics.CIRCUIT_BREAKER_OPEN.labels("storage")._value.get() == 0
        written = archiver.status().details
        assert written["bytes_written"] > 0 and written["last_flush"].endswith("Z")
    assert len(_parquet_rows(tmp_path, "trade")) == 2
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # noqa: ASYNC240 - test inspection


async def test_gaps_go_to_the_manifest_and_verify_compact_the_day(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    gap = GapInfo(kind="outage", channel="trade", start_ns=T0, end_ns=T0 + 3600 * 1000 * MS, cause="disconnect")
    await backends.transport.publish("t1.kalshi.gaps", msgspec.json.encode(gap))
    await archive(env, backends, sample_records(ticker="B", n=2))
    await archive(env, backends, sample_records(ticker="A", base=T0 + 1000 * MS, n=2), start=50)
    folder = tmp_path / "ssmd-normalized/t1/kalshi/v1/trade" / f"date={DAY}"
    assert len(list(folder.glob("part-*.parquet"))) == 2

    report = await verify_day(env, backends, DAY)
    assert report.status == "complete", report.problems
    assert report.normalized["trade"] == 4 and report.raw_records == 12 and report.gaps == 1
    manifest = mf.decode((tmp_path / "ssmd-raw/t1/kalshi/2026/07/19/manifest.json").read_bytes())
    assert manifest.status == "complete" and manifest.gaps[0].cause == "disconnect"
    assert manifest.quality_score == round(1 - 60 / (24 * 60 - 10), 4)  # 1 h down in a 23 h 50 min day

    result = await compact_day(env, backends, DAY)
    assert result.types["trade"]["files_in"] == 2 and result.types["trade"]["rows"] == 4
    assert [p.name for p in folder.glob("*.parquet")] == ["compacted.parquet"]
    rows = pq.read_table(folder / "compacted.parquet").to_pylist()
    keys = [(r["ticker"], r["ts"]) for r in rows]
    assert keys == sorted(keys) and [r["ticker"] for r in rows] == ["A", "A", "B", "B"]
    assert str(rows[0]["price"]) == "0.9990"
    assert (await compact_day(env, backends, DAY)).types == {}  # idempotent


async def test_compaction_and_verify_name_a_corrupt_file_and_keep_it(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    await archive(env, backends, sample_records(n=2))
    folder = tmp_path / "ssmd-normalized/t1/kalshi/v1/trade" / f"date={DAY}"
    bad = folder / "part-0000000000000000001-0001.parquet"
    bad.write_bytes(b"PAR1 truncated")
    result = await compact_day(env, backends, DAY)
    assert any(bad.name in s for s in result.skipped) and bad.exists()
    assert result.types["trade"]["rows"] == 2
    report = await verify_day(env, backends, DAY)
    assert report.status == "incomplete"
    assert any(bad.name in p and "not a readable Parquet file" in p for p in report.problems)


async def test_undecodable_record_goes_to_the_dead_letter_subject(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    await backends.transport.publish("t1.kalshi.trade.X", b"\x00garbage", {"received_at": str(T0), "conn": "c"})
    dlq = await backends.transport.subscribe("t1.dlq.archiver")
    archiver = Archiver(env, backends)
    async with running(archiver):
        msg = await dlq.next(timeout=10)
    assert msg.data == b"\x00garbage" and "cannot decode trade" in msg.headers["error"]
    assert archiver.status().errors == 1


async def test_raw_files_rotate_by_size_and_numbering_continues_after_restart(tmp_path: Path) -> None:
    env = make_env(tmp_path, raw_rotate_bytes=1)  # every flushed file is full
    backends = make_backends(env)
    await archive(env, backends, sample_records(n=1))
    await archive(env, backends, sample_records(ticker="B", n=1), start=10)
    day = tmp_path / "ssmd-raw/t1/kalshi/2026/07/19"
    assert sorted(p.name for p in day.glob("trade-*")) == ["trade-1.jsonl.zst", "trade-2.jsonl.zst"]
    manifest = mf.decode((day / "manifest.json").read_bytes())
    assert [f.records for f in manifest.files if f.channel == "trade"] == [1, 1]
    assert manifest.record_count == 10


async def test_a_batch_mixing_redeliveries_and_new_messages_archives_each_once(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=3600)
    backends = make_backends(env)
    first, later = sample_records(n=4), sample_records(ticker="KXLATER", base=T0 + 20_000 * MS, n=3)
    await publish(env, backends.transport, first)
    crashed = Archiver(env, backends, ack_wait=0.3)
    task = asyncio.create_task(crashed.run())
    await until(lambda: consumed(crashed) == len(first) and crashed.status().counters.get("raw") == len(first))
    await crashed._write(True, crashed.clock.monotonic())  # written, never acked
    crashed._ready.clear()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await publish(env, backends.transport, later, start=100)
    loop = asyncio.get_running_loop()
    durables = backends.transport._durables.values()
    await until(lambda: all(deadline <= loop.time() for c in durables for _, deadline in c.pending.values()))
    # now the first batch of each consumer holds the redeliveries, then the new messages

    restarted = Archiver(env, backends, ack_wait=0.3)
    async with running(restarted):
        await until(lambda: consumed(restarted) >= len(later) and restarted.status().counters.get("raw", 0)
                    >= len(later) and restarted.status().details["duplicates_skipped"] >= 2 * len(first))
        await restarted.flush()
        assert restarted.buffered == 0
    trade_ids = [t["trade_id"] for t in _parquet_rows(tmp_path, "trade")]
    assert sorted(trade_ids) == sorted(r.trade_id for r in first + later if isinstance(r, Trade))
    frames = sorted(ln.frame.encode() for ln in _raw_lines(tmp_path))
    assert frames == sorted(frame_for(r) for r in first + later)


class _Delivery:
    def __init__(self, seq: int, subject: str, data: bytes, headers: dict[str, str]) -> None:
        self.seq, self.subject, self.data, self.headers = seq, subject, data, headers
        self.ts, self.redelivered, self.acked = T0, False, False

    async def ack(self) -> None:
        self.acked = True


class _OneBatch:
    """A subscription that hands out one batch, then ends."""

    def __init__(self, batch: list[_Delivery]) -> None:
        self.batch: list[_Delivery] | None = batch

    async def next_batch(self, max_n: int, timeout: float | None = None) -> list[_Delivery]:
        if self.batch is None:
            raise StopAsyncIteration
        batch, self.batch = self.batch, None
        return batch


async def test_a_copy_of_a_message_in_the_same_batch_is_not_acked_before_the_write(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    archiver = Archiver(env, make_backends(env))
    headers = {"received_at": str(T0), "conn": "c1", "channel": "trade", "type": "trade", "sid": "1", "seq": "1"}
    original, copy = (_Delivery(7, "t1.kalshi.raw.trade", b"{}", headers) for _ in range(2))
    await archiver._consume("raw", _OneBatch([original, copy]))
    assert archiver.buffered == 1 and not original.acked and not copy.acked
    assert archiver.status().details["duplicates_skipped"] == 1


class CountingStorage:
    """Local storage that counts the raw files read back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.raw_reads: list[str] = []

    async def get(self, path: str) -> bytes:
        if path.endswith(".jsonl.zst"):
            self.raw_reads.append(path.rsplit("/", 1)[-1])
        return bytes(await self.inner.get(path))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_verify_reads_back_only_raw_files_the_manifest_does_not_describe(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    await archive(env, backends, sample_records(n=2))
    counting = CountingStorage(backends.storage)
    backends.storage = counting
    first = await verify_day(env, backends, DAY)
    assert first.status == "complete" and counting.raw_reads == []  # a day's worth of raw lines is not reread
    (raw,) = tmp_path.rglob("trade-1.jsonl.zst")  # noqa: ASYNC240 - test inspection
    whole = raw.read_bytes()
    raw.write_bytes(whole + compress(b'{"cut": "short"}\n')[:6])  # an append cut short after the manifest
    again = await verify_day(env, backends, DAY)
    assert counting.raw_reads and set(counting.raw_reads) == {"trade-1.jsonl.zst"}
    assert again.status == "complete" and again.raw_records == first.raw_records
    assert raw.read_bytes() == whole  # the torn frame was cut off; the file reads whole again


async def test_redeliveries_after_the_restarted_run_wrote_raw_files_are_still_recognised(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=3600)
    backends = make_backends(env)
    first, later = sample_records(n=3), sample_records(ticker="KXLATER", base=T0 + 20_000 * MS, n=2)
    _, task = await _written_not_acked(env, backends, first, ack_wait=1.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    restarted = Archiver(env, backends, ack_wait=1.5)
    async with running(restarted):
        await publish(env, backends.transport, later, start=100)  # new messages, before the redeliveries
        await until(lambda: restarted.status().counters.get("raw", 0) >= len(later))
        await restarted.flush()  # the restarted run's own raw file is now the newest
        await until(lambda: restarted.status().details["duplicates_skipped"] >= 2 * len(first))
        await restarted.flush()
    frames = sorted(ln.frame.encode() for ln in _raw_lines(tmp_path))
    assert frames == sorted(frame_for(r) for r in first + later)  # each frame once


def test_the_first_line_into_an_empty_buffer_wakes_the_flusher(tmp_path: Path) -> None:
    env = make_env(tmp_path, flush_interval_seconds=2.0, raw_flush_interval_seconds=0.25)
    archiver = Archiver(env, make_backends(env))
    archiver._raw.pending = 1
    archiver._taken("raw", 1)  # a raw buffer that was empty: its due time (0.25 s) is new
    assert archiver._wake.is_set()
    archiver._wake.clear()
    archiver._raw.pending = 5
    archiver._taken("raw", 4)  # already due at its first line's time: nothing new
    assert not archiver._wake.is_set()
