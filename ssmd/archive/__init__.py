"""The archive contract: what the archive holds and how it is laid out, shared by every
package that writes it (archiver, backfill, healer) or reads it (catalog, gateway replay).

* ``layout``       — where objects live: raw files, day manifests, Parquet parts (pure naming).
* ``raw``          — the raw line format: one JSON line per frame, zstd files (pure, no I/O).
* ``manifest``     — the day manifest beside the raw files (pure).
* ``completeness`` — each gap's state, a day's verdict, coverage per market-hour (pure).
* ``columns``      — the normalized records' column contract and Arrow builders (pure).
* ``datasets``     — the history datasets' (candles, settlements) records and columns (pure).
* ``parquet``      — records → sealed Parquet part files, and their footers.
* ``duck``         — DuckDB connections that read the archive wherever it is stored.

This package sits beneath its writers and readers: it never imports ``ssmd.archiver``,
``ssmd.catalog``, ``ssmd.backfill`` or any other feature package, nor the middleware.
May import: ssmd core modules (``config.model``, ``records``, ``status``, ``clock``,
``errors``), pyarrow, duckdb, msgspec and zstandard.
"""
