//! Retention (SPEC §5): what the worker's scheduled jobs remove, how a run is made safe with
//! several worker dynos on one database, and the operator's view of the policy holding.
//!
//! - [`job`]: which jobs exist, their schedules, and the list the scheduler fires;
//! - [`rules`]: each job's rules (table, what is due, how long a row is kept);
//! - [`claim`]: the advisory lock and `job_runs` claim that run each tick once across workers;
//! - [`run`](mod@run): one run of one job, deleting in short batches and recording the outcome;
//! - [`report`]: `raptor retention report`'s counts and last runs.
//!
//! The scheduler actor (`raptor_actors::scheduler`) only fires jobs on their cron schedules; it
//! is handed the list of jobs by [`scheduled`], each with this module's runner, which startup
//! passes in the supervisor's arguments. The tests and the CLI call the same functions.

pub mod claim;
pub mod job;
pub mod report;
pub mod rules;
pub mod run;

use crate::db::StorageError;

pub use job::{scheduled, Job, Schedules};
pub use report::{last_runs, overview, report, LastRun, Overview, TableReport};
pub use rules::{purge_after, rules, Keep, Rule, AUDIT_YEARS, QUARANTINE_DAYS};
pub use run::{run, Outcome, Removed, BATCH};

/// A retention run failed. Nothing is recorded for its tick, so the next tick runs it again.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The job's lock could not be taken or its tick claimed; nothing was deleted.
    #[error("could not claim the tick: {0}")]
    Claim(#[source] StorageError),
    /// A delete failed part-way; the batches removed before it stay removed.
    #[error("deleting from {table} failed: {source}")]
    Delete {
        table: &'static str,
        source: StorageError,
    },
    /// The rows were removed but the run could not be recorded.
    #[error("could not record the run: {0}")]
    Record(#[source] StorageError),
}

impl RetentionError {
    fn claim(error: impl Into<StorageError>) -> Self {
        Self::Claim(error.into())
    }

    fn delete(table: &'static str, error: impl Into<StorageError>) -> Self {
        Self::Delete {
            table,
            source: error.into(),
        }
    }

    fn record(error: impl Into<StorageError>) -> Self {
        Self::Record(error.into())
    }
}
