-- Paper books (docs/trading.md "Books"): every user trades on the one shared paper account, and
-- Raptor keeps a sub-ledger per user, fed by the fills of that user's orders.
--
-- Financial records are kept under the user's id after an erasure (a pseudonym once the user row
-- is purged, like audit rows), so none of these tables references users: docs/gdpr.md.

-- The orders ledger loses its foreign key for the same reason: a purged user's orders stay
-- linked to the pseudonym (their fills and book), not to NULL.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_user_id_fkey;

ALTER TABLE orders
    -- The order's size as asked (one of the two), and the price a share was estimated at by the
    -- pre-trade checks: what an open order reserves in its owner's book.
    ADD COLUMN qty            NUMERIC,
    ADD COLUMN notional       NUMERIC,
    ADD COLUMN reserve_price  NUMERIC,
    -- The newest Alpaca order object seen (stream or reconciliation), exactly as received.
    ADD COLUMN order_body     TEXT,
    -- From the fills recorded for the order (the newest cumulative figures).
    ADD COLUMN filled_qty     NUMERIC NOT NULL DEFAULT 0,
    ADD COLUMN filled_notional NUMERIC NOT NULL DEFAULT 0;

-- Orders not yet settled with Alpaca: reconciled after a reconnect, at startup and periodically.
CREATE INDEX orders_created_idx ON orders (created_at);
CREATE INDEX orders_user_cursor_idx ON orders (user_id, created_at DESC, id DESC);

-- One book per user. Cash changes only through fills and audited adjustments; positions and
-- realized P&L follow from the fills (book_positions is their fold, kept in step).
CREATE TABLE books (
    user_id      UUID PRIMARY KEY,
    currency     TEXT NOT NULL DEFAULT 'USD',
    initial_cash NUMERIC NOT NULL,
    -- initial_cash + adjustments + sells - buys (kept in step with fills and adjustments).
    cash         NUMERIC NOT NULL,
    opened_at    TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Executions: one row per execution of an order, keyed by the order and the cumulative quantity
-- filled after it, so the stream, a replay and a reconciliation that see the same execution write
-- the same key. An execution's own quantity and amount are the differences to the previous row
-- of the same order (window over cum_qty); a reconciliation that saw only the newest cumulative
-- figures writes one row for what it missed, and an intermediate execution arriving later splits
-- it. user_id is the nil UUID for an order placed outside Raptor (the operator book).
CREATE TABLE fills (
    alpaca_order_id TEXT NOT NULL,
    cum_qty         NUMERIC NOT NULL CHECK (cum_qty > 0),
    cum_notional    NUMERIC NOT NULL CHECK (cum_notional >= 0),
    user_id         UUID NOT NULL,
    order_id        UUID,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    execution_id    TEXT,
    filled_at       TIMESTAMPTZ NOT NULL,
    -- stream or reconcile
    source          TEXT NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alpaca_order_id, cum_qty)
);
CREATE INDEX fills_user_symbol_idx ON fills (user_id, symbol, filled_at);

-- The fold of a user's fills per symbol (average cost): kept in step by the transaction that
-- records a fill. A position sold to zero keeps its row for its realized P&L.
CREATE TABLE book_positions (
    user_id     UUID NOT NULL,
    symbol      TEXT NOT NULL,
    asset_class TEXT NOT NULL,
    qty         NUMERIC NOT NULL,
    cost_basis  NUMERIC NOT NULL,
    realized_pl NUMERIC NOT NULL,
    last_fill_price NUMERIC NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, symbol)
);

-- Operators' cash adjustments (`raptor book adjust`), audited before they are written.
CREATE TABLE book_adjustments (
    id       UUID PRIMARY KEY,
    user_id  UUID NOT NULL,
    delta    NUMERIC NOT NULL,
    reason   TEXT NOT NULL,
    made_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX book_adjustments_user_idx ON book_adjustments (user_id);

-- The last trade price known per symbol (pre-trade checks and fills write it), so that reading a
-- book never calls Alpaca.
CREATE TABLE mark_prices (
    symbol   TEXT PRIMARY KEY,
    price    NUMERIC NOT NULL CHECK (price > 0),
    at       TIMESTAMPTZ NOT NULL
);

-- Equity after each US close, per book (the worker's daily snapshot): portfolio history.
CREATE TABLE book_snapshots (
    user_id UUID NOT NULL,
    day     DATE NOT NULL,
    equity  NUMERIC NOT NULL,
    cash    NUMERIC NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- Where reconciliation with Alpaca stands (one row): orders submitted before `through` (and not
-- open in the ledger) are known; `ran_at` lets one worker at a time run the periodic pass.
CREATE TABLE book_reconciliation (
    id      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    through TIMESTAMPTZ,
    ran_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO book_reconciliation (id, through, ran_at) VALUES (TRUE, NULL, '-infinity');

-- Every web process caches the books and open orders it reads; a change of a user's book or
-- orders notifies them all (src/trading/book/cache.rs). pg_notify folds identical payloads of one
-- transaction into one notification.
CREATE FUNCTION raptor_book_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.user_id IS NOT NULL THEN
            PERFORM pg_notify('raptor_books', OLD.user_id::text);
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.user_id IS NOT NULL THEN
        PERFORM pg_notify('raptor_books', NEW.user_id::text);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER books_changed AFTER INSERT OR UPDATE OR DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION raptor_book_changed();
CREATE TRIGGER book_positions_changed AFTER INSERT OR UPDATE OR DELETE ON book_positions
    FOR EACH ROW EXECUTE FUNCTION raptor_book_changed();
CREATE TRIGGER orders_changed AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION raptor_book_changed();
CREATE TRIGGER book_snapshots_changed AFTER INSERT ON book_snapshots
    FOR EACH ROW EXECUTE FUNCTION raptor_book_changed();
