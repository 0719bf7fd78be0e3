-- The secret that signs session tokens (AuthService.CreateSessionToken): one row, created by the first
-- server that needs it, shared by every replica so a token made by one is accepted by all.
CREATE TABLE session_secret (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret     bytea   NOT NULL CHECK (length(secret) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
