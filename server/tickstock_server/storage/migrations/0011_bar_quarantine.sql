-- One-minute bars PostgreSQL rejected for their data (a data exception or a constraint violation, not
-- an unreachable server): the bar writer splits a rejected batch until it has isolated them, writes
-- the rest, and keeps them here with the reason instead of retrying them forever. The bar is kept as
-- text (its Python repr, non-printable characters escaped), since its own values may be what
-- PostgreSQL cannot store.
CREATE TABLE ohlcv_1min_quarantine (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol         text        NOT NULL,
    start_ns       numeric     NOT NULL,
    bar            text        NOT NULL,
    reason         text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
