//! The SQL of backtest runs (`backtest_runs`, migration V9): queueing, claiming with a lease,
//! recording the outcome, and reading a user's runs. Every statement is short; nothing here
//! waits on anything but Postgres.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::StorageError;

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: Uuid,
    pub status: String,
    pub request: Value,
    pub result: Option<Value>,
    pub reason: Option<String>,
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    fn from_row(row: &Row) -> Self {
        RunRow {
            id: row.get("id"),
            status: row.get("status"),
            request: row.get("request"),
            result: row.get("result"),
            reason: row.get("reason"),
            progress: row.get("progress"),
            created_at: row.get("created_at"),
            finished_at: row.get("finished_at"),
        }
    }
}

/// A run a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub user_id: Uuid,
    pub request: Value,
    pub attempts: i32,
}

/// A user's load: runs not finished, and runs created since `since` with the oldest of them.
pub struct Usage {
    pub active: i64,
    pub recent: i64,
    pub oldest_recent: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, status, request, result, reason, progress, created_at, finished_at";

/// Serialises one user's submissions for the rest of the transaction.
pub async fn lock_user(client: &impl GenericClient, user_id: Uuid) -> Result<(), StorageError> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('backtest:' || $1::uuid::text, 0))",
            &[&user_id],
        )
        .await?;
    Ok(())
}

pub async fn usage(
    client: &impl GenericClient,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Usage, StorageError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'running')),
                    count(*) FILTER (WHERE created_at > $2),
                    min(created_at) FILTER (WHERE created_at > $2)
               FROM backtest_runs WHERE user_id = $1",
            &[&user_id, &since],
        )
        .await?;
    Ok(Usage {
        active: row.get(0),
        recent: row.get(1),
        oldest_recent: row.get(2),
    })
}

/// Queues a run and wakes the workers (the notification is sent on commit).
pub async fn insert(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    request: &Value,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO backtest_runs (id, user_id, request, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &user_id, request, &now],
        )
        .await?;
    notify(client, raptor_actors::backtests::JOBS_CHANNEL, id).await
}

async fn notify(client: &impl GenericClient, channel: &str, id: Uuid) -> Result<(), StorageError> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&channel, &id.to_string()])
        .await?;
    Ok(())
}

pub async fn get(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<RunRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM backtest_runs WHERE id = $1 AND user_id = $2");
    let row = client.query_opt(&sql, &[&id, &user_id]).await?;
    Ok(row.as_ref().map(RunRow::from_row))
}

/// The user's newest runs, results without their equity curve.
pub async fn list(
    client: &impl GenericClient,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<RunRow>, StorageError> {
    let rows = client
        .query(
            "SELECT id, status, request, result - 'equity_curve' AS result, reason, progress,
                    created_at, finished_at
               FROM backtest_runs WHERE user_id = $1
              ORDER BY created_at DESC, id DESC LIMIT $2",
            &[&user_id, &limit],
        )
        .await?;
    Ok(rows.iter().map(RunRow::from_row).collect())
}

/// Claims the oldest queued run, or a running one whose lease has expired.
pub async fn claim(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Claimed>, StorageError> {
    let row = client
        .query_opt(
            "UPDATE backtest_runs SET status = 'running', lease_until = $2,
                    attempts = attempts + 1, started_at = coalesce(started_at, $1)
              WHERE id = (SELECT id FROM backtest_runs
                           WHERE status = 'queued' OR (status = 'running' AND lease_until < $1)
                           ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, user_id, request, attempts",
            &[&now, &lease_until],
        )
        .await?;
    Ok(row.map(|row| Claimed {
        id: row.get(0),
        user_id: row.get(1),
        request: row.get(2),
        attempts: row.get(3),
    }))
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

/// Records the end of a run (a result, or the reason it failed) and notifies the web dynos.
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

/// Deletes runs created before `before`; the number removed.
pub async fn purge(
    client: &impl GenericClient,
    before: DateTime<Utc>,
) -> Result<u64, StorageError> {
    Ok(client
        .execute(
            "DELETE FROM backtest_runs WHERE created_at < $1 AND status IN ('succeeded', 'failed')",
            &[&before],
        )
        .await?)
}
