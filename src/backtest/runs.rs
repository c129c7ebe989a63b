//! The use cases of backtest runs a user calls: [`submit_run`], [`get_run`], [`list_runs`].
//!
//! Submitting parses the request (a 422 creates nothing), checks the user's limits, writes the
//! `backtest.run` audit row, queues the run (one short transaction, the user's submissions
//! serialised by an advisory lock so limits hold under concurrency), then waits up to
//! [`Limits::wait`] for a worker to finish it, holding nothing meanwhile.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AuditClient, AuditEntry};
use raptor_actors::backtests::FinishedRuns;
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, RunRow};
use super::{BacktestError, BacktestRequest};
use crate::db::StorageError;

/// What bounds a user's backtests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bars one run may span.
    pub max_bars: u32,
    /// Runs queued or running at once, per user.
    pub max_concurrent: i64,
    /// Runs per user in any 24 hours.
    pub max_daily: i64,
    /// How long a submission waits for its result before answering 202.
    pub wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bars: 1_000_000,
            max_concurrent: 2,
            max_daily: 50,
            wait: Duration::from_secs(2),
        }
    }
}

/// Runs `GET /api/backtest` lists at most.
pub const LIST_LIMIT: i64 = 100;
/// How long a caller over the concurrency limit is told to wait.
const BUSY_RETRY: Duration = Duration::from_secs(10);

pub struct SubmitDeps<'a> {
    pub pool: &'a Pool,
    pub audit: &'a AuditClient,
    pub finished: &'a FinishedRuns,
    pub limits: Limits,
    pub now: DateTime<Utc>,
}

/// A submitted run: finished within the wait, or still queued/running.
pub enum Submitted {
    Finished(Value),
    Pending(Value),
}

pub async fn submit_run(
    deps: SubmitDeps<'_>,
    user_id: Uuid,
    mut audit: AuditEntry,
    body: &Value,
) -> Result<Submitted, BacktestError> {
    let request = BacktestRequest::parse(body, deps.limits.max_bars)?;
    let since = deps.now - chrono::Duration::days(1);
    check_limits(
        &repo::usage(
            &deps.pool.get().await.map_err(StorageError::from)?,
            user_id,
            since,
        )
        .await?,
        &deps.limits,
        deps.now,
    )?;

    let id = Uuid::new_v4();
    audit.actor_user_id = Some(user_id);
    audit.subject = Some(id.to_string());
    audit.details = json!({
        "symbol": request.symbol,
        "timeframe": request.timeframe.as_alpaca(),
        "start": request.start,
        "end": request.end,
        "strategy": request.strategy.name(),
    });
    deps.audit.append(audit).await?;

    let mut waiter = deps.finished.subscribe();
    {
        let mut client = deps.pool.get().await.map_err(StorageError::from)?;
        let tx = client.transaction().await.map_err(StorageError::from)?;
        repo::lock_user(&tx, user_id).await?;
        check_limits(
            &repo::usage(&tx, user_id, since).await?,
            &deps.limits,
            deps.now,
        )?;
        repo::insert(&tx, id, user_id, &request.to_json(), deps.now).await?;
        tx.commit().await.map_err(StorageError::from)?;
    }
    waiter.wait_for(id, deps.limits.wait).await;
    let client = deps.pool.get().await.map_err(StorageError::from)?;
    let row = repo::get(&client, user_id, id)
        .await?
        .ok_or(BacktestError::NotFound)?;
    Ok(if matches!(row.status.as_str(), "succeeded" | "failed") {
        Submitted::Finished(view(row))
    } else {
        Submitted::Pending(json!({"id": row.id, "status": row.status, "progress": row.progress}))
    })
}

fn check_limits(
    usage: &repo::Usage,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<(), BacktestError> {
    if usage.active >= limits.max_concurrent {
        return Err(BacktestError::TooMany {
            why: format!(
                "at most {} backtests may run at once",
                limits.max_concurrent
            ),
            retry_after: BUSY_RETRY,
        });
    }
    if usage.recent >= limits.max_daily {
        let frees = usage.oldest_recent.unwrap_or(now) + chrono::Duration::days(1);
        return Err(BacktestError::TooMany {
            why: format!("at most {} backtests a day", limits.max_daily),
            retry_after: (frees - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_secs(1)),
        });
    }
    Ok(())
}

/// One of the caller's runs, in full.
pub async fn get_run(pool: &Pool, user_id: Uuid, id: Uuid) -> Result<Value, BacktestError> {
    let client = pool.get().await.map_err(StorageError::from)?;
    let row = repo::get(&client, user_id, id).await?;
    row.map(view).ok_or(BacktestError::NotFound)
}

/// The caller's runs, newest first, without equity curves.
pub async fn list_runs(pool: &Pool, user_id: Uuid) -> Result<Value, BacktestError> {
    let client = pool.get().await.map_err(StorageError::from)?;
    let rows = repo::list(&client, user_id, LIST_LIMIT).await?;
    Ok(json!({"runs": rows.into_iter().map(view).collect::<Vec<_>>()}))
}

/// `{id, status, progress, request, created_at, finished_at}` and, once finished, the result's
/// fields (`bars, metrics, trades, equity_curve`) or the `reason` it failed.
fn view(row: RunRow) -> Value {
    let mut out = json!({
        "id": row.id,
        "status": row.status,
        "progress": row.progress,
        "request": row.request,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    });
    if let (Some(Value::Object(result)), Some(map)) = (row.result, out.as_object_mut()) {
        map.extend(result);
    }
    if let (Some(reason), Some(map)) = (row.reason, out.as_object_mut()) {
        map.insert("reason".into(), reason.into());
    }
    out
}
