-- Many dynos on one database (issue 25).
--
-- One Alpaca budget for the operator's account, whatever the number of processes: each process
-- leases small blocks of sends from these rows (actors/src/outbound/account.rs). A lease may be
-- spent for a few seconds after `granted_at`; a new lease is granted only while the leases of
-- the last minute (plus that spending time) leave room under the account's limit, and a lease
-- that expires unspent gives its rest back (`granted` goes down). Rows older than an hour are
-- deleted by the leasing transaction itself.
CREATE TABLE outbound_leases (
    id         BIGSERIAL PRIMARY KEY,
    budget     TEXT NOT NULL,
    lane       TEXT NOT NULL CHECK (lane IN ('trading', 'market_data')),
    granted_at TIMESTAMPTZ NOT NULL,
    granted    INTEGER NOT NULL CHECK (granted >= 0)
);
CREATE INDEX outbound_leases_recent_idx ON outbound_leases (budget, granted_at);

-- Alpaca asked us to wait (429 Retry-After, or X-RateLimit-Remaining at zero until
-- X-RateLimit-Reset): no process leases for the lane until `until`.
CREATE TABLE outbound_pauses (
    budget TEXT NOT NULL,
    lane   TEXT NOT NULL CHECK (lane IN ('trading', 'market_data')),
    until  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (budget, lane)
);

-- One lease, in one statement (one round trip, through PgBouncer too): gives back the unspent
-- rests of this process's expired leases, then grants up to `want` sends on `lane` when the
-- leases granted within `horizon` (the window plus the time a lease may be spent) leave room
-- under `lane_limit`. Returns the lease (id, granted) or, when nothing can be granted, how many
-- milliseconds until a lease might be (a pause, or the oldest lease leaving the horizon).
-- Serialised per budget by a transaction-scoped advisory lock.
CREATE FUNCTION outbound_lease(
    p_budget TEXT, p_lane TEXT, p_want INTEGER, p_lane_limit INTEGER, p_horizon INTERVAL,
    p_ids BIGINT[], p_rests INTEGER[]
) RETURNS TABLE (lease_id BIGINT, granted INTEGER, wait_ms INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
    v_now    TIMESTAMPTZ;
    v_until  TIMESTAMPTZ;
    v_used   INTEGER;
    v_oldest TIMESTAMPTZ;
    v_grant  INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('raptor.outbound_leases'), hashtext(p_budget));
    v_now := clock_timestamp();
    UPDATE outbound_leases l SET granted = greatest(l.granted - r.rest, 0)
      FROM unnest(p_ids, p_rests) AS r(id, rest)
     WHERE l.id = r.id AND l.budget = p_budget;
    DELETE FROM outbound_leases l
     WHERE l.budget = p_budget AND l.granted_at < v_now - interval '1 hour';
    SELECT p.until INTO v_until FROM outbound_pauses p
     WHERE p.budget = p_budget AND p.lane = p_lane AND p.until > v_now;
    IF FOUND THEN
        RETURN QUERY SELECT NULL::BIGINT, 0,
            greatest(ceil(extract(epoch FROM v_until - v_now) * 1000), 1)::INTEGER;
        RETURN;
    END IF;
    SELECT coalesce(sum(l.granted), 0)::INTEGER, min(l.granted_at) INTO v_used, v_oldest
      FROM outbound_leases l
     WHERE l.budget = p_budget AND l.granted_at > v_now - p_horizon AND l.granted > 0;
    v_grant := least(p_want, p_lane_limit - v_used);
    IF v_grant <= 0 THEN
        RETURN QUERY SELECT NULL::BIGINT, 0, greatest(coalesce(
            ceil(extract(epoch FROM v_oldest + p_horizon - v_now) * 1000), 1000), 1)::INTEGER;
        RETURN;
    END IF;
    RETURN QUERY INSERT INTO outbound_leases AS l (budget, lane, granted_at, granted)
        VALUES (p_budget, p_lane, v_now, v_grant)
        RETURNING l.id, l.granted, 0;
END
$$;
