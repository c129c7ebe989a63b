//! The claim protocol that makes each tick of each job run once across several worker dynos.
//!
//! A *guard* transaction takes `pg_try_advisory_xact_lock` for the job (another worker holding it
//! means [`Claimed::Busy`]), then inserts (job, tick) into `job_runs`, whose primary key refuses a
//! tick already recorded ([`Claimed::AlreadyRan`]). The guard stays open while the run deletes on
//! another connection; [`Claim::finish`] records the rows removed and commits, which releases the
//! lock. A run that fails drops the claim: the guard rolls back, nothing is recorded, and the
//! next tick tries again.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;

use super::{Job, RetentionError};

/// First key of every job's advisory lock ("job" in ASCII); the second is the job's number.
const LOCK_CLASS: i32 = 0x006a_6f62;

fn lock_id(job: Job) -> i32 {
    match job {
        Job::SessionPurge => 1,
        Job::TokenPurge => 2,
        Job::QuarantinePurge => 3,
        Job::AuditRetention => 4,
        Job::OutboxPurge => 5,
    }
}

/// What trying to claim a tick found.
pub enum Claimed<'a> {
    /// This worker holds the job's lock and has recorded the tick: run it.
    Ours(Claim<'a>),
    /// Another worker is running this job right now.
    Busy,
    /// This tick was already run (here or by another worker).
    AlreadyRan,
}

/// A claimed tick: the open guard transaction holding the job's lock.
pub struct Claim<'a> {
    guard: Transaction<'a>,
    job: Job,
    tick: DateTime<Utc>,
}

/// Takes the job's lock and claims `tick` in the guard transaction opened on `connection`.
pub async fn claim(
    connection: &mut deadpool_postgres::Object,
    job: Job,
    tick: DateTime<Utc>,
) -> Result<Claimed<'_>, RetentionError> {
    let guard = connection
        .transaction()
        .await
        .map_err(RetentionError::claim)?;
    let locked: bool = guard
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1, $2)",
            &[&LOCK_CLASS, &lock_id(job)],
        )
        .await
        .map_err(RetentionError::claim)?
        .get(0);
    if !locked {
        return Ok(Claimed::Busy);
    }
    let claimed = guard
        .execute(
            "INSERT INTO job_runs (job, tick, started_at) VALUES ($1, $2, clock_timestamp()) \
             ON CONFLICT (job, tick) DO NOTHING",
            &[&job.name(), &tick],
        )
        .await
        .map_err(RetentionError::claim)?;
    if claimed == 0 {
        // Release the lock now, not when the dropped transaction's ROLLBACK reaches the server:
        // the pooled connection may be handed out before then, and a worker firing this tick
        // right after would find the job Busy instead of AlreadyRan.
        guard.rollback().await.map_err(RetentionError::claim)?;
        return Ok(Claimed::AlreadyRan);
    }
    Ok(Claimed::Ours(Claim { guard, job, tick }))
}

impl Claim<'_> {
    /// Records that the run removed `rows` rows (with `details`, e.g. how far the audit trail
    /// was trimmed) and commits, releasing the lock.
    pub async fn finish(self, rows: u64, details: serde_json::Value) -> Result<(), RetentionError> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.guard
            .execute(
                "UPDATE job_runs SET finished_at = clock_timestamp(), rows_removed = $3, \
                 details = $4 WHERE job = $1 AND tick = $2",
                &[&self.job.name(), &self.tick, &rows, &details],
            )
            .await
            .map_err(RetentionError::record)?;
        self.guard.commit().await.map_err(RetentionError::record)
    }
}
