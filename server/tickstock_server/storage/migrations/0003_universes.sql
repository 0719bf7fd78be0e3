-- Reference data (symbols, named universes and their members), per-user watchlists, and the record of
-- which seed data set is loaded. Written by tickstock_server.storage.seed, PgUniverseStore and
-- PgWatchlistStore.

-- Tickers and universe names use the "C" collation: bytewise order is what keyset page tokens and
-- clients (sorted() in Python) expect, and it lets the primary key's index serve `LIKE 'AA%'` searches.
CREATE TABLE symbols (
    symbol                      text COLLATE "C" PRIMARY KEY,
    name                        text    NOT NULL,
    exchange                    text    NOT NULL DEFAULT '',  -- primary listing MIC, e.g. XNAS
    market                      text    NOT NULL DEFAULT 'stocks',
    type                        text    NOT NULL DEFAULT 'CS',  -- CS, ETF, ...
    sector                      text    NOT NULL DEFAULT '',  -- GICS sector; '' when unknown
    industry                    text    NOT NULL DEFAULT '',  -- GICS sub-industry; '' when unknown
    active                      boolean NOT NULL DEFAULT true,
    currency                    text    NOT NULL DEFAULT 'USD',
    market_cap                  bigint,                        -- USD; NULL when unknown
    -- Further reference fields of the original schema, filled by the historical loader when known.
    locale                      text,
    cik                         text,
    composite_figi              text,
    share_class_figi            text,
    weighted_shares_outstanding bigint,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- Named universes. Unions ("sp500:nasdaq100") are computed on read and never stored.
CREATE TABLE universes (
    name        text COLLATE "C" PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    description text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('index', 'etf', 'sector', 'theme'))
);

-- The primary key's index answers both "members of a universe" and the per-universe member counts.
CREATE TABLE universe_members (
    universe text COLLATE "C" NOT NULL REFERENCES universes (name) ON DELETE CASCADE,
    symbol   text COLLATE "C" NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    PRIMARY KEY (universe, symbol)
);

CREATE INDEX universe_members_symbol_idx ON universe_members (symbol);

-- Symbols are an ordered array rather than rows of their own: a watchlist is read and written whole,
-- and the user's order matters. They are checked against `symbols` on write, not by a foreign key, so
-- that a later reference-data change never blocks or silently edits a user's list.
CREATE TABLE watchlists (
    watchlist_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_name    text   NOT NULL,
    name         text   NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    symbols      text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT watchlists_user_name_name_key UNIQUE (user_name, name)
);

-- One row per seed data set: the checksum of the files last loaded, so that a restart with the same
-- files is a no-op and changed files are loaded again.
CREATE TABLE seed_state (
    name      text PRIMARY KEY,
    checksum  text NOT NULL,
    as_of     text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
