-- Scheduled retention jobs (SPEC §5): one row per job per tick, written by the worker that ran
-- it. The primary key is what makes "each tick runs once across every worker" a fact the
-- database enforces; the row is committed together with the end of the run.
CREATE TABLE job_runs (
    job          TEXT NOT NULL,
    tick         TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    rows_removed BIGINT NOT NULL DEFAULT 0,
    -- audit_retention records {"trimmed_through": seq}: rows up to it were removed by
    -- retention, which is how `raptor audit verify` tells retention from tampering.
    details      JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (job, tick)
);
CREATE INDEX job_runs_tick_idx ON job_runs (tick);

-- A data-subject export finds the operator's actions about a user by subject (the user's id).
CREATE INDEX audit_log_subject_idx ON audit_log (subject) WHERE subject IS NOT NULL;
