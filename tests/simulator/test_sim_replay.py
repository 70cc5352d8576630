"""Replay of a raw archive / the Kalshi fixtures through the protocol, ``ssmd sim`` and ensure_running."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zstandard

from ssmd.config.model import Endpoints
from ssmd.errors import DataError
from ssmd.simulator import SimSettings, Simulator, ensure_running
from ssmd.simulator.replay import read_lines
from tests.simulator.client import Client

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi" / "frames.jsonl"
SSMD = str(Path(sys.executable).parent / "ssmd")


def payload(frame_text: str) -> Any:
    return json.loads(frame_text).get("msg")


def test_fixture_file_covers_the_reference() -> None:
    lines = list(read_lines(FIXTURE))
    types = {line.type for line in lines}
    assert types >= {"ticker", "trade", "orderbook_snapshot", "orderbook_delta", "market_lifecycle_v2",
                     "event_lifecycle", "event_fee_update", "subscribed", "ok", "unsubscribed", "error",
                     "market_metrics", "unknown"}
    events = {json.loads(x.frame)["msg"]["event_type"] for x in lines if x.type == "market_lifecycle_v2"}
    assert events == {"created", "activated", "deactivated", "close_date_updated", "determined", "settled",
                      "metadata_updated", "price_level_structure_updated"}
    text = "".join(line.frame for line in lines)
    for needle in ('"Clock"', '"price_dollars":""', '"sub_title"', '"subtitle"', "T118999.99", '"0.9990"',
                   '"0.11"', '"new_envelope_field"'):
        assert needle in text, needle


async def replay_to_client(
    path: Path, channels: dict[str, dict[str, Any]], wait: float = 5
) -> tuple[Simulator, Client]:
    sim = Simulator(SimSettings(replay=str(path), replay_speed=0, replay_wait=wait, lifecycle_interval=0,
                                interleave=False, markets=3))
    await sim.start()
    client = await Client.open(sim.ws_url)
    for channel, params in channels.items():
        await client.subscribe([channel], **params)
    return sim, client


@pytest.mark.parametrize("compressed", [False, True])
async def test_replay_fixture_with_fresh_sids(tmp_path: Path, compressed: bool) -> None:
    path = FIXTURE
    if compressed:
        path = tmp_path / "frames.jsonl.zst"
        data = FIXTURE.read_bytes().splitlines(keepends=True)
        half = len(data) // 2  # two zstd frames, as the archiver writes one per flush
        compress = zstandard.ZstdCompressor().compress
        path.write_bytes(compress(b"".join(data[:half])) + compress(b"".join(data[half:])))
    lines = list(read_lines(FIXTURE))
    books = sorted({json.loads(x.frame)["msg"]["market_ticker"] for x in lines if x.type.startswith("orderbook")})
    sim, client = await replay_to_client(path, {"ticker": {}, "trade": {}, "market_lifecycle_v2": {},
                                                "orderbook_delta": {"market_tickers": books}})
    try:
        await asyncio.wait_for(sim.replay_done.wait(), 10)
        frames = await client.barrier()
        replayable = [x for x in lines if x.type not in ("subscribed", "ok", "unsubscribed", "error")]
        assert len(frames) == len(replayable)
        sids = {"ticker": 1, "trade": 2, "market_lifecycle_v2": 3, "orderbook_delta": 4}
        seqs: dict[int, int] = {}
        for line, frame, text in zip(replayable, frames, client.texts[-len(frames) - 1:-1], strict=True):
            if line.channel == "unknown":
                assert text == line.frame  # sent as recorded
                continue
            assert frame["sid"] == sids[line.channel]
            assert frame["msg"] == payload(line.frame)
            assert frame["type"] == json.loads(line.frame)["type"]
            if line.channel != "ticker":
                seqs[frame["sid"]] = seqs.get(frame["sid"], 0) + 1
                assert frame["seq"] == seqs[frame["sid"]]
    finally:
        await client.close()
        await sim.stop()


async def test_replay_market_filter_applies() -> None:
    sim, client = await replay_to_client(FIXTURE, {"trade": {"market_ticker": "KXBTC15M-26JUL191145-45"}},
                                         wait=0.1)
    try:
        await asyncio.wait_for(sim.replay_done.wait(), 10)
        frames = [f for f in await client.barrier() if f["type"] == "trade"]
        assert [f["msg"]["trade_id"] for f in frames] == ["1b7e4f20-8a3c-4d6e-9f01-23456789abcd"]
    finally:
        await client.close()
        await sim.stop()


def test_bad_archive_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(FIXTURE.read_text().splitlines()[0] + "\n{oops\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2"):
        list(read_lines(bad))


def test_cli_serves_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen([SSMD, "sim", "--markets", "5", "--seed", "3"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ws = proc.stdout.readline().split()[-1]
        rest = proc.stdout.readline().split()[-1]
        assert ws.startswith("ws://127.0.0.1:") and ws.endswith("/trade-api/ws/v2")
        assert rest.startswith("http://127.0.0.1:") and rest.endswith("/trade-api/v2")

        async def probe() -> list[str]:
            client = await Client.open(ws)
            await client.subscribe(["ticker"])
            await client.close()
            import aiohttp

            async with aiohttp.ClientSession() as http, http.get(rest + "/markets") as resp:
                return [m["ticker"] for m in (await resp.json())["markets"]]

        assert len(asyncio.run(probe())) == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bounded_run_and_bad_options(tmp_path: Path) -> None:
    done = subprocess.run([SSMD, "sim", "--duration", "0.2", "--replay", str(FIXTURE), "--speed", "0"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "ws://127.0.0.1:" in done.stdout
    bad = subprocess.run([SSMD, "sim", "--key-id", "abc"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("ssmd: ") and len(bad.stderr.strip().splitlines()) == 1
    key = tmp_path / "k.pem"
    key.write_text("nonsense")
    bad = subprocess.run([SSMD, "sim", "--key-id", "abc", "--public-key", str(key), "--duration", "0.1"],
                         capture_output=True, text=True, timeout=30, env={**os.environ})
    assert bad.returncode == 1 and "not a PEM file" in bad.stderr and "Traceback" not in bad.stderr
    archive = tmp_path / "bad.jsonl"
    archive.write_text("{oops\n")
    bad = subprocess.run([SSMD, "sim", "--replay", str(archive), "--duration", "0.1"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and f"ssmd: {archive}:1: not a raw archive line" in bad.stderr
    assert "Traceback" not in bad.stderr


async def test_ensure_running_starts_or_passes_through(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(simulator={"enabled": True, "markets": 4, "rate": 0})
    async with ensure_running(env) as (ws, rest):
        assert ws.startswith("ws://127.0.0.1:")
        passed_in = msgspec.structs.replace(env, endpoints=Endpoints(ws=ws, rest=rest))
        async with ensure_running(passed_in) as again:
            assert again == (ws, rest)  # reused, not a second server
        client = await Client.open(ws)
        await client.subscribe(["trade"])
        await client.close()
    override = make_env(simulator={"enabled": True}, endpoints={"ws": "ws://127.0.0.1:9/trade-api/ws/v2",
                                                                "rest": "http://127.0.0.1:9/trade-api/v2"})
    async with ensure_running(override) as urls:
        assert urls == ("ws://127.0.0.1:9/trade-api/ws/v2", "http://127.0.0.1:9/trade-api/v2")
    off = make_env(simulator={"enabled": False})
    async with ensure_running(off) as (ws, _rest):
        assert ws.startswith("wss://")
