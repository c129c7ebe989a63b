-- Paper trading (SPEC §2-§3): which user placed which order through the shared operator
-- account, and the operator's kill switch.

CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    -- Kept (as NULL) when the user is hard-deleted: the paper account's history stays whole.
    user_id          UUID REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key  TEXT,
    -- Sent to Alpaca; Alpaca refuses a second order with the same client_order_id.
    client_order_id  TEXT NOT NULL UNIQUE,
    alpaca_order_id  TEXT,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL,
    -- The validated request as submitted (JSON text).
    request          TEXT NOT NULL,
    -- pending (before the broker answered), accepted, rejected, canceled
    status           TEXT NOT NULL,
    -- The broker's HTTP status and body exactly as received (decimals byte for byte).
    broker_status    INTEGER,
    broker_body      TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_alpaca_idx ON orders (alpaca_order_id);

-- The operator's kill switch: one row. Engaged here, or by configuration, stops trading.
CREATE TABLE kill_switch (
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    engaged     BOOLEAN NOT NULL,
    reason      TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL
);
