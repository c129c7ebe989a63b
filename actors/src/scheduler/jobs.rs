//! The retention jobs (SPEC §5): what each one removes, and how a run is made safe with several
//! worker dynos on one database.
//!
//! A run of job J for tick T:
//! 1. opens a *guard* transaction and takes `pg_try_advisory_xact_lock` for J: if another worker
//!    holds it, this one answers [`Outcome::Busy`] and does nothing;
//! 2. claims (J, T) in `job_runs` (primary key): if the tick was already recorded, by this
//!    worker or another, it answers [`Outcome::AlreadyRan`];
//! 3. deletes on a second connection in batches of [`BATCH`] rows, each batch its own short
//!    transaction, so no table or row stays locked for long and an interrupted run keeps what
//!    it removed;
//! 4. records the rows removed and commits the guard, which releases the lock.
//!
//! A run that fails rolls the guard back: nothing is recorded, the next tick tries again, and
//! since every rule deletes only what is past its limit, running again is harmless. The SQL of
//! every rule lives here, so the scheduler actor, `raptor retention report` and the tests all use
//! the same definitions.

use chrono::{DateTime, Months, Utc};
use deadpool_postgres::{GenericClient, Pool};

/// Rows removed by one statement.
pub const BATCH: i64 = 1000;
/// Days an erased account stays soft-deleted before the purge removes it.
pub const QUARANTINE_DAYS: u32 = 30;
/// Years an audit row is kept.
pub const AUDIT_YEARS: u32 = 7;
/// First key of every job's advisory lock ("job" in ASCII); the second is the job's number.
const LOCK_CLASS: i32 = 0x006a_6f62;

/// One scheduled job.
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
            Job::AuditRetention => "audit_retention",
            Job::OutboxPurge => "outbox_purge",
        }
    }

    fn lock_id(self) -> i32 {
        match self {
            Job::SessionPurge => 1,
            Job::TokenPurge => 2,
            Job::QuarantinePurge => 3,
            Job::AuditRetention => 4,
            Job::OutboxPurge => 5,
        }
    }

    /// The rules this job applies, in order.
    pub fn rules(self) -> &'static [Rule] {
        match self {
            Job::SessionPurge => &SESSION_RULES,
            Job::TokenPurge => &TOKEN_RULES,
            Job::QuarantinePurge => &QUARANTINE_RULES,
            Job::AuditRetention => &AUDIT_RULES,
            Job::OutboxPurge => &OUTBOX_RULES,
        }
    }
}

/// How long a row outlives the moment its rule measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Gone as soon as it is past (expired, used, revoked).
    Nothing,
    Days(u32),
    /// Calendar years, in UTC.
    Years(u32),
}

