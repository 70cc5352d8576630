"""Environment files: the shipped ones pass; every invalid case is one line naming file,
field and reason, with a non-zero exit from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.cli.main import main
from ssmd.config.load import load_environment
from ssmd.errors import ConfigError
from ssmd.resources import exchanges_dir

ENVIRONMENTS = exchanges_dir() / "environments"
LOCAL = (ENVIRONMENTS / "kalshi-local.yaml").read_text()


def test_shipped_environments_validate() -> None:
    prod = load_environment(str(ENVIRONMENTS / "kalshi-prod.yaml"))
    assert prod.transport.type == "nats"
    assert prod.transport.jetstream.stream == "ssmd-kalshi"
    assert prod.storage.buckets.raw == "ssmd-raw"
    assert prod.keys["kalshi"].source == "sealed-secret/kalshi-creds"
    assert prod.journal_type == "jetstream"
    local = load_environment("kalshi-local")
    assert local.simulator.enabled
    assert (local.transport.type, local.storage.type, local.cache.type) == ("memory", "local", "local")
    assert local.journal_type == "file"


def test_data_dir_variable_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_DATA_DIR", str(tmp_path / "d"))
    assert load_environment("kalshi-local").storage.path == str(tmp_path / "d")
    monkeypatch.delenv("SSMD_DATA_DIR")
    assert load_environment("kalshi-local").storage.path == "./ssmd-data"


CASES = [
    ('day_start: "00:00"', 'day_start: "25:99"', "schedule.day_start", "invalid time '25:99'"),
    ("timezone: UTC", "timezone: Mars/Olympus", "schedule.timezone", "unknown timezone"),
    ("  type: memory", "  type: kafka", "transport.type", "invalid enum value 'kafka'"),
    ("feed: kalshi", "feed: nope", "feed", "unknown feed 'nope'"),
    ("schema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1", "schema: trade:v9", "schema", "no version 'v9'"),
    ("schema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1", "schema: quote:v1", "schema", "unknown schema 'quote'"),
    ("schema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1", "schema: trade", "schema", "want type:version"),
    ("  port: 8765", '  port: "abc"', "gateway.port", "expected `int`, got `str`"),
    ("  seed: 7", "  seeed: 7", "simulator.seeed", "unknown field"),
    ("  type: local\n  path:", "  type: floppy\n  path:", "storage.type", "invalid enum value 'floppy'"),
    ("cache:\n  type: local", "cache:\n  type: redis", "cache.url", "required when cache.type is redis"),
    ("transport:\n  type: memory", "transport:\n  type: nats", "transport.url", "required when transport.type is nats"),
    ("  port: 8765", "  port: 70000", "gateway.port", "out of range"),
    ("  port: 8765", "  port: 8765\n  connect_rate: -5", "gateway.connect_rate", "-5 is negative"),
    ("  port: 8765", "  port: 8765\n  connect_burst: 0", "gateway.connect_burst", "0 is below 1"),
    ("auto_roll: true", "auto_roll: sometimes", "schedule.auto_roll", "expected `bool`"),
]


@pytest.mark.parametrize(("old", "new", "field", "reason"), CASES, ids=[c[2] + ":" + c[3][:20] for c in CASES])
def test_invalid_field_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str, reason: str
) -> None:
    assert old in LOCAL
    path = tmp_path / "bad.yaml"
    path.write_text(LOCAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_environment(str(path))
    assert info.value.field == field
    assert reason in info.value.reason
    assert main(["env", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"ssmd: {path}: {field}: ")
    assert "Traceback" not in err


def test_top_level_unknown_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(LOCAL + "\nbogus: 1\n")
    with pytest.raises(ConfigError, match="bogus: unknown field"):
        load_environment(str(path))


def test_required_key_without_source(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(LOCAL + "\nkeys:\n  kalshi:\n    type: api_key\n    fields: [api_key, api_secret]\n")
    with pytest.raises(ConfigError) as info:
        load_environment(str(path))
    assert (info.value.field, info.value.reason) == ("keys.kalshi.source", "required key has no source")


def test_bad_key_source(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(LOCAL + "\nkeys:\n  kalshi:\n    type: api_key\n    fields: [api_key]\n    source: vault\n")
    with pytest.raises(ConfigError, match=r"keys\.kalshi\.source: 'vault'"):
        load_environment(str(path))


def test_not_yaml_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_environment(str(path))
    assert main(["env", "validate", str(tmp_path / "absent.yaml")]) == 1
    assert "no such environment file" in capsys.readouterr().err
    assert main(["env", "validate", "no-such-env"]) == 1
    assert "unknown environment 'no-such-env'" in capsys.readouterr().err


def test_schema_hash_mismatch_and_inactive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import ssmd.config.load as load

    copy = tmp_path / "exchanges"
    shutil.copytree(exchanges_dir(), copy)
    monkeypatch.setattr(load, "exchanges_dir", lambda: copy)
    (copy / "schemas" / "trade.capnp").write_text((copy / "schemas" / "trade.capnp").read_text() + "\n# edit\n")
    with pytest.raises(ConfigError, match=r"sha256 of trade\.capnp does not match"):
        load_environment(str(copy / "environments" / "kalshi-prod.yaml"))
    registry = copy / "schemas" / "ticker.yaml"
    registry.write_text(registry.read_text().replace("status: active", "status: draft"))
    env = copy / "environments" / "t.yaml"
    env.write_text(LOCAL.replace("schema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1", "schema: ticker:v1"))
    with pytest.raises(ConfigError, match="schema ticker:v1 is draft, not active"):
        load_environment(str(env))
