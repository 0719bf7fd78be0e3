-- Fair dispatch of backtests (backtests/dispatch.py): a QUEUED job waits here until the dispatcher hands
-- it to the producer, at most a bounded number at a time, round robin across users.
-- dispatched_at: when the job was last handed to the producer; NULL while it waits in TickStock's queue.
ALTER TABLE backtests ADD COLUMN dispatched_at timestamptz;

-- Every active job stored before this migration had already been published to the producer.
UPDATE backtests SET dispatched_at = updated_at WHERE state IN ('queued', 'running');

-- Serves the per-user quota (active jobs of a user) and the count of jobs at the producer.
CREATE INDEX backtests_active_idx ON backtests (user_name) WHERE state IN ('queued', 'running');

-- Serves "when was this user last served" (round robin among users with as many jobs in flight).
CREATE INDEX backtests_user_dispatched_idx ON backtests (user_name, dispatched_at);
