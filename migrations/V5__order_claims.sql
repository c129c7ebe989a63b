-- Order submission without waiting while holding (docs/trading.md): a submission claims its
-- ledger row in one short transaction (status 'submitting', with a claim id and time), calls
-- the broker holding nothing, then records the outcome in a second short transaction under the
-- same claim. A row left 'submitting' past the claim's lifetime, or 'pending' (outcome unknown,
-- unclaimed), is reconciled against the broker by client_order_id before it may be sent again.
--
-- status: submitting (claimed, a call in flight), pending (unclaimed, outcome unknown or never
-- sent), accepted, rejected, canceled.
ALTER TABLE orders
    ADD COLUMN claim_id   UUID,
    ADD COLUMN claimed_at TIMESTAMPTZ;

CREATE INDEX orders_unsettled_idx ON orders (claimed_at)
    WHERE status IN ('submitting', 'pending');
