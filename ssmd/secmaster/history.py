"""Market metadata history for DuckDB: one Parquet file of versions per batch of changes.

Every change becomes a row holding the market as it was from that moment on
(``valid_from``), under ``{normalized bucket}/{env}/secmaster/versions/``. The views in
``sql/secmaster.sql`` derive ``valid_to`` from the next version, so "what did this market
look like at time T" is one query::

    SELECT * FROM markets_as_of(TIMESTAMPTZ '2026-07-23 18:00:00+00') WHERE ticker = 'X'

``register_views(con, env, storage)`` points the views at the stored files; the catalog
calls it after loading its own views.
"""

from __future__ import annotations

import io
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.config.model import Environment
from ssmd.errors import StorageError
from ssmd.middleware.storage.base import Storage
from ssmd.resources import sql_dir
from ssmd.secmaster.diff import Change
from ssmd.secmaster.model import FIELDS

_TYPES: dict[str, pa.DataType] = {
    "settlement_timer_seconds": pa.int64(),
    "can_close_early": pa.bool_(),
    "floor_strike": pa.float64(),
    "cap_strike": pa.float64(),
    "fee_multiplier": pa.float64(),
    "fee_multiplier_override": pa.float64(),
}
MARKET_SCHEMA = pa.schema([pa.field(f, _TYPES.get(f, pa.string())) for f in FIELDS])
SCHEMA = pa.schema(
    [
        pa.field("valid_from", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("change", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("changed_fields", pa.list_(pa.string())),
        *MARKET_SCHEMA,
    ]
)
_DUCK = {"string": "VARCHAR", "int64": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE",
         "list<item: string>": "VARCHAR[]", "timestamp[us, tz=UTC]": "TIMESTAMPTZ"}


def versions_prefix(env: Environment) -> str:
    return f"{env.storage.buckets.normalized}/{env.name}/secmaster/versions"


def version_path(env: Environment, ts: int, seq: int) -> str:
    """One file per batch; names sort by time."""
    return f"{versions_prefix(env)}/{ts:020d}-{seq:06d}.parquet"


def to_parquet(changes: list[Change], start_seq: int = 0) -> bytes:
    """The Parquet bytes of a batch of changes (one version row each)."""
    rows = msgspec.to_builtins([c.market if c.market is not None else {"ticker": c.ticker} for c in changes])
    markets = pa.Table.from_pylist(rows, schema=MARKET_SCHEMA)
    columns: dict[str, Any] = {
        "valid_from": pa.array([c.ts // 1000 for c in changes], SCHEMA.field("valid_from").type),
        "seq": pa.array(range(start_seq, start_seq + len(changes)), pa.int64()),
        "change": pa.array([c.type for c in changes], pa.string()),
        "source": pa.array([c.source for c in changes], pa.string()),
        "changed_fields": pa.array([sorted(c.changes) for c in changes], pa.list_(pa.string())),
    }
    columns.update((name, markets.column(name)) for name in FIELDS)
    sink = io.BytesIO()
    pq.write_table(pa.table(columns, schema=SCHEMA), sink, compression="zstd")
    return sink.getvalue()


def empty_source() -> str:
    """A typed relation with the versions' columns and no rows."""
    cols = ", ".join(f"CAST(NULL AS {_DUCK[str(field.type)]}) AS {field.name}" for field in SCHEMA)
    return f"SELECT {cols} WHERE false"


def view_sql() -> str:
    return (sql_dir() / "secmaster.sql").read_text(encoding="utf-8")


def _has_files(storage: Storage, pattern: str) -> bool:
    try:
        return bool(storage.glob(pattern))
    except (OSError, ValueError, StorageError):
        return False


def register_views(con: Any, env: Environment, storage: Storage) -> bool:
    """Create ``market_versions``, ``market_history`` and ``markets_as_of`` on ``con``.

    Returns whether any version file exists (without one the views are empty, not broken).
    Files written before a column was added read it as NULL.
    """
    found = _has_files(storage, versions_prefix(env) + "/*.parquet")
    pattern = storage.url(versions_prefix(env)) + "/*.parquet"
    quoted = "'" + pattern.replace("'", "''") + "'"
    source = empty_source()
    if found:
        source = f"{source} UNION ALL BY NAME SELECT * FROM read_parquet({quoted}, union_by_name = true)"
    con.execute(f"CREATE OR REPLACE VIEW market_versions AS {source}")
    con.execute(view_sql())
    return found
