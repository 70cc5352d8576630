-- Security master: market metadata and its history (ssmd.secmaster.history).
--
-- market_versions: one row per change the secmaster saw (added, updated, settled,
-- removed), holding the market as it was from valid_from on. It reads
-- {normalized bucket}/{env}/secmaster/versions/*.parquet once
-- ssmd.secmaster.history.register_views(con, env, storage) has pointed it there; this file
-- alone leaves it empty, so it is safe to load with the other views.
CREATE VIEW IF NOT EXISTS market_versions AS SELECT
    CAST(NULL AS TIMESTAMPTZ) AS valid_from,
    CAST(NULL AS BIGINT) AS seq,
    CAST(NULL AS VARCHAR) AS change,
    CAST(NULL AS VARCHAR) AS source,
    CAST(NULL AS VARCHAR[]) AS changed_fields,
    CAST(NULL AS VARCHAR) AS ticker,
    CAST(NULL AS VARCHAR) AS event_ticker,
    CAST(NULL AS VARCHAR) AS series_ticker,
    CAST(NULL AS VARCHAR) AS category,
    CAST(NULL AS VARCHAR) AS event_title,
    CAST(NULL AS VARCHAR) AS market_type,
    CAST(NULL AS VARCHAR) AS title,
    CAST(NULL AS VARCHAR) AS subtitle,
    CAST(NULL AS VARCHAR) AS yes_sub_title,
    CAST(NULL AS VARCHAR) AS no_sub_title,
    CAST(NULL AS VARCHAR) AS status,
    CAST(NULL AS VARCHAR) AS result,
    CAST(NULL AS VARCHAR) AS created_time,
    CAST(NULL AS VARCHAR) AS updated_time,
    CAST(NULL AS VARCHAR) AS open_time,
    CAST(NULL AS VARCHAR) AS close_time,
    CAST(NULL AS VARCHAR) AS expected_expiration_time,
    CAST(NULL AS VARCHAR) AS latest_expiration_time,
    CAST(NULL AS VARCHAR) AS settlement_ts,
    CAST(NULL AS VARCHAR) AS settlement_value_dollars,
    CAST(NULL AS BIGINT) AS settlement_timer_seconds,
    CAST(NULL AS BOOLEAN) AS can_close_early,
    CAST(NULL AS VARCHAR) AS strike_type,
    CAST(NULL AS DOUBLE) AS floor_strike,
    CAST(NULL AS DOUBLE) AS cap_strike,
    CAST(NULL AS VARCHAR) AS notional_value_dollars,
    CAST(NULL AS VARCHAR) AS price_level_structure,
    CAST(NULL AS VARCHAR) AS rules_primary,
    CAST(NULL AS VARCHAR) AS tick_size_dollars,
    CAST(NULL AS VARCHAR) AS price_ranges,
    CAST(NULL AS VARCHAR) AS fee_type,
    CAST(NULL AS DOUBLE) AS fee_multiplier,
    CAST(NULL AS VARCHAR) AS fee_type_override,
    CAST(NULL AS DOUBLE) AS fee_multiplier_override
WHERE false;

-- market_history: every version with the time it stopped being true (valid_to, NULL for
-- the current one). Removed markets end their last version and add no row of their own.
-- effective_fee_*: the event's fee override where it has one, else the series' fee.
CREATE OR REPLACE VIEW market_history AS
WITH ordered AS (
    SELECT *, lead(valid_from) OVER (PARTITION BY ticker ORDER BY valid_from, seq) AS valid_to
    FROM market_versions
)
SELECT ticker, valid_from, valid_to, valid_to IS NULL AS is_current, change, source, changed_fields,
       event_ticker, series_ticker, category, event_title, market_type, title, subtitle,
       yes_sub_title, no_sub_title, status, result,
       TRY_CAST(created_time AS TIMESTAMPTZ) AS created_time,
       TRY_CAST(updated_time AS TIMESTAMPTZ) AS updated_time,
       TRY_CAST(open_time AS TIMESTAMPTZ) AS open_time,
       TRY_CAST(close_time AS TIMESTAMPTZ) AS close_time,
       TRY_CAST(expected_expiration_time AS TIMESTAMPTZ) AS expected_expiration_time,
       TRY_CAST(latest_expiration_time AS TIMESTAMPTZ) AS latest_expiration_time,
       TRY_CAST(settlement_ts AS TIMESTAMPTZ) AS settlement_ts,
       TRY_CAST(settlement_value_dollars AS DECIMAL(18, 4)) AS settlement_value_dollars,
       settlement_timer_seconds, can_close_early, strike_type, floor_strike, cap_strike,
       TRY_CAST(notional_value_dollars AS DECIMAL(18, 4)) AS notional_value_dollars,
       price_level_structure, rules_primary,
       TRY_CAST(tick_size_dollars AS DECIMAL(18, 4)) AS tick_size_dollars, price_ranges,
       fee_type, fee_multiplier, fee_type_override, fee_multiplier_override,
       coalesce(fee_type_override, fee_type) AS effective_fee_type,
       coalesce(fee_multiplier_override, fee_multiplier) AS effective_fee_multiplier
FROM ordered
WHERE change <> 'market_removed';

-- markets_as_of(T): every market as it looked at time T (one row per market that existed).
--   SELECT status, close_time FROM markets_as_of(TIMESTAMPTZ '2026-07-23 18:00:00+00')
--   WHERE ticker = 'KXBTCD-26JUL2317-T118999.99';
CREATE OR REPLACE MACRO markets_as_of(moment) AS TABLE
    SELECT * FROM market_history
    WHERE valid_from <= moment AND (valid_to IS NULL OR valid_to > moment);
