-- Backtest runs (SPEC §6) as durable jobs: a web dyno inserts a queued run, a worker claims it
-- (FOR UPDATE SKIP LOCKED) with a lease, so a dyno that dies mid-run leaves it to be claimed
-- again once `lease_until` passes. `request` is the validated request, `result` the finished
-- run (bars, metrics, trades, equity curve). Deleted with the account; kept 90 days.
CREATE TABLE backtest_runs (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    request     JSONB NOT NULL,
    result      JSONB,
    reason      TEXT,
    progress    DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
-- A user's runs, newest first; the per-user concurrency and daily limits count here.
CREATE INDEX backtest_runs_user_idx ON backtest_runs (user_id, created_at DESC);
-- The queue: what a worker may claim.
CREATE INDEX backtest_runs_open_idx ON backtest_runs (created_at)
    WHERE status IN ('queued', 'running');
