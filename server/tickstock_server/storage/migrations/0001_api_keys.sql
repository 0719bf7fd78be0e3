-- API keys: only the SHA-256 of each token's secret is stored (see tickstock_server.domain.api_keys).
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    user_name     text NOT NULL,
    secret_sha256 text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE INDEX api_keys_user_name_idx ON api_keys (user_name);
