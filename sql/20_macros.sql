-- Macros over the catalog views. Examples:
--   SELECT * FROM ohlcv('KXBTCD-26JUL2317-T118999.99', '1 minute');
--   SELECT * FROM vwap('KXBTCD-26JUL2317-T118999.99');
--   SELECT * FROM spread('KXBTCD-26JUL2317-T118999.99');
--   SELECT * FROM book_at('KXBTCD-26JUL2317-T118999.99', '2026-07-19 15:45:00+00');
--   SELECT * FROM gaps_on('2026-07-19');

-- OHLCV bars of one market's trades at any interval ('1 second', '5 minutes', '1 hour').
CREATE OR REPLACE MACRO ohlcv(sym, every) AS TABLE
    SELECT time_bucket(CAST(every AS INTERVAL), CAST(ts AS TIMESTAMPTZ)) AS bucket,
           ticker,
           arg_min(price, ts) AS open,
           max(price) AS high,
           min(price) AS low,
           arg_max(price, ts) AS close,
           sum(size) AS volume,
           count(*) AS trades,
           CAST(sum(price * size) / sum(size) AS DECIMAL(18, 4)) AS vwap
    FROM trades
    WHERE ticker = sym
    GROUP BY ALL
    ORDER BY bucket;

-- Volume-weighted average price of one market over everything archived (filter `trades`
-- yourself for a window: SELECT sum(price*size)/sum(size) FROM trades WHERE ...).
CREATE OR REPLACE MACRO vwap(sym) AS TABLE
    SELECT ticker,
           CAST(sum(price * size) / sum(size) AS DECIMAL(18, 4)) AS vwap,
           sum(size) AS volume,
           count(*) AS trades
    FROM trades
    WHERE ticker = sym
    GROUP BY ticker;

-- Spread and mid from the ticker channel (YES prices), one row per ticker update.
CREATE OR REPLACE MACRO spread(sym) AS TABLE
    SELECT ts, ticker, yes_bid, yes_ask,
           yes_ask - yes_bid AS spread,
           CAST((yes_bid + yes_ask) / 2 AS DECIMAL(18, 5)) AS mid
    FROM tickers
    WHERE ticker = sym AND yes_bid IS NOT NULL AND yes_ask IS NOT NULL
    ORDER BY ts;

-- The order book of one market as of a moment: the last snapshot at or before `as_of`, plus
-- the deltas after it up to `as_of`. Kalshi books are bids per outcome; `book_side` and
-- `yes_price` give them in YES terms (a NO bid at p is a YES ask at 1 - p).
CREATE OR REPLACE MACRO book_at(sym, as_of) AS TABLE
    WITH snap AS (
        SELECT ts, seq FROM orderbook
        WHERE ticker = sym AND kind = 'snapshot' AND ts <= CAST(as_of AS TIMESTAMPTZ)
        ORDER BY ts DESC, seq DESC LIMIT 1
    ), levels AS (
        SELECT o.side, o.price, o.size FROM orderbook o, snap
        WHERE o.ticker = sym AND o.kind = 'snapshot' AND o.ts = snap.ts AND o.seq = snap.seq
          AND o.side IS NOT NULL
        UNION ALL
        SELECT o.side, o.price, o.size FROM orderbook o, snap
        WHERE o.ticker = sym AND o.kind = 'delta' AND o.ts <= CAST(as_of AS TIMESTAMPTZ)
          AND (o.ts > snap.ts OR (o.ts = snap.ts AND o.seq > snap.seq))
    )
    SELECT CASE side WHEN 'yes' THEN 'bid' ELSE 'ask' END AS book_side,
           CASE side WHEN 'yes' THEN price ELSE 1 - price END AS yes_price,
           side, price, sum(size) AS size
    FROM levels
    GROUP BY side, price
    HAVING sum(size) > 0
    ORDER BY book_side, CASE side WHEN 'yes' THEN -price ELSE price END;

-- Gaps of one trading day.
CREATE OR REPLACE MACRO gaps_on(d) AS TABLE
    SELECT * FROM gaps WHERE date = CAST(d AS DATE) ORDER BY start_ts;
