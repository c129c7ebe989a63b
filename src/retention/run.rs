//! One run of one job for one tick: claim it (`super::claim`), delete what its rules find due in
//! batches, record what was removed.
//!
//! Deletes go through a second pooled connection in batches of [`BATCH`] rows, each batch its
//! own short transaction, so no table or row stays locked for long and an interrupted run keeps
//! what it removed. Every rule deletes only what is past its limit, so running again after a
//! failure is harmless.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};

use super::claim::{self, Claimed};
use super::rules::{rules, Rule, AUDIT_RULES};
use super::{Job, RetentionError};

/// Rows removed by one statement.
pub const BATCH: i64 = 1000;

/// Rows one run removed from one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub table: &'static str,
    pub rows: u64,
}

/// What a call to [`run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This call ran the job for its tick.
    Ran(Vec<Removed>),
    /// Another worker is running this job right now.
    Busy,
    /// This tick was already run (here or by another worker).
    AlreadyRan,
}

impl Outcome {
    /// Rows removed by this call (0 unless it ran).
    pub fn rows(&self) -> u64 {
        match self {
            Outcome::Ran(removed) => removed.iter().map(|r| r.rows).sum(),
            _ => 0,
        }
    }
}

/// Runs `job` for `tick` unless another worker is running it or the tick already ran. Limits
/// are measured from `now` (the injected clock), so tests move time instead of waiting.
pub async fn run(
    pool: &Pool,
    job: Job,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Outcome, RetentionError> {
    let mut guard_connection = pool.get().await.map_err(RetentionError::claim)?;
    let claim = match claim::claim(&mut guard_connection, job, tick).await? {
        Claimed::Ours(claim) => claim,
        Claimed::Busy => return Ok(Outcome::Busy),
        Claimed::AlreadyRan => return Ok(Outcome::AlreadyRan),
    };

    let work = pool.get().await.map_err(RetentionError::claim)?;
    let (removed, details) = match job {
        Job::AuditRetention => trim_audit(&work, now).await?,
        _ => {
            let mut removed = Vec::new();
            for rule in rules(job) {
                let rows = delete_due(&work, rule, now)
                    .await
                    .map_err(|e| RetentionError::delete(rule.table, e))?;
                removed.push(Removed {
                    table: rule.table,
                    rows,
                });
            }
            (removed, serde_json::json!({}))
        }
    };
    drop(work);

    for r in removed.iter().filter(|r| r.rows > 0) {
        tracing::info!(
            job = job.name(),
            table = r.table,
            rows = r.rows,
            "rows removed"
        );
    }
    claim
        .finish(removed.iter().map(|r| r.rows).sum(), details)
        .await?;
    Ok(Outcome::Ran(removed))
}

/// Deletes the rows `rule` finds due at `now`, [`BATCH`] per statement, until none is left.
async fn delete_due(
    client: &impl GenericClient,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {due} LIMIT $2)",
        table = rule.table,
        key = rule.key,
        due = rule.due,
    );
    let statement = client.prepare_cached(&sql).await?;
    let cutoff = rule.keep.cutoff(now);
    let mut total = 0;
    loop {
        let rows = client.execute(&statement, &[&cutoff, &BATCH]).await?;
        total += rows;
        if rows < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Audit retention removes only a prefix of the chain, so `chain::verify` can trust the oldest
/// remaining row: every row before the first one younger than 7 years, and never the newest row
/// (the head the audit writer links the next row to). The boundary is fixed before deleting and
/// recorded as `trimmed_through`, which is how `raptor audit verify` tells retention from a
/// deletion behind the application's back (`audit::verify`).
async fn trim_audit(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<(Vec<Removed>, serde_json::Value), RetentionError> {
    let failed = |e| RetentionError::delete("audit_log", e);
    let cutoff = AUDIT_RULES[0].keep.cutoff(now);
    let keep_from: Option<i64> = client
        .query_one(
            "SELECT COALESCE((SELECT seq FROM audit_log WHERE occurred_at >= $1 ORDER BY seq LIMIT 1), \
             (SELECT max(seq) FROM audit_log))",
            &[&cutoff],
        )
        .await
        .map_err(failed)?
        .get(0);
    let Some(keep_from) = keep_from else {
        let none = Removed {
            table: "audit_log",
            rows: 0,
        };
        return Ok((vec![none], serde_json::json!({})));
    };
    let statement = client
        .prepare_cached(
            "DELETE FROM audit_log WHERE seq IN \
             (SELECT seq FROM audit_log WHERE seq < $1 ORDER BY seq LIMIT $2)",
        )
        .await
        .map_err(failed)?;
    let mut total = 0;
    loop {
        let rows = client
            .execute(&statement, &[&keep_from, &BATCH])
            .await
            .map_err(failed)?;
        total += rows;
        if rows < BATCH as u64 {
            break;
        }
    }
    let removed = Removed {
        table: "audit_log",
        rows: total,
    };
    Ok((
        vec![removed],
        serde_json::json!({ "trimmed_through": keep_from - 1 }),
    ))
}
