-- The event log's durable high-water mark, one row per stream key prefix and epoch (the current one).
-- Redis holds the log itself; if Redis comes back with less than it had (an old snapshot), the
-- writer sees `stored` beyond the stream's end and starts a new epoch instead of reusing seqs.
CREATE TABLE event_log_marks (
    key_prefix text        NOT NULL,
    epoch      text        NOT NULL,
    reserved   bigint      NOT NULL CHECK (reserved >= 0),
    stored     bigint      NOT NULL CHECK (stored >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_prefix, epoch)
);
