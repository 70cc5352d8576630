"""The archive and its catalog on S3 (moto's S3 API, through s3fs registered with DuckDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ssmd.archiver import Archiver, compact_day, verify_day
from ssmd.catalog import open_catalog_async
from ssmd.catalog.replay import ReplayQuery, replay_lines
from ssmd.middleware.factory import open_backends
from tests.archiver.helpers import DAY, consumed, publish, running, sample_records, until


@pytest.mark.slow
async def test_archive_verify_compact_and_query_on_s3(s3_server: Any, make_env: Any, tmp_path: Path) -> None:
    env = make_env(storage="s3", s3_endpoint=s3_server.url, cache="memory", journal="memory",
                   archiver={"flush_interval_seconds": 0.05})
    backends = await open_backends(env)
    try:
        for bucket in (env.storage.buckets.raw, env.storage.buckets.normalized):
            await backends.storage.create_bucket(bucket)
        records = sample_records(n=3)
        await publish(env, backends.transport, records)
        archiver = Archiver(env, backends)
        async with running(archiver):
            await until(lambda: consumed(archiver) == len(records)
                        and archiver.status().counters.get("raw") == len(records))
            await archiver.flush()
        report = await verify_day(env, backends, DAY)
        assert report.status == "complete" and report.normalized["trade"] == 3
        assert (await compact_day(env, backends, DAY)).types["trade"]["rows"] == 3

        catalog = await open_catalog_async(env, backends=backends, database=str(tmp_path / "catalog.duckdb"))
        with catalog:
            rows = catalog.query("SELECT CAST(price AS VARCHAR) AS p FROM trades ORDER BY ts").to_pylist()
            assert [r["p"] for r in rows] == ["0.9990", "0.4101", "0.4102"]
            assert catalog.bad_files() == []
            lines = [line for _, line in replay_lines(catalog, ReplayQuery(date=DAY, types=["trade"]))]
            assert len(lines) == 3 and '"price":"0.9990"' in lines[0]
    finally:
        await backends.close()
