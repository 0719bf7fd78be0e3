-- Chunks the historical loader (tickstock_server.loader) has completed, so that a re-run of the same
-- backfill skips them. A chunk is one kind of data for one symbol over a range of days; its rows are
-- written before (minute bars) or in the same transaction as (daily bars) its row here. Chunks that
-- reach the current trading day are never recorded: their data is still growing.
CREATE TABLE load_progress (
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('daily', 'minute')),
    symbol       text COLLATE "C" NOT NULL,
    first_date   date    NOT NULL,
    last_date    date    NOT NULL CHECK (last_date >= first_date),
    rows         integer NOT NULL,  -- bars the chunk returned
    completed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, symbol, first_date, last_date)
);
