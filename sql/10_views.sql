-- Views over the normalized archive (loaded by ssmd.catalog on every open).
-- {trade}, {ticker}, {orderbook} and {lifecycle} are replaced by a read_parquet(...) over
-- the readable files of that type known to the index (hive-partitioned: a `date` column
-- comes from the `date=YYYY-MM-DD` folder), or by an empty relation with the same columns.
CREATE OR REPLACE VIEW trades AS SELECT * FROM {trade};
CREATE OR REPLACE VIEW tickers AS SELECT * FROM {ticker};
CREATE OR REPLACE VIEW orderbook AS SELECT * FROM {orderbook};
CREATE OR REPLACE VIEW lifecycle AS SELECT * FROM {lifecycle};
-- REST history written by `ssmd data backfill` (trades go to `trades`, with source = 'rest').
CREATE OR REPLACE VIEW candles AS SELECT * FROM {candles};
CREATE OR REPLACE VIEW settlements AS SELECT * FROM {settlements};

-- The index itself.
CREATE OR REPLACE VIEW files AS
    SELECT path, type, date, rows, size,
           make_timestamptz(min_ts // 1000) AS first_ts, make_timestamptz(max_ts // 1000) AS last_ts,
           min_ticker, max_ticker, status, error
    FROM ssmd_files;

-- One row per archived day (from the day manifests).
CREATE OR REPLACE VIEW days AS
    SELECT date, status, raw_bytes, raw_records, quality_score, gap_count,
           first_timestamp, last_timestamp, counts, normalized
    FROM ssmd_days;

-- Gaps and outages recorded by the connector, one row per gap.
CREATE OR REPLACE VIEW gaps AS
    SELECT d.date,
           g ->> 'kind' AS kind,
           g ->> 'channel' AS channel,
           make_timestamptz(CAST(g ->> 'start_ns' AS BIGINT) // 1000) AS start_ts,
           make_timestamptz(CAST(g ->> 'end_ns' AS BIGINT) // 1000) AS end_ts,
           CAST(g ->> 'sid' AS BIGINT) AS sid,
           CAST(g ->> 'expected' AS BIGINT) AS expected,
           CAST(g ->> 'received' AS BIGINT) AS received,
           g ->> 'cause' AS cause,
           g -> 'markets' AS markets
    FROM ssmd_days d, unnest(from_json(coalesce(d.gaps, '[]'), '["json"]')) AS t(g);
