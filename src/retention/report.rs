//! What `raptor retention report` shows: per table a job cleans, its row count, its oldest row
//! and the rows past their limit that no job has removed yet, and each job's last run. The
//! counts use the rules' own SQL (`super::rules`), so the report cannot disagree with the jobs.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::rules::rules;
use super::Job;
use crate::db::StorageError;

/// One line of the retention report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: i64,
    /// The oldest row's age column (e.g. `created_at`), if the table has rows.
    pub oldest: Option<DateTime<Utc>>,
    /// Rows past a retention limit that a job has not removed yet.
    pub due: i64,
    pub rule: String,
}

/// Tables no retention job cleans, shown so the report covers every table with personal data.
const KEPT: [(&str, &str, &str); 3] = [
    (
        "webauthn_credentials",
        "created_at",
        "passkeys: kept while the account lives; removed at erasure",
    ),
    (
        "orders",
        "created_at",
        "paper orders: kept; the user id is cleared when the user is purged",
    ),
    (
        "backtest_runs",
        "created_at",
        "backtest runs: deleted 90 days after creation by the backtest worker, and with the account",
    ),
];

/// Row counts, the oldest row and the rows past their limit, per table a job cleans, plus the
/// passkeys and orders (kept while the account lives).
pub async fn report(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Vec<TableReport>, StorageError> {
    let mut lines = Vec::new();
    for rule in Job::ALL.iter().flat_map(|&job| rules(job)) {
        let sql = format!(
            "SELECT count(*), min({age}), count(*) FILTER (WHERE {due}) FROM {table}",
            age = rule.age_column,
            due = rule.due,
            table = rule.table,
        );
        let row = client.query_one(&sql, &[&rule.keep.cutoff(now)]).await?;
        lines.push(TableReport {
            table: rule.table,
            rows: row.get(0),
            oldest: row.get(1),
            due: row.get(2),
            rule: rule.what.to_owned(),
        });
    }
    for (table, age, what) in KEPT {
        let row = client
            .query_one(&format!("SELECT count(*), min({age}) FROM {table}"), &[])
            .await?;
        lines.push(TableReport {
            table,
            rows: row.get(0),
            oldest: row.get(1),
            due: 0,
            rule: what.to_owned(),
        });
    }
    Ok(lines)
}

/// The most recent finished run of a job.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub job: String,
    pub tick: DateTime<Utc>,
    pub rows_removed: i64,
}

/// The most recent finished run of each job that ever ran.
pub async fn last_runs(client: &impl GenericClient) -> Result<Vec<LastRun>, StorageError> {
    let rows = client
        .query(
            "SELECT DISTINCT ON (job) job, tick, rows_removed FROM job_runs \
             WHERE finished_at IS NOT NULL ORDER BY job, tick DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LastRun {
            job: r.get(0),
            tick: r.get(1),
            rows_removed: r.get(2),
        })
        .collect())
}

/// `raptor retention report`'s whole view: the tables, then the jobs' last runs.
#[derive(Debug, Clone)]
pub struct Overview {
    /// One line per table a job cleans (and the tables kept while the account lives).
    pub tables: Vec<TableReport>,
    /// The most recent finished run of each job that ever ran.
    pub runs: Vec<LastRun>,
}

/// The tables' report and the jobs' last runs, read on one pooled connection.
pub async fn overview(
    pool: &deadpool_postgres::Pool,
    now: DateTime<Utc>,
) -> Result<Overview, StorageError> {
    let client = pool.get().await?;
    Ok(Overview {
        tables: report(&client, now).await?,
        runs: last_runs(&client).await?,
    })
}
