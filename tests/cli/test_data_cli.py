"""`ssmd data replay|export|inventory|gaps|quality` and `ssmd sql`, as a user runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from ssmd.cli.main import main
from ssmd.config.load import load_environment
from ssmd.status import GapInfo
from tests.archiver.helpers import DAY, MS, T0, archive, frame_for, make_backends, sample_records

A, B = "KXBTCD-26JUL2317-T118999.99", "KXOTHER"


@pytest.fixture(scope="module")
def data_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    root = tmp_path_factory.mktemp("datacli")
    path = root / "t1.yaml"
    path.write_text(
        "name: t1\nfeed: kalshi\nschema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1\n"
        f"storage: {{type: local, path: '{root / 'data'}'}}\ncache: {{type: memory}}\njournal: {{type: memory}}\n"
        "archiver: {flush_interval_seconds: 0.05}\n")
    env = load_environment(str(path))
    records = sample_records(A, n=3) + sample_records(B, base=T0 + 700 * MS, n=2)

    async def build() -> None:
        backends = make_backends(env)
        gap = GapInfo(kind="seq", channel="orderbook_delta", start_ns=T0 + MS, end_ns=T0 + 2 * MS, sid=3,
                      expected=5, received=7, cause="sequence gap", markets=[A])
        await backends.transport.publish("t1.kalshi.gaps", msgspec.json.encode(gap))
        await archive(env, backends, records)

    asyncio.run(build())
    return str(path), records


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_replay_jsonl_in_time_order_with_exact_values(data_env: tuple[str, list], capsys) -> None:
    env, records = data_env
    code, out, _ = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", A)
    assert code == 0
    msgs = [json.loads(line) for line in out.splitlines()]
    assert len(msgs) == sum(1 for r in records if r.ticker == A)
    assert [m["ts"] for m in msgs] == sorted(m["ts"] for m in msgs)
    assert all(m["replay"] is True and m["ticker"] == A for m in msgs)
    trade = next(m for m in msgs if m["type"] == "trade")
    assert (trade["price"], trade["size"], trade["side"]) == ("0.9990", "0.11", "yes")
    assert {m["type"] for m in msgs} == {"trade", "ticker", "orderbook", "lifecycle"}


def test_replay_filters_type_window_and_table(data_env: tuple[str, list], capsys) -> None:
    env, _ = data_env
    code, out, _ = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", f"{A},{B}", "--type",
                        "trade", "--from", "15:45:01.500", "--to", "2026-07-19T15:45:03Z", "--speed", "max")
    assert code == 0
    ids = [json.loads(line)["trade_id"] for line in out.splitlines()]
    assert ids == [f"{B}-t0", f"{A}-t1", f"{B}-t1"]
    code, out, _ = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", A, "--format", "table",
                        "--type", "trade,orderbook")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TS", "TYPE", "TICKER"]
    assert "yes 0.11 @ 0.9990" in out and "snapshot best 2.50@0.4100 / 3.00@0.5000" in out


def test_replay_raw_gives_the_original_frames(data_env: tuple[str, list], capsys) -> None:
    env, records = data_env
    code, out, _ = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", B, "--raw")
    assert code == 0
    expected = [frame_for(r).decode() for r in sorted(records, key=lambda r: r.received_at) if r.ticker == B]
    assert out.splitlines() == expected


def test_replay_errors_are_one_line(data_env: tuple[str, list], capsys) -> None:
    env, _ = data_env
    code, _, err = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", A, "--speed", "fast")
    assert code == 1 and err.startswith("ssmd: --speed 'fast'") and err.count("\n") == 1
    code, _, err = _run(capsys, "data", "replay", "--env", env, "--date", "19-07-2026", "--symbol", A)
    assert code == 1 and "YYYY-MM-DD" in err


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_formats_keep_exact_values(data_env: tuple[str, list], capsys, tmp_path: Path, fmt: str) -> None:
    env, _ = data_env
    out = tmp_path / f"trades.{fmt}"
    code, text, _ = _run(capsys, "data", "export", "--env", env, "--date", DAY, "--format", fmt, "--symbol", A,
                         "--out", str(out))
    assert code == 0 and f"exported 3 rows to {out}" in text
    if fmt == "parquet":
        rows = pq.read_table(out).to_pylist()
        prices = [str(r["price"]) for r in rows]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        prices = [r["price"] for r in rows]
        assert rows[0]["size"] == "0.11"
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        prices = [r["price"] for r in rows]
        assert rows[0]["size"] == "0.11" and rows[0]["ts"] == "2026-07-19T15:45:01.000000Z"
    assert prices == ["0.9990", "0.4101", "0.4102"]


def test_inventory_gaps_and_quality(data_env: tuple[str, list], capsys) -> None:
    env, records = data_env
    code, out, _ = _run(capsys, "data", "inventory", "--env", env, "--json")
    assert code == 0
    (day,) = json.loads(out)
    assert day["date"] == DAY and day["status"] == "open" and day["gaps"] == 1
    assert day["raw_records"] == len(records) and day["raw_bytes"] > 0 and day["normalized_bytes"] > 0
    code, out, _ = _run(capsys, "data", "inventory", "--env", env, "--from", "2026-07-20")
    assert code == 0 and DAY not in out
    code, out, _ = _run(capsys, "data", "inventory", "--env", env)
    assert out.split("\n")[0].split() == ["DATE", "RAW", "NORMALIZED", "RECORDS", "STATUS", "QUALITY", "GAPS"]

    code, out, _ = _run(capsys, "data", "gaps", "--env", env, "--date", DAY, "--json")
    (gap,) = json.loads(out)
    assert (gap["kind"], gap["channel"], gap["sid"], gap["expected"], gap["received"]) == (
        "seq", "orderbook_delta", 3, 5, 7)
    code, out, _ = _run(capsys, "data", "gaps", "--env", env, "--date", "2026-07-20")
    assert code == 0 and "no gaps recorded" in out

    code, out, _ = _run(capsys, "data", "quality", "--env", env, "--date", DAY, "--json")
    q = json.loads(out)
    assert q["messages"] == {"lifecycle": 2, "orderbook": 4, "ticker": 2, "trade": 5}
    by_ticker = {m["ticker"]: m for m in q["markets"]}
    assert by_ticker[A]["trades"] == 3 and by_ticker[B]["book_updates"] == 2
    assert {s["type"] for s in q["skew"]} == {"trade", "ticker", "orderbook", "lifecycle"}
    assert all(s["max_seconds"] <= 0.004 for s in q["skew"])
    code, out, _ = _run(capsys, "data", "quality", "--env", env, "--date", DAY)
    assert code == 0 and "coverage per market" in out and A in out


def test_sql_formats_and_errors(data_env: tuple[str, list], capsys) -> None:
    env, _ = data_env
    query = "SELECT ticker, count(*) AS n, CAST(max(price) AS VARCHAR) AS top FROM trades GROUP BY ALL ORDER BY 1"
    code, out, _ = _run(capsys, "sql", "--env", env, query)
    assert code == 0 and out.splitlines()[0].split() == ["TICKER", "N", "TOP"]
    assert out.splitlines()[1].split() == [A, "3", "0.9990"]
    code, out, _ = _run(capsys, "sql", "--env", env, "--format", "csv", query)
    assert list(csv.reader(io.StringIO(out))) == [["ticker", "n", "top"], [A, "3", "0.9990"], [B, "2", "0.9990"]]
    code, out, _ = _run(capsys, "sql", "--env", env, "--format", "json", "SELECT max(price) AS p FROM trades")
    assert out.strip().replace(" ", "").replace("\n", "") == '[{"p":0.9990}]'
    code, _, err = _run(capsys, "sql", "--env", env, "SELEC nonsense")
    assert code == 1 and err.startswith("ssmd: query failed:") and err.count("\n") == 1


def test_replay_of_nothing_says_so(data_env: tuple[str, list], capsys) -> None:
    env, _ = data_env
    for extra in ((), ("--raw",), ("--speed", "10x")):
        code, out, err = _run(capsys, "data", "replay", "--env", env, "--date", DAY, "--symbol", "NOPE", *extra)
        assert (code, out) == (1, "")
        assert err.startswith("ssmd: nothing to replay: ") and "NOPE on 2026-07-19" in err and err.count("\n") == 1
    code, out, err = _run(capsys, "data", "replay", "--env", env, "--date", "2020-01-01", "--symbol", A)
    assert code == 1 and "on 2020-01-01" in err
