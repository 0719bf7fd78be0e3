-- Backtest jobs submitted to the pattern producer (TickStockPL), with their progress and results.
-- Written by PgBacktestStore; a job is visible to its owner only.

CREATE TABLE backtests (
    -- "backtest_<epoch s>_<16 hex>": also the producer's job_id, echoed in its progress and results.
    backtest_id             text COLLATE "C" PRIMARY KEY,
    user_name               text NOT NULL,
    state                   text NOT NULL
        CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    symbols                 text[] NOT NULL CHECK (cardinality(symbols) BETWEEN 1 AND 50),
    start_date              date NOT NULL,
    end_date                date NOT NULL,
    patterns                text[] NOT NULL CHECK (cardinality(patterns) >= 1),
    -- {"initial_capital": ..., "commission_rate": ..., ...}: the BacktestParameters fields.
    parameters              jsonb NOT NULL,
    progress                double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    current_symbol          text NOT NULL DEFAULT '',
    estimated_completion_at timestamptz,
    -- {"total_return", "win_rate", "total_trades", "sharpe_ratio", "max_drawdown", "details": {...}}
    -- when completed; NULL otherwise.
    result                  jsonb,
    error_message           text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT backtests_period_check CHECK (start_date < end_date)
);

-- Serves "a user's backtests, newest first" with keyset paging on (created_at, backtest_id).
CREATE INDEX backtests_user_created_idx ON backtests (user_name, created_at DESC, backtest_id DESC);
