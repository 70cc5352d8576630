-- Markets from the security master. `ssmd_markets` is filled by
-- Catalog.register_markets(...) from the cache hash {env}:secmaster:markets (market JSON by
-- ticker) each time the catalog opens with a reachable cache; the last copy stays queryable.
-- fee_type / fee_multiplier are the ones that apply: the event's override, else the series'.
CREATE TABLE IF NOT EXISTS ssmd_markets (ticker VARCHAR PRIMARY KEY, data JSON, synced_at TIMESTAMPTZ);

CREATE OR REPLACE VIEW markets AS
    SELECT ticker,
           data ->> 'event_ticker' AS event_ticker,
           data ->> 'series_ticker' AS series_ticker,
           data ->> 'title' AS title,
           data ->> 'status' AS status,
           data ->> 'category' AS category,
           data ->> 'open_time' AS open_time,
           data ->> 'close_time' AS close_time,
           data ->> 'expiration_time' AS expiration_time,
           data ->> 'price_level_structure' AS price_level_structure,
           TRY_CAST(data ->> 'tick_size_dollars' AS DECIMAL(18, 4)) AS tick_size_dollars,
           coalesce(data ->> 'fee_type_override', data ->> 'fee_type') AS fee_type,
           TRY_CAST(coalesce(data ->> 'fee_multiplier_override', data ->> 'fee_multiplier') AS DOUBLE)
               AS fee_multiplier,
           data,
           synced_at
    FROM ssmd_markets;
