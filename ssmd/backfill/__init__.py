"""History from Kalshi's REST API into the archive: ``ssmd data backfill``.

Trades (into the ``trade`` dataset, ``source = 'rest'``), candlesticks (``candles``) and
settlements (``settlements``) of the markets a series, an event or a list of tickers
names, for a time range split at the exchange's historical cutoff (live endpoints for the
newer part, ``/historical/*`` for the older one). Resumable and exactly-once: a checkpoint
object per (dataset, ticker, tier) records the windows whose rows are durably written, and
rows already in the archive (by trade id, candle period, settlement) are never written
again, whichever feed wrote them.

Pure: ``plan`` (ranges, windows at the cutoff, chunks by trading day), ``convert`` (REST
objects → records), ``checkpoint`` (completed windows). Shell: ``store`` (Parquet writes,
what the archive holds), ``run`` (the async runner). The new datasets' records and column
contract are ``ssmd.archive.datasets``, beside the other archive contracts.

May import: ssmd core modules, ``ssmd.kalshi`` (REST client and wire Structs),
``ssmd.archive`` (layout, column contracts, Parquet encoding), ``ssmd.calendar``,
``ssmd.secmaster.model`` (market facts), the middleware interfaces. Never the archiver,
connector, gateway, catalog, CLI or TUI.
"""