impl Keep {
    /// Rows whose measured time is before (or, for [`Keep::Nothing`], at) this instant are due.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Keep::Nothing => now,
            Keep::Days(days) => now - chrono::Duration::days(i64::from(days)),
            Keep::Years(years) => now
                .checked_sub_months(Months::new(12 * years))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// What one rule removes.
#[derive(Debug)]
pub struct Rule {
    /// The table it deletes from.
    pub table: &'static str,
    /// In words, for the report.
    pub what: &'static str,
    pub keep: Keep,
    /// The column whose oldest value `raptor retention report` shows.
    pub age_column: &'static str,
    /// Column that names a row for the batched delete.
    key: &'static str,
    /// Rows past the limit, with `$1` the cutoff of [`Rule::keep`].
    due: &'static str,
}

const SESSION_RULES: [Rule; 1] = [Rule {
    table: "sessions",
    what: "expired or revoked sessions",
    keep: Keep::Nothing,
    age_column: "created_at",
    key: "id",
    due: "revoked_at IS NOT NULL OR idle_expires_at <= $1 OR absolute_expires_at <= $1",
}];

const TOKEN_RULES: [Rule; 3] = [
    Rule {
        table: "ceremonies",
        what: "expired passkey ceremonies",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "expires_at <= $1",
    },
    Rule {
        table: "email_verifications",
        what: "used or expired email verification tokens",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "used_at IS NOT NULL OR expires_at <= $1",
    },
    Rule {
        table: "bootstrap_tokens",
        what: "used or expired bootstrap tokens",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "used_at IS NOT NULL OR expires_at <= $1",
    },
];

const QUARANTINE_RULES: [Rule; 1] = [Rule {
    table: "users",
    what:
        "users erased more than 30 days ago (cascades to their passkeys, sessions, tokens, emails)",
    keep: Keep::Days(QUARANTINE_DAYS),
    age_column: "created_at",
    key: "id",
    due: "deleted_at < $1",
}];

/// Audit rows are not deleted by this rule's `due` alone: see [`trim_audit`]. The rule still
/// describes them for the report.
const AUDIT_RULES: [Rule; 1] = [Rule {
    table: "audit_log",
    what: "audit rows older than 7 years",
    keep: Keep::Years(AUDIT_YEARS),
    age_column: "occurred_at",
    key: "seq",
    due: "occurred_at < $1",
}];

const OUTBOX_RULES: [Rule; 2] = [
    Rule {
        table: "email_outbox",
        what: "emails sent more than 30 days ago",
        keep: Keep::Days(30),
        age_column: "created_at",
        key: "id",
        due: "sent_at < $1",
    },
    Rule {
        table: "job_runs",
        what: "records of job runs older than a year",
        keep: Keep::Years(1),
        age_column: "tick",
        key: "ctid",
        due: "tick < $1",
    },
];

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

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("query failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Runs `job` for `tick` unless another worker is running it or the tick already ran. Limits
/// are measured from `now` (the injected clock), so tests move time instead of waiting.
pub async fn run(
    pool: &Pool,
    job: Job,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Outcome, JobError> {
    let mut guard_connection = pool.get().await?;
    let guard = guard_connection.transaction().await?;
    let locked: bool = guard
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1, $2)",
            &[&LOCK_CLASS, &job.lock_id()],
        )
        .await?
        .get(0);
    if !locked {
        return Ok(Outcome::Busy);
    }
    let claimed = guard
        .execute(
            "INSERT INTO job_runs (job, tick, started_at) VALUES ($1, $2, clock_timestamp()) \
             ON CONFLICT (job, tick) DO NOTHING",
            &[&job.name(), &tick],
        )
        .await?;
    if claimed == 0 {
        return Ok(Outcome::AlreadyRan);
    }

    let work = pool.get().await?;
    let (removed, details) = match job {
        Job::AuditRetention => trim_audit(&work, now).await?,
        _ => {
            let mut removed = Vec::new();
            for rule in job.rules() {
                let rows = delete_due(&work, rule, now).await?;
                removed.push(Removed {
                    table: rule.table,
                    rows,
                });
            }
            (removed, serde_json::json!({}))
        }
    };
    drop(work);

    let total: u64 = removed.iter().map(|r| r.rows).sum();
    for r in removed.iter().filter(|r| r.rows > 0) {
        tracing::info!(
            job = job.name(),
            table = r.table,
            rows = r.rows,
            "rows removed"
        );
    }
    guard
        .execute(
            "UPDATE job_runs SET finished_at = clock_timestamp(), rows_removed = $3, details = $4 \
             WHERE job = $1 AND tick = $2",
            &[&job.name(), &tick, &(total as i64), &details],
        )
        .await?;
    guard.commit().await?;
    Ok(Outcome::Ran(removed))
}

/// Deletes the rows `rule` finds due at `now`, [`BATCH`] per statement, until none is left.
async fn delete_due(
    client: &impl GenericClient,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<u64, JobError> {
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

/// Audit retention removes only a prefix of the chain, so [`chain::verify`] can trust the oldest
/// remaining row: every row before the first one younger than 7 years, and never the newest row
/// (the head the audit writer links the next row to). The boundary is fixed before deleting and
/// recorded as `trimmed_through`, which is how `raptor audit verify` tells retention from a
/// deletion behind the application's back.
///
/// [`chain::verify`]: crate::audit::chain::verify
async fn trim_audit(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<(Vec<Removed>, serde_json::Value), JobError> {
    let cutoff = AUDIT_RULES[0].keep.cutoff(now);
    let keep_from: Option<i64> = client
        .query_one(
            "SELECT COALESCE((SELECT seq FROM audit_log WHERE occurred_at >= $1 ORDER BY seq LIMIT 1), \
             (SELECT max(seq) FROM audit_log))",
            &[&cutoff],
        )
        .await?
        .get(0);
    let Some(keep_from) = keep_from else {
        return Ok((
            vec![Removed {
                table: "audit_log",
                rows: 0,
            }],
            serde_json::json!({}),
        ));
    };
    let statement = client
        .prepare_cached(
            "DELETE FROM audit_log WHERE seq IN \
             (SELECT seq FROM audit_log WHERE seq < $1 ORDER BY seq LIMIT $2)",
        )
        .await?;
    let mut total = 0;
    loop {
        let rows = client.execute(&statement, &[&keep_from, &BATCH]).await?;
        total += rows;
        if rows < BATCH as u64 {
            break;
        }
    }
    Ok((
        vec![Removed {
            table: "audit_log",
            rows: total,
        }],
        serde_json::json!({ "trimmed_through": keep_from - 1 }),
    ))
}

/// The highest audit `seq` that retention has been allowed to remove (rows up to it were older
/// than 7 years when it ran), or `None` if it never trimmed anything.
pub async fn audit_trimmed_through(
    client: &impl GenericClient,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT max((details->>'trimmed_through')::bigint) FROM job_runs \
             WHERE job = $1 AND finished_at IS NOT NULL",
            &[&Job::AuditRetention.name()],
        )
        .await?;
    Ok(row.get(0))
}

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

/// Row counts, the oldest row and the rows past their limit, per table a job cleans, plus the
/// user accounts and orders (kept while the account lives).
pub async fn report(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Vec<TableReport>, tokio_postgres::Error> {
    let mut lines = Vec::new();
    for rule in Job::ALL.iter().flat_map(|job| job.rules()) {
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
    for (table, age, what) in [
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
    ] {
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

/// The most recent finished run of each job: tick and rows removed.
pub async fn last_runs(
    client: &impl GenericClient,
) -> Result<Vec<(String, DateTime<Utc>, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT DISTINCT ON (job) job, tick, rows_removed FROM job_runs \
             WHERE finished_at IS NOT NULL ORDER BY job, tick DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
