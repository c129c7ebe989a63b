//! Submitting backtest jobs: [`submit_run`] (`POST /api/backtest`) and [`submit_sweep`]
//! (`POST /api/backtest/sweeps`), one protocol for both.
//!
//! 1. Parse the body (a 422 creates nothing, audits nothing).
//! 2. An equal job of the caller (same kind, same request as parsed) that is queued, running or
//!    succeeded within [`Limits::dedupe`] is answered instead of a new one: nothing is queued
//!    or audited.
//! 3. Check the caller's limits ([`Limits::max_queued`] queued, [`Limits::max_daily`] a day;
//!    `429` with `Retry-After` beyond), write the `backtest.run` audit row, then queue the job
//!    in one short transaction (the user's submissions serialised by an advisory lock, so the
//!    limits and the deduplication hold under concurrency).
//! 4. Wait up to [`Limits::wait`] for a worker to finish it, holding nothing meanwhile.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AuditClient, AuditEntry};
use raptor_actors::backtests::FinishedRuns;
use serde_json::{json, Value};
use uuid::Uuid;

use super::jobs::view;
use super::repo::{self, Kind, RunRow};
use super::sweep::SweepRequest;
use super::{BacktestError, BacktestRequest};
use crate::db::StorageError;

/// What bounds a user's backtests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bars one run may span.
    pub max_bars: u32,
    /// Jobs (runs and sweeps) queued at once, per user.
    pub max_queued: i64,
    /// Jobs per user in any 24 hours.
    pub max_daily: i64,
    /// How long a submission waits for its result before answering 202.
    pub wait: Duration,
    /// How long a succeeded job answers an equal request instead of a new one.
    pub dedupe: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bars: 1_000_000,
            max_queued: 20,
            max_daily: 50,
            wait: Duration::from_secs(2),
            dedupe: Duration::from_secs(600),
        }
    }
}

/// How long a caller over the queue limit is told to wait.
const BUSY_RETRY: Duration = Duration::from_secs(10);

pub struct SubmitDeps<'a> {
    pub pool: &'a Pool,
    pub audit: &'a AuditClient,
    pub finished: &'a FinishedRuns,
    pub limits: Limits,
    pub now: DateTime<Utc>,
}

/// A submitted job, as the caller sees it.
pub struct Submitted {
    /// The job in full once ended, else `{id, status, progress}`.
    pub job: Value,
    /// Whether it has ended.
    pub finished: bool,
    /// Whether it is an equal job submitted before (nothing new was queued).
    pub reused: bool,
}

/// Queues a backtest run.
pub async fn submit_run(
    deps: SubmitDeps<'_>,
    user_id: Uuid,
    audit: AuditEntry,
    body: &Value,
) -> Result<Submitted, BacktestError> {
    let request = BacktestRequest::parse(body, deps.limits.max_bars)?;
    let details = audit_details(&request, "run");
    submit(deps, user_id, audit, Kind::Run, request.to_json(), details).await
}

/// Queues a parameter sweep.
pub async fn submit_sweep(
    deps: SubmitDeps<'_>,
    user_id: Uuid,
    audit: AuditEntry,
    body: &Value,
) -> Result<Submitted, BacktestError> {
    let sweep = SweepRequest::parse(body, deps.limits.max_bars)?;
    let mut details = audit_details(&sweep.base, "sweep");
    details["combinations"] = json!(sweep.combinations.len());
    submit(deps, user_id, audit, Kind::Sweep, sweep.to_json(), details).await
}

/// Who ran what (never results).
fn audit_details(request: &BacktestRequest, kind: &str) -> Value {
    json!({
        "kind": kind,
        "symbol": request.symbol,
        "timeframe": request.timeframe.as_alpaca(),
        "start": request.start,
        "end": request.end,
        "strategy": request.strategy.name(),
    })
}

async fn submit(
    deps: SubmitDeps<'_>,
    user_id: Uuid,
    mut audit: AuditEntry,
    kind: Kind,
    request: Value,
    details: Value,
) -> Result<Submitted, BacktestError> {
    let since = deps.now - chrono::Duration::days(1);
    let fresh = deps.now - chrono::Duration::from_std(deps.limits.dedupe).unwrap_or_default();
    {
        let client = deps.pool.get().await.map_err(StorageError::from)?;
        if let Some(equal) = repo::find_equal(&client, user_id, kind, &request, fresh).await? {
            return Ok(answer(equal, true));
        }
        check_limits(
            &repo::usage(&client, user_id, since).await?,
            &deps.limits,
            deps.now,
        )?;
    }
    let id = Uuid::new_v4();
    audit.actor_user_id = Some(user_id);
    audit.subject = Some(id.to_string());
    audit.details = details;
    deps.audit.append(audit).await?;

    let mut waiter = deps.finished.subscribe();
    {
        let mut client = deps.pool.get().await.map_err(StorageError::from)?;
        let tx = client.transaction().await.map_err(StorageError::from)?;
        repo::lock_user(&tx, user_id).await?;
        if let Some(equal) = repo::find_equal(&tx, user_id, kind, &request, fresh).await? {
            return Ok(answer(equal, true));
        }
        check_limits(
            &repo::usage(&tx, user_id, since).await?,
            &deps.limits,
            deps.now,
        )?;
        repo::insert(&tx, id, user_id, kind, &request, deps.now).await?;
        tx.commit().await.map_err(StorageError::from)?;
    }
    waiter.wait_for(id, deps.limits.wait).await;
    let client = deps.pool.get().await.map_err(StorageError::from)?;
    let row = repo::get(&client, user_id, kind, id)
        .await?
        .ok_or(BacktestError::NotFound)?;
    Ok(answer(row, false))
}

fn answer(row: RunRow, reused: bool) -> Submitted {
    let finished = row.finished();
    let job = if finished {
        view(row)
    } else {
        json!({"id": row.id, "status": row.status, "progress": row.progress})
    };
    Submitted {
        job,
        finished,
        reused,
    }
}

fn check_limits(
    usage: &repo::Usage,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<(), BacktestError> {
    if usage.queued >= limits.max_queued {
        return Err(BacktestError::TooMany {
            why: format!(
                "at most {} backtests may wait in the queue",
                limits.max_queued
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
