-- OHLCV bars: one-minute bars written by PgBarWriter, daily bars written by the historical loader.
-- Plain PostgreSQL tables everywhere; where the TimescaleDB extension can be used (available and
-- preloaded, or already installed), ohlcv_1min also becomes a compressed hypertable with an hourly
-- continuous aggregate. tickstock_server.storage.timescale.timescale_available runs the same check.

-- Reads go by (symbol, ts range); the primary key's index serves them, in both directions.
CREATE TABLE ohlcv_1min (
    symbol text        NOT NULL,
    ts     timestamptz NOT NULL,
    open   numeric     NOT NULL,
    high   numeric     NOT NULL,
    low    numeric     NOT NULL,
    close  numeric     NOT NULL,
    volume bigint      NOT NULL,
    PRIMARY KEY (symbol, ts)
);

CREATE TABLE ohlcv_daily (
    symbol text    NOT NULL,
    date   date    NOT NULL,
    open   numeric NOT NULL,
    high   numeric NOT NULL,
    low    numeric NOT NULL,
    close  numeric NOT NULL,
    volume bigint  NOT NULL,
    PRIMARY KEY (symbol, date)
);

-- Statements naming TimescaleDB objects run through EXECUTE, so that plain PostgreSQL never parses
-- them. CREATE EXTENSION fails unless the library is preloaded, hence the second condition.
DO $migration$
BEGIN
    IF NOT (
        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
        OR (
            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
            AND current_setting('shared_preload_libraries') ~ '(^|[\s,])timescaledb($|[\s,])'
        )
    ) THEN
        RAISE NOTICE 'TimescaleDB is not available: ohlcv_1min stays a plain table';
        RETURN;
    END IF;

    CREATE EXTENSION IF NOT EXISTS timescaledb;

    EXECUTE $sql$
        SELECT create_hypertable('ohlcv_1min', 'ts', chunk_time_interval => INTERVAL '1 day')
    $sql$;

    -- Segmenting by symbol keeps one symbol's rows together in a compressed chunk, as reads want them.
    EXECUTE $sql$
        ALTER TABLE ohlcv_1min SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'symbol',
            timescaledb.compress_orderby = 'ts DESC'
        )
    $sql$;
    EXECUTE $sql$ SELECT add_compression_policy('ohlcv_1min', INTERVAL '7 days') $sql$;

    -- WITH NO DATA: materialising WITH DATA cannot run inside a transaction or a function; the refresh
    -- policy fills the view, and materialized_only = false answers the unmaterialised rest from
    -- ohlcv_1min (real-time aggregation); volume is numeric there (sum of bigint). The bucket is named "bucket", not "ts": TimescaleDB has
    -- rejected buckets named like the hypertable's time column (timescale/timescaledb#2546, #5185).
    EXECUTE $sql$
        CREATE MATERIALIZED VIEW ohlcv_1hour
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
               symbol,
               first(open, ts) AS open,
               max(high) AS high,
               min(low) AS low,
               last(close, ts) AS close,
               sum(volume) AS volume
        FROM ohlcv_1min
        GROUP BY bucket, symbol
        WITH NO DATA
    $sql$;
    EXECUTE $sql$
        SELECT add_continuous_aggregate_policy(
            'ohlcv_1hour',
            start_offset => INTERVAL '3 days',
            end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '15 minutes'
        )
    $sql$;
END
$migration$;
