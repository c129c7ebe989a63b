-- The audit trail (SPEC §5): append-only, hash-chained, retained 7 years.
-- Rows name users by id only and IPs by prefix; no token, key or email is ever stored here.
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    occurred_at   TIMESTAMPTZ NOT NULL,
    event         TEXT NOT NULL,
    actor_user_id UUID,
    subject       TEXT,
    ip_prefix     TEXT,
    request_id    TEXT,
    details       TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at);
CREATE INDEX audit_log_actor_user_idx ON audit_log (actor_user_id, seq) WHERE actor_user_id IS NOT NULL;
