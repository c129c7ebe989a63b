-- Backtests as a research tool (issue 27).
--
-- Sweeps are jobs in the same queue as runs (`kind`), so cancelling, retrying, deduplicating,
-- the per-user limits and the fair order apply to both alike. A run can be `canceled`; a
-- transient failure puts it back in the queue until `not_before` (backoff), keeping the error
-- it met in `last_error`. `claim_seq` orders claims, so the worker can serve the user it served
-- least recently first (round-robin across users).
ALTER TABLE backtest_runs DROP CONSTRAINT backtest_runs_status_check;
ALTER TABLE backtest_runs ADD CONSTRAINT backtest_runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled'));
ALTER TABLE backtest_runs
    ADD COLUMN kind       TEXT NOT NULL DEFAULT 'run' CHECK (kind IN ('run', 'sweep')),
    ADD COLUMN not_before TIMESTAMPTZ,
    ADD COLUMN last_error TEXT,
    ADD COLUMN claim_seq  BIGINT;
CREATE SEQUENCE backtest_claim_seq;

-- A user's jobs of one kind, newest first: lists (with their cursor) and deduplication.
CREATE INDEX backtest_runs_user_kind_idx ON backtest_runs (user_id, kind, created_at DESC, id DESC);

-- The bar cache remembers when each covered range was last read, so ranges nobody reads are
-- removed by retention (src/retention/rules.rs), and the bars no remaining range covers with
-- them. Ranges recorded before this migration count as used when they were fetched.
ALTER TABLE market_bar_coverage ADD COLUMN used_at TIMESTAMPTZ;
