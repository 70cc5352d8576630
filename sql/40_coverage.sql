-- Coverage certificates (`coverage.parquet` beside each day's manifest, written by
-- `ssmd data coverage` and at the end of every `ssmd up`): one row per market and UTC hour,
-- status present | healed | degraded | absent, with the trades by source and the gaps.
CREATE OR REPLACE VIEW coverage AS SELECT * FROM {coverage};
