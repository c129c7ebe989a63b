//! Audit throughput: rows/s appended by 64 concurrent callers through the real audit writer
//! (group commit; each caller awaits durability), next to one commit per row (the same
//! hash-chain work, a plain INSERT + COMMIT per row, 64 concurrent callers) measured in the
//! same run, and the group commit again with two writers sharing the chain (two dynos).
//! Goal (issue 15): the group commit at least 10× one commit per row.
//!
//! `cargo bench --bench audit` (release profile). Needs a PostgreSQL: `TEST_DATABASE_URL` (an
//! admin URL; default `postgres://postgres@127.0.0.1:5432/postgres`). It creates a database of
//! its own and drops it on exit. `AUDIT_BENCH_SECS` (default 5) is the length of each phase;
//! `AUDIT_BENCH_CALLERS` (default 64) the concurrent callers.
//!
//! Human-readable lines go to stderr; stdout gets one `name value baseline ratio` line per
//! figure, for `benches/load.sh` to collect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use deadpool_postgres::Pool;
use ractor::Actor;
use raptor::db;
use raptor::settings::DatabaseSsl;
use raptor_actors::audit::chain::{self, link_hash, ChainReport, ChainedRow, GENESIS_HASH};
use raptor_actors::audit::{AuditArgs, AuditClient, AuditEntry, AuditWriter};
use raptor_actors::clock::{Clock, SystemClock};

/// The advisory lock key the audit writer serialises the chain with (same value).
const CHAIN_LOCK_KEY: i64 = 0x0061_7564_6974;
/// Connections of the one-commit-per-row baseline's pool: the chain lock lets one transaction
/// through at a time, so more would only queue inside Postgres.
const BASELINE_CONNECTIONS: usize = 16;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

fn entry(caller: usize, n: u64) -> AuditEntry {
    let mut entry = AuditEntry::new("bench.audit");
    entry.actor_user_id = Some(uuid::Uuid::new_v4());
    entry.ip_prefix = Some("203.0.113.0/24".into());
    entry.request_id = Some(uuid::Uuid::new_v4().to_string());
    entry.details = serde_json::json!({"caller": caller, "n": n});
    entry
}

/// Runs `callers` loops of `append` for `window`; returns rows/s and appends' p99 (ms).
async fn drive<F, Fut>(callers: usize, window: Duration, append: F) -> (f64, f64)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let append = Arc::new(append);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + window;
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let append = append.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    append(caller, n).await;
                    latencies.push(t.elapsed());
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("caller task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let p99 = latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    (done.load(Ordering::Relaxed) as f64 / elapsed, p99)
}

/// One row in its own transaction: lock the chain, read the head, link, insert, commit.
async fn commit_one(pool: &Pool, entry: AuditEntry) {
    let mut client = pool.get().await.expect("baseline connection");
    let tx = client.transaction().await.expect("begin");
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK_KEY])
        .await
        .expect("chain lock");
    let head = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .expect("chain head");
    let (seq, prev_hash) = head
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
        .unwrap_or((0, GENESIS_HASH.to_owned()));
    let row = ChainedRow {
        seq: seq + 1,
        occurred_at: SystemClock.now(),
        event: entry.event.to_owned(),
        actor_user_id: entry.actor_user_id,
        subject: entry.subject,
        ip_prefix: entry.ip_prefix,
        request_id: entry.request_id,
        details: entry.details.to_string(),
    };
    let hash = link_hash(&prev_hash, &row);
    tx.execute(
        "INSERT INTO audit_log (seq, occurred_at, event, actor_user_id, subject, ip_prefix, \
         request_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &row.seq,
            &row.occurred_at,
            &row.event,
            &row.actor_user_id,
            &row.subject,
            &row.ip_prefix,
            &row.request_id,
            &row.details,
            &prev_hash,
            &hash,
        ],
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
}

/// The chain head's sequence number (0 when empty).
async fn head(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT coalesce(max(seq), 0) FROM audit_log", &[])
        .await
        .expect("chain head")
        .get(0)
}

/// Rows per transaction since `after`: the writer stamps one time on every row of a commit.
async fn rows_per_commit(client: &tokio_postgres::Client, after: i64) -> f64 {
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT occurred_at) FROM audit_log WHERE seq > $1",
            &[&after],
        )
        .await
        .expect("commit count");
    let (rows, commits): (i64, i64) = (row.get(0), row.get(1));
    rows as f64 / commits.max(1) as f64
}

