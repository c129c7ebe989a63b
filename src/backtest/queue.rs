//! The worker's SQL over `backtest_runs`: claim the next job fairly, watch it for a cancel,
//! report progress, put it back for a retry, record its end, and purge old jobs.
//!
//! Fairness (round-robin across users): among claimable jobs (queued and due, or running with
//! an expired lease), the worker takes one of the user with the fewest jobs running now, then
//! of the user it served least recently (`claim_seq`), then the oldest. One user's long queue
//! therefore delays another user's job by at most the jobs already claimed, one per slot.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use super::repo::{notify, Kind};
use crate::db::StorageError;

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub request: Value,
    /// Including this one.
    pub attempts: i32,
}

/// Claims the next job (see the module head), or none.
pub async fn claim(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Claimed>, StorageError> {
    let row = client
        .query_opt(
            "UPDATE backtest_runs SET status = 'running', lease_until = $2,
                    attempts = attempts + 1, started_at = coalesce(started_at, $1),
                    not_before = NULL, claim_seq = nextval('backtest_claim_seq')
              WHERE id = (
                    SELECT r.id FROM backtest_runs r
                     WHERE (r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= $1))
                        OR (r.status = 'running' AND r.lease_until < $1)
                     ORDER BY (SELECT count(*) FROM backtest_runs o
                                WHERE o.user_id = r.user_id AND o.status = 'running'
                                  AND o.lease_until >= $1),
                              (SELECT max(o.claim_seq) FROM backtest_runs o
                                WHERE o.user_id = r.user_id) NULLS FIRST,
                              r.created_at
                     LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, user_id, kind, request, attempts",
            &[&now, &lease_until],
        )
        .await?;
    Ok(row.map(|row| Claimed {
        id: row.get(0),
        user_id: row.get(1),
        kind: match row.get::<_, &str>(2) {
            "sweep" => Kind::Sweep,
            _ => Kind::Run,
        },
        request: row.get(3),
        attempts: row.get(4),
    }))
}

/// When the next job waiting out a backoff becomes claimable, if one is.
pub async fn next_due(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    let row = client
        .query_one(
            "SELECT min(not_before) FROM backtest_runs WHERE status = 'queued' AND not_before > $1",
            &[&now],
        )
        .await?;
    Ok(row.get(0))
}

/// Whether the job is still ours to carry (running; not canceled or deleted).
pub async fn still_running(client: &impl GenericClient, id: Uuid) -> Result<bool, StorageError> {
    let row = client
        .query_opt("SELECT status FROM backtest_runs WHERE id = $1", &[&id])
        .await?;
    Ok(row.is_some_and(|r| r.get::<_, &str>(0) == "running"))
}

pub async fn set_progress(
    client: &impl GenericClient,
    id: Uuid,
    progress: f64,
) -> Result<(), StorageError> {
    client
        .execute(
            "UPDATE backtest_runs SET progress = $2 WHERE id = $1 AND status = 'running'",
            &[&id, &progress.clamp(0.0, 1.0)],
        )
        .await?;
    Ok(())
}

/// Puts a job that met a transient failure back in the queue until `not_before`.
pub async fn retry(
    client: &impl GenericClient,
    id: Uuid,
    error: &str,
    not_before: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "UPDATE backtest_runs SET status = 'queued', not_before = $3, last_error = $2,
                    lease_until = NULL, progress = 0
              WHERE id = $1 AND status = 'running'",
            &[&id, &error, &not_before],
        )
        .await?;
    Ok(())
}

/// Records the end of a job (a result, or the reason it failed) and notifies the web dynos. A
/// job canceled meanwhile keeps its `canceled`.
pub async fn finish(
    client: &impl GenericClient,
    id: Uuid,
    outcome: Result<&Value, &str>,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let (status, result, reason) = match outcome {
        Ok(result) => ("succeeded", Some(result), None),
        Err(reason) => ("failed", None, Some(reason)),
    };
    client
        .execute(
            "UPDATE backtest_runs SET status = $2, result = $3, reason = $4, progress = 1,
                    finished_at = $5, lease_until = NULL
              WHERE id = $1 AND status = 'running'",
            &[&id, &status, &result, &reason, &now],
        )
        .await?;
    notify(client, raptor_actors::backtests::DONE_CHANNEL, id).await
}

/// Deletes ended jobs created before `before`; the number removed.
pub async fn purge(
    client: &impl GenericClient,
    before: DateTime<Utc>,
) -> Result<u64, StorageError> {
    Ok(client
        .execute(
            "DELETE FROM backtest_runs
              WHERE created_at < $1 AND status IN ('succeeded', 'failed', 'canceled')",
            &[&before],
        )
        .await?)
}
