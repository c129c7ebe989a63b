//! A person's backtest runs and sweeps (`backtest_runs`) in their export, and gone at once when
//! the account is erased: they are the person's research, of no use to anyone after it.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A run or a sweep as the person asked for it, with what it produced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestRecord {
    pub id: Uuid,
    /// `run` or `sweep`.
    pub kind: String,
    pub status: String,
    #[schema(value_type = crate::schemas::JsonValue)]
    pub request: Value,
    #[schema(value_type = crate::schemas::JsonValue, required = true)]
    pub result: Option<Value>,
    pub reason: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The person's runs and sweeps, oldest first.
pub async fn read(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<BacktestRecord>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, kind, status, request, result, reason, attempts, created_at, finished_at
               FROM backtest_runs WHERE user_id = $1 ORDER BY created_at, id",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| BacktestRecord {
            id: r.get(0),
            kind: r.get(1),
            status: r.get(2),
            request: r.get(3),
            result: r.get(4),
            reason: r.get(5),
            attempts: r.get(6),
            created_at: r.get(7),
            finished_at: r.get(8),
        })
        .collect())
}

/// Deletes the person's runs and sweeps (a worker carrying one stops when it sees it gone).
pub async fn erase(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute("DELETE FROM backtest_runs WHERE user_id = $1", &[&user_id])
        .await
}