async fn writer(pool: &Pool) -> AuditClient {
    let args = AuditArgs {
        pool: pool.clone(),
        clock: Arc::new(SystemClock),
        head_log_every: None,
    };
    let (writer, _) = Actor::spawn(None, AuditWriter, args)
        .await
        .expect("audit writer starts");
    AuditClient::unsupervised(writer)
}

/// Group commit through `writers` audit writers (one per simulated dyno), callers spread
/// evenly across them.
async fn group_commit(url: &str, writers: usize, callers: usize, window: Duration) -> (f64, f64) {
    let mut clients = Vec::new();
    for _ in 0..writers {
        let pool = db::build_pool(url, DatabaseSsl::Disable, 4).expect("pool");
        clients.push(writer(&pool).await);
    }
    let clients = Arc::new(clients);
    drive(callers, window, move |caller, n| {
        let clients = clients.clone();
        async move {
            clients[caller % clients.len()]
                .append(entry(caller, n))
                .await
                .expect("append is durable");
        }
    })
    .await
}

/// A database of the bench's own, dropped on drop (also when the bench panics).
struct BenchDb {
    admin: String,
    name: String,
    url: String,
}

impl BenchDb {
    async fn create(admin: &str) -> Self {
        let name = format!("raptor_bench_audit_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("TEST_DATABASE_URL must point at a running PostgreSQL");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the bench database");
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            admin: admin.to_owned(),
            name,
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run while the runtime unwinds: a runtime of its own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let dropped = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                    if dropped.is_err() {
                        eprintln!("audit bench: could not drop database {name}");
                    }
                }
            });
        })
        .join();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let window = Duration::from_secs(env_number("AUDIT_BENCH_SECS", 5).min(120));
    let callers = env_number("AUDIT_BENCH_CALLERS", 64) as usize;
    let database = BenchDb::create(&admin).await;
    let setup = db::build_pool(&database.url, DatabaseSsl::Disable, 2).expect("pool");
    db::migrate(&setup).await.expect("migrations apply");

    eprintln!(
        "audit: {callers} callers, {} s per phase, {} cores, {}",
        window.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    let client = setup.get().await.expect("connection");
    let baseline_pool =
        db::build_pool(&database.url, DatabaseSsl::Disable, BASELINE_CONNECTIONS).expect("pool");
    let (per_row, per_row_p99) = drive(callers, window, move |caller, n| {
        let pool = baseline_pool.clone();
        async move { commit_one(&pool, entry(caller, n)).await }
    })
    .await;
    eprintln!("  one commit per row:        {per_row:>9.0} rows/s, p99 {per_row_p99:>6.1} ms");
    let mut from = head(&client).await;
    let (group, group_p99) = group_commit(&database.url, 1, callers, window).await;
    let per_commit = rows_per_commit(&client, from).await;
    eprintln!(
        "  group commit, one writer:  {group:>9.0} rows/s, p99 {group_p99:>6.1} ms, \
         {per_commit:.1} rows per commit"
    );
    from = head(&client).await;
    let (two, two_p99) = group_commit(&database.url, 2, callers, window).await;
    let per_commit = rows_per_commit(&client, from).await;
    eprintln!(
        "  group commit, two writers: {two:>9.0} rows/s, p99 {two_p99:>6.1} ms, \
         {per_commit:.1} rows per commit"
    );
    match chain::verify(&client).await.expect("chain walk") {
        ChainReport::Intact { rows } => eprintln!("  chain intact: {rows} rows"),
        ChainReport::Broken { seq, reason } => panic!("the chain broke at {seq}: {reason}"),
    }
    drop(client);
    setup.close();

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!(
        "audit_rows_per_s {group:.0} {per_row:.0} {:.2}",
        ratio(group, per_row)
    );
    println!(
        "audit_rows_per_s_two_writers {two:.0} {per_row:.0} {:.2}",
        ratio(two, per_row)
    );
    println!(
        "audit_append_p99_ms {group_p99:.2} {per_row_p99:.2} {:.2}",
        ratio(group_p99, per_row_p99)
    );
    drop(database);
}
