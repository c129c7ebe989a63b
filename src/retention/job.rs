//! The retention jobs: which exist ([`Job`]), when each runs ([`Schedules`], from the
//! `SCHEDULE_*` settings), and the list handed to the scheduler actor ([`scheduled`]), each
//! job with a runner that calls [`run`](fn@super::run) on the pool.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::scheduler::{Fired, JobFuture, JobRunner, Schedule, ScheduledJob};

use super::{run, Outcome};

/// One scheduled retention job.
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
    /// Every job, in the order the report lists them.
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
            Job::AuditRetention => crate::audit::verify::RETENTION_JOB,
            Job::OutboxPurge => "outbox_purge",
        }
    }
}

/// The schedule of every job (`SCHEDULE_*` in `config/`).
#[derive(Debug, Clone)]
pub struct Schedules {
    /// `SCHEDULE_SESSION_PURGE`
    pub session_purge: Schedule,
    /// `SCHEDULE_TOKEN_PURGE`
    pub token_purge: Schedule,
    /// `SCHEDULE_QUARANTINE_PURGE`
    pub quarantine_purge: Schedule,
    /// `SCHEDULE_AUDIT_RETENTION`
    pub audit_retention: Schedule,
    /// `SCHEDULE_OUTBOX_PURGE`
    pub outbox_purge: Schedule,
}

impl Schedules {
    /// When `job` runs.
    pub fn of(&self, job: Job) -> &Schedule {
        match job {
            Job::SessionPurge => &self.session_purge,
            Job::TokenPurge => &self.token_purge,
            Job::QuarantinePurge => &self.quarantine_purge,
            Job::AuditRetention => &self.audit_retention,
            Job::OutboxPurge => &self.outbox_purge,
        }
    }
}

/// Every retention job as the scheduler fires it: [`run`](fn@super::run) on `pool`, on its
/// schedule.
pub fn scheduled(pool: &Pool, schedules: &Schedules) -> Vec<ScheduledJob> {
    Job::ALL
        .into_iter()
        .map(|job| ScheduledJob {
            name: job.name(),
            schedule: schedules.of(job).clone(),
            runner: Arc::new(RetentionJob {
                pool: pool.clone(),
                job,
            }),
        })
        .collect()
}

/// One retention job as the scheduler runs it.
struct RetentionJob {
    pool: Pool,
    job: Job,
}

impl JobRunner for RetentionJob {
    fn run(&self, tick: DateTime<Utc>, now: DateTime<Utc>) -> JobFuture<'_> {
        Box::pin(async move {
            Ok(match run(&self.pool, self.job, tick, now).await? {
                outcome @ Outcome::Ran(_) => Fired::Ran {
                    rows: outcome.rows(),
                },
                Outcome::Busy => Fired::Busy,
                Outcome::AlreadyRan => Fired::AlreadyRan,
            })
        })
    }
}
