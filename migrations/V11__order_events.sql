-- Live order updates (docs/trading.md): Alpaca's trade_updates stream records each order's own
-- status here (new, partially_filled, filled, canceled, expired, rejected, replaced, ...), so
-- the open-orders risk limit and the order list need not poll Alpaca. `status` stays the
-- submission's state (submitting, pending, accepted, rejected, canceled); an event for a row
-- still submitting or pending settles it as accepted (the crash gap between claim and record).
ALTER TABLE orders
    ADD COLUMN order_status   TEXT,
    ADD COLUMN order_event_at TIMESTAMPTZ;

-- Orders accepted before the stream existed have no known status: they are not counted as open.
UPDATE orders SET order_status = 'unknown_before_stream' WHERE status = 'accepted';

-- Open orders (the condition is src/trading/ledger/limits.rs OPEN_ORDER, verbatim): counted per
-- user by the risk limits, and checked every second by the stream actor (any open order keeps the
-- upstream connected).
CREATE INDEX orders_open_idx ON orders (user_id)
    WHERE (status IN ('submitting', 'pending') OR (status = 'accepted'
        AND COALESCE(order_status, 'new') NOT IN ('filled', 'canceled', 'expired', 'rejected',
        'replaced', 'unknown_before_stream')));
