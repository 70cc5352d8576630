"""`ssmd data coverage` and the completeness in `ssmd data quality`, as a user runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest

from ssmd.cli.main import main
from ssmd.config.load import load_environment
from ssmd.records import Trade
from ssmd.status import GapInfo, HealInfo
from tests.archiver.helpers import DAY, MS, T0, archive, make_backends, sample_records

A, B = "KXBTCD-26JUL2317-T118999.99", "KXOTHER"
S = 1000 * MS
GAP = GapInfo(kind="outage", channel="trade", start_ns=T0 + 10 * S, end_ns=T0 + 14 * S, cause="closed by server",
              markets=[A])


def _env(root: Path) -> str:
    path = root / "t1.yaml"
    path.write_text(
        "name: t1\nfeed: kalshi\nschema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1\n"
        f"storage: {{type: local, path: '{root / 'data'}'}}\ncache: {{type: memory}}\njournal: {{type: memory}}\n"
        "archiver: {flush_interval_seconds: 0.05}\n")
    return str(path)


def _record(env: str, records: list, gaps: list[GapInfo]) -> None:
    environment = load_environment(env)

    async def build() -> None:
        backends = make_backends(environment)
        for gap in gaps:
            await backends.transport.publish("t1.kalshi.gaps", msgspec.json.encode(gap))
        await archive(environment, backends, records)

    asyncio.run(build())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_unhealed_trade_gap_degrades_its_market_hour_until_healed(tmp_path: Path, capsys) -> None:
    env = _env(tmp_path)
    _record(env, sample_records(A, n=3) + sample_records(B, base=T0 + 700 * MS, n=2), [GAP])
    code, out, _ = _run(capsys, "data", "coverage", "--env", env, "--date", DAY)
    assert code == 3  # something is degraded
    assert out.startswith(f"date {DAY}  completeness degraded  market-hours: present 1, healed 0, degraded 1, absent 0")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:4]}
    assert lines[A][:6] == [A, "D", "0", "0", "1", "0"] and lines[B][:6] == [B, "P", "1", "0", "0", "0"]
    assert "outage/trade 2026-07-19T15:45:10.000Z..2026-07-19T15:45:14.000Z degraded" in out
    assert (tmp_path / "data" / "ssmd-raw" / "t1" / "kalshi" / "2026" / "07" / "19" / "coverage.parquet").is_file()

    # the healer's later version of the gap, with the trades it recovered
    healed = msgspec.structs.replace(GAP, healed=HealInfo(status="healed", method="rest:/markets/trades",
                                                          at_ns=T0 + 30 * S, recovered=1, fetched=1))
    rest = Trade(ts=T0 + 12 * S, received_at=T0 + 30 * S, ticker=A, trade_id="rest-1", price=5000, size=100,
                 side="no", sid=0, seq=0, source="rest")
    _record(env, [rest], [healed])
    code, out, _ = _run(capsys, "data", "coverage", "--env", env, "--date", DAY, "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["completeness"], result["counts"]) == ("healed", {"present": 1, "healed": 1, "degraded": 0,
                                                                     "absent": 0})
    by_ticker = {r["ticker"]: r for r in result["rows"]}
    assert (by_ticker[A]["status"], by_ticker[A]["rest_trades"]) == ("healed", 1)

    code, out, _ = _run(capsys, "sql", "--env", env, "SELECT ticker, status, rest_trades FROM coverage ORDER BY 1",
                        "--format", "json")
    assert code == 0 and json.loads(out) == [{"ticker": A, "status": "healed", "rest_trades": 1},
                                             {"ticker": B, "status": "present", "rest_trades": 0}]
    code, out, _ = _run(capsys, "data", "quality", "--env", env, "--date", DAY)
    assert code == 0 and "completeness healed" in out.splitlines()[0]
    assert "market-hours: healed 1, present 1" in out


def test_coverage_errors_are_one_line(tmp_path: Path, capsys) -> None:
    env = _env(tmp_path)
    code, _, err = _run(capsys, "data", "coverage", "--env", env, "--date", DAY)
    assert (code, err) == (1, f"ssmd: no manifest for {DAY} in t1: nothing was recorded that day\n")
    code, _, err = _run(capsys, "data", "coverage", "--env", env, "--date", DAY, "--status", "bad,healed")
    assert (code, err) == (1, "ssmd: --status bad: use present, healed, degraded, absent\n")
    code, _, err = _run(capsys, "data", "coverage", "--env", env, "--date", "19-07-2026")
    assert (code, err) == (1, "ssmd: --date '19-07-2026': use YYYY-MM-DD\n")
