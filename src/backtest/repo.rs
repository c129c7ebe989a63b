//! The SQL of a user's backtest jobs (`backtest_runs`, migrations V9 and V15): queueing,
//! finding an equal job to reuse, reading, listing a page and cancelling. Runs and sweeps share
//! the table (`kind`). The worker's side (claiming, recording) is [`super::queue`]. Every
//! statement is short; nothing here waits on anything but Postgres.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::StorageError;

/// What a job computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Sweep,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: Uuid,
    pub status: String,
    pub request: Value,
    pub result: Option<Value>,
    pub reason: Option<String>,
    pub progress: f64,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
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
            attempts: row.get("attempts"),
            last_error: row.get("last_error"),
            not_before: row.get("not_before"),
            created_at: row.get("created_at"),
            finished_at: row.get("finished_at"),
        }
    }

    /// Whether the job has ended (and will not change again).
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "canceled")
    }
}

/// A user's load: jobs queued, and jobs created since `since` with the oldest of them.
pub struct Usage {
    pub queued: i64,
    pub recent: i64,
    pub oldest_recent: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, status, request, result, reason, progress, attempts, last_error, \
                       not_before, created_at, finished_at";

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
            "SELECT count(*) FILTER (WHERE status = 'queued'),
                    count(*) FILTER (WHERE created_at > $2),
                    min(created_at) FILTER (WHERE created_at > $2)
               FROM backtest_runs WHERE user_id = $1",
            &[&user_id, &since],
        )
        .await?;
    Ok(Usage {
        queued: row.get(0),
        recent: row.get(1),
        oldest_recent: row.get(2),
    })
}

/// The user's newest job of `kind` with exactly this request that is queued, running, or
/// succeeded after `since`.
pub async fn find_equal(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: Kind,
    request: &Value,
    since: DateTime<Utc>,
) -> Result<Option<RunRow>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM backtest_runs
          WHERE user_id = $1 AND kind = $2 AND request = $3
            AND (status IN ('queued', 'running') OR (status = 'succeeded' AND finished_at > $4))
          ORDER BY created_at DESC LIMIT 1"
    );
    let row = client
        .query_opt(&sql, &[&user_id, &kind.as_str(), request, &since])
        .await?;
    Ok(row.as_ref().map(RunRow::from_row))
}

/// Queues a job and wakes the workers (the notification is sent on commit).
pub async fn insert(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    kind: Kind,
    request: &Value,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO backtest_runs (id, user_id, kind, request, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &user_id, &kind.as_str(), request, &now],
        )
        .await?;
    notify(client, raptor_actors::backtests::JOBS_CHANNEL, id).await
}

pub(super) async fn notify(
    client: &impl GenericClient,
    channel: &str,
    id: Uuid,
) -> Result<(), StorageError> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&channel, &id.to_string()])
        .await?;
    Ok(())
}

/// One of the user's jobs of `kind`, in full.
pub async fn get(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: Kind,
    id: Uuid,
) -> Result<Option<RunRow>, StorageError> {
    let sql =
        format!("SELECT {COLUMNS} FROM backtest_runs WHERE id = $1 AND user_id = $2 AND kind = $3");
    let row = client
        .query_opt(&sql, &[&id, &user_id, &kind.as_str()])
        .await?;
    Ok(row.as_ref().map(RunRow::from_row))
}

/// Where a page of a list starts: after the job created at `.0` with id `.1`.
pub type Position = (DateTime<Utc>, Uuid);

/// Up to `limit` of the user's jobs of `kind` after `after`, newest first, as summaries: the
/// result without its trades, curve and combinations.
pub async fn list(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: Kind,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<RunRow>, StorageError> {
    let (at, id) = after.unzip();
    let rows = client
        .query(
            "SELECT id, status, request,
                    result - 'trades' - 'equity_curve' - 'combinations' AS result, reason,
                    progress, attempts, last_error, not_before, created_at, finished_at
               FROM backtest_runs
              WHERE user_id = $1 AND kind = $2
                AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
              ORDER BY created_at DESC, id DESC LIMIT $5",
            &[&user_id, &kind.as_str(), &at, &id, &limit],
        )
        .await?;
    Ok(rows.iter().map(RunRow::from_row).collect())
}

/// What asking to cancel found.
pub enum Cancel {
    /// Canceled now (it was queued or running).
    Canceled(RunRow),
    /// It had already ended.
    Finished(RunRow),
    NotFound,
}

/// Cancels one of the user's jobs (of either kind) if it has not ended, and tells the web dynos
/// waiting on it.
pub async fn cancel(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Cancel, StorageError> {
    let sql = format!(
        "UPDATE backtest_runs SET status = 'canceled', finished_at = $3, lease_until = NULL,
                not_before = NULL
          WHERE id = $1 AND user_id = $2 AND status IN ('queued', 'running')
      RETURNING {COLUMNS}"
    );
    if let Some(row) = client.query_opt(&sql, &[&id, &user_id, &now]).await? {
        notify(client, raptor_actors::backtests::DONE_CHANNEL, id).await?;
        return Ok(Cancel::Canceled(RunRow::from_row(&row)));
    }
    let sql = format!("SELECT {COLUMNS} FROM backtest_runs WHERE id = $1 AND user_id = $2");
    Ok(match client.query_opt(&sql, &[&id, &user_id]).await? {
        Some(row) => Cancel::Finished(RunRow::from_row(&row)),
        None => Cancel::NotFound,
    })
}
