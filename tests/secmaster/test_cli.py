"""``ssmd secmaster`` end to end on kalshi-local: sync, then list/show/search/export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ssmd.cli.main import main
from ssmd.cli.secmaster import parse_duration


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("SSMD_DATA_DIR", str(folder))
    return folder


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["secmaster", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_then_list_show_search_export(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "sync", "kalshi-local")
    assert code == 0
    assert out.startswith("total 20  added 20  updated 0  settled 0  removed 0")
    assert "sync: markets 20" in err
    code, out, err = _run(capsys, "sync", "kalshi-local", "--json")
    assert code == 0 and json.loads(out)["total"] == 20
    assert "sync: markets [" in err and "] 20/~20" in err  # sized by the previous sync
    assert (data_dir / "cache.sqlite").is_file()

    code, out, _ = _run(capsys, "export", "kalshi-local")
    exported = json.loads(out)
    assert code == 0 and len(exported) == 20
    tickers = [m["ticker"] for m in exported]
    assert tickers == sorted(tickers)
    first = exported[0]

    code, out, _ = _run(capsys, "list", "kalshi-local", "--json")
    assert json.loads(out) == exported
    code, out, _ = _run(capsys, "list", "kalshi-local")
    assert out.splitlines()[0].split() == ["TICKER", "STATUS", "CATEGORY", "CLOSE_TIME", "TITLE"]
    assert len(out.splitlines()) == 21

    category = first["category"]
    code, out, _ = _run(capsys, "list", "kalshi-local", "--category", category, "--json")
    assert {m["ticker"] for m in json.loads(out)} == {m["ticker"] for m in exported if m["category"] == category}

    code, out, _ = _run(capsys, "list", "kalshi-local", "--status", "open", "--json")
    assert {m["ticker"] for m in json.loads(out)} == {m["ticker"] for m in exported if m["status"] == "active"}

    code, out, _ = _run(capsys, "list", "kalshi-local", "--expiring-within", "1w", "--json")
    week = {m["ticker"] for m in json.loads(out)}
    code, out, _ = _run(capsys, "list", "kalshi-local", "--expiring-within", "1s", "--json")
    assert json.loads(out) == []
    assert week and week <= set(tickers)

    code, out, _ = _run(capsys, "show", "kalshi-local", first["ticker"], "--json")
    assert code == 0 and json.loads(out) == first
    code, out, _ = _run(capsys, "show", "kalshi-local", first["ticker"])
    shown = dict(line.split(None, 1) for line in out.splitlines())
    assert shown["ticker"] == first["ticker"]
    assert shown["status"] == first["status"]
    assert shown["fee_type"] == "quadratic" and shown["fee_multiplier"] == "1.0"
    assert shown["tick_size_dollars"] in ("0.0100", "0.0010")

    word = first["series_ticker"].lower()
    code, out, _ = _run(capsys, "search", "kalshi-local", word, "--json")
    found = {m["ticker"] for m in json.loads(out)}
    assert first["ticker"] in found
    assert all(word in json.dumps(m).lower() for m in json.loads(out))


def test_unknown_ticker_is_one_line_and_a_failure(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "show", "kalshi-local", "NOPE-1")
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        "ssmd: unknown market 'NOPE-1' in kalshi-local (run `ssmd secmaster sync kalshi-local` first?)"]


def test_bad_duration_is_reported(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "list", "kalshi-local", "--expiring-within", "soon")
    assert code == 1
    assert "--expiring-within: 'soon' is not a duration" in err


def test_unknown_status_is_reported(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "list", "kalshi-local", "--status", "halted")
    assert code == 1
    assert err.startswith("ssmd: --status: unknown status 'halted'")


def test_durations() -> None:
    assert parse_duration("24h") == 86400
    assert parse_duration("30m") == 1800
    assert parse_duration("2d") == 172800
    assert parse_duration("90") == 90


@pytest.mark.slow
def test_separate_processes_share_the_local_cache(tmp_path: Path) -> None:
    env = {"SSMD_DATA_DIR": str(tmp_path / "data"), "PATH": str(Path(sys.executable).parent)}
    exe = str(Path(sys.executable).parent / "ssmd")
    synced = subprocess.run([exe, "secmaster", "sync", "kalshi-local"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert synced.returncode == 0, synced.stderr
    listed = subprocess.run([exe, "secmaster", "list", "kalshi-local", "--json"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 20
    missing = subprocess.run([exe, "secmaster", "show", "kalshi-local", "NOPE-1"], env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("(run `ssmd secmaster sync kalshi-local` first?)")
