"""`ssmd env create|list|show`: as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ssmd.cli.main import main
from ssmd.config.load import load_environment


@pytest.fixture
def env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "environments"
    monkeypatch.setenv("SSMD_ENVIRONMENTS", str(folder))
    return folder


def test_create_writes_a_valid_environment(env_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "create", "kalshi-dev", "--feed", "kalshi", "--schema", "trade:v1"]) == 0
    path = env_dir / "kalshi-dev.yaml"
    assert f"created {path}" in capsys.readouterr().out
    env = load_environment("kalshi-dev")
    assert (env.name, env.feed, env.schema) == ("kalshi-dev", "kalshi", "trade:v1")
    assert main(["env", "validate", "kalshi-dev"]) == 0
    assert main(["env", "create", "kalshi-dev"]) == 1
    assert "exists" in capsys.readouterr().err


def test_create_rejects_bad_schema_and_leaves_no_file(env_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "create", "x", "--schema", "trade:v7"]) == 2
    assert "schema trade has no version 'v7'" in capsys.readouterr().err
    assert not (env_dir / "x.yaml").exists()


def test_list_json_includes_shipped_and_created(env_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["env", "create", "mine"])
    capsys.readouterr()
    assert main(["env", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"kalshi-local", "kalshi-prod", "mine"} <= set(rows)
    assert rows["kalshi-prod"]["transport"] == "nats"


def test_show_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        "name: e\nfeed: kalshi\nschema: trade:v1\n"
        "transport: {type: memory}\nstorage: {type: local, path: /tmp/x}\n"
        "cache: {type: redis, url: 'redis://:hunter2@127.0.0.1:6379/0'}\n"
        "keys:\n  kalshi: {type: api_key, fields: [api_key, api_secret], source: env}\n"
    )
    monkeypatch.setenv("KALSHI_API_KEY", "key-id-123")
    monkeypatch.delenv("KALSHI_API_SECRET", raising=False)
    assert main(["env", "show", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "key-id-123" not in out
    view = json.loads(out)
    assert view["cache"]["url"] == "redis://****@127.0.0.1:6379/0"
    status = view["keys"]["kalshi"]["status"]
    assert status["api_key"].startswith("set ($KALSHI_API_KEY)")
    assert status["api_secret"].startswith("missing ($KALSHI_API_SECRET)")
    assert main(["env", "show", str(path)]) == 0
    text = capsys.readouterr().out
    assert "hunter2" not in text and "key-id-123" not in text and "name: e" in text


def test_help_is_fast_and_lists_groups() -> None:
    exe = Path(sys.executable).parent / "ssmd"
    code = "import sys, ssmd.cli.main as m; print(sorted(k for k in sys.modules if k.split('.')[0] in "
    code += "('duckdb','pyarrow','nats','textual','capnp','websockets','redis','s3fs')))"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert heavy.stdout.strip() == "[]"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for group in ("up", "env", "secmaster", "day", "data", "sql", "sim", "tui"):
        assert group in out
