//! The scheduler's table of contents: which jobs exist ([`Job`]), and how a firing hands one to
//! the code that knows what it does ([`JobRunner`]).
//!
//! What a job removes, and how a run is made safe across several workers, is domain knowledge
//! that lives in the main crate (`raptor::retention`); this crate only fires jobs on time. The
//! main crate implements [`JobRunner`] and passes it in the supervisor's arguments, so the
//! dependency points one way: `raptor` → `raptor-actors`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// One scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Expired or revoked sessions (every 10 minutes).
    SessionPurge,
    /// Expired ceremonies, used or expired email-verification and bootstrap tokens (hourly).
    TokenPurge,
    /// Users soft-deleted more than 30 days ago: hard delete with cascades (daily).
    QuarantinePurge,
    /// Audit rows older than 7 years, from the start of the chain (daily).
    AuditRetention,
    /// Sent emails older than 30 days, and job records older than a year (daily).
    OutboxPurge,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::SessionPurge,
        Job::TokenPurge,
        Job::QuarantinePurge,
        Job::AuditRetention,
        Job::OutboxPurge,
    ];

    /// The name in logs, in `job_runs` and in the `SCHEDULE_*` variable.
    pub fn name(self) -> &'static str {
        match self {
            Job::SessionPurge => "session_purge",
            Job::TokenPurge => "token_purge",
            Job::QuarantinePurge => "quarantine_purge",
            Job::AuditRetention => "audit_retention",
            Job::OutboxPurge => "outbox_purge",
        }
    }
}

/// What one firing did, as far as the scheduler's log needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// This firing ran the job for its tick and removed `rows` rows.
    Ran { rows: u64 },
    /// Another worker is running the job right now.
    Busy,
    /// The tick was already run (here or by another worker).
    AlreadyRan,
}

/// A run failed; the scheduler logs it and the job runs again at its next tick.
pub type JobFailed = Box<dyn std::error::Error + Send + Sync>;

/// A run in progress, as [`JobRunner::run`] returns it.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Fired, JobFailed>> + Send + 'a>>;

/// Runs one job for one tick; implemented by the main crate's retention module.
pub trait JobRunner: Send + Sync + 'static {
    /// Runs `job` for the scheduled instant `tick`, measuring retention limits from `now`
    /// (the injected clock). Must be safe to call from several workers for the same tick.
    fn run(&self, job: Job, tick: DateTime<Utc>, now: DateTime<Utc>) -> JobFuture<'_>;
}

/// The runner as the supervisor holds it.
pub type SharedJobRunner = Arc<dyn JobRunner>;
