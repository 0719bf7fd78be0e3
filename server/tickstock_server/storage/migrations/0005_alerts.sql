-- Per-user pattern alert subscriptions, written by PgAlertStore and loaded by the alert router at start.

-- Lists are arrays in the user's order: a subscription is read and written whole and never edited.
-- Universe names are checked against `universes` on write, not by a foreign key, so that a later
-- reference-data change never blocks or silently edits a user's subscription (like watchlists).
-- Quiet hours are minutes since midnight in `time_zone`; both NULL when the subscription has none.
CREATE TABLE alert_subscriptions (
    subscription_id     text PRIMARY KEY CHECK (subscription_id ~ '^alrt_[A-Za-z0-9_-]{16}$'),
    -- Creation order: `created_at` alone can tie (one transaction, or one microsecond).
    seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_name           text   NOT NULL,
    pattern_types       text[] NOT NULL DEFAULT '{}',
    symbols             text[] NOT NULL DEFAULT '{}',
    universes           text[] NOT NULL DEFAULT '{}',
    min_confidence      double precision NOT NULL CHECK (min_confidence BETWEEN 0 AND 1),
    quiet_start_minute  smallint CHECK (quiet_start_minute BETWEEN 0 AND 1439),
    quiet_end_minute    smallint CHECK (quiet_end_minute BETWEEN 0 AND 1439),
    time_zone           text   NOT NULL DEFAULT 'UTC',
    max_alerts_per_hour integer NOT NULL CHECK (max_alerts_per_hour BETWEEN 1 AND 1000),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_subscriptions_quiet_hours_check
        CHECK ((quiet_start_minute IS NULL) = (quiet_end_minute IS NULL))
);

-- Serves "one user's subscriptions, oldest first" and the per-user count of the limit check.
CREATE INDEX alert_subscriptions_user_seq_idx ON alert_subscriptions (user_name, seq);
