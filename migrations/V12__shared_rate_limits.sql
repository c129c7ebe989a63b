-- Rate limits that must hold across every dyno (ADR 0005): one counter per limit, client and
-- fixed window. `client` is an HMAC of the client's identity (IPv4 address or IPv6 /64), never
-- the address itself. Rows older than a day are deleted by the token-purge retention job.
CREATE TABLE shared_rate_limits (
    name         TEXT NOT NULL,
    client       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (name, client, window_start)
);
CREATE INDEX shared_rate_limits_window_idx ON shared_rate_limits (window_start);
