//! The pool through a transaction-mode PgBouncer (`DATABASE_CONNECTION_POOL_URL`, issue 25):
//! tokio-postgres's named statements, reused statements, cached statements and transactions
//! with transaction-scoped advisory locks all work from two "processes" at once, and the app's
//! own requests pass through it. Needs `TEST_PGBOUNCER_URL` (scripts/test.sh starts one); CI
//! always sets it, a run without it skips these tests with a note.

use std::time::Duration;

use deadpool_postgres::Pool;
use raptor::settings::DatabaseSsl;

use crate::helpers::{pooled_url, spawn_app, TestDb};

/// The test database through PgBouncer, or `None` (and a note) without `TEST_PGBOUNCER_URL`.
fn through_pgbouncer(db: &TestDb) -> Option<String> {
    let url = pooled_url(&db.url);
    if url.is_none() {
        eprintln!("TEST_PGBOUNCER_URL is not set: skipping (scripts/test.sh sets it)");
    }
    url
}

async fn migrated(db: &TestDb) {
    let direct = raptor::db::build_pool(&db.url, DatabaseSsl::Disable, 1).unwrap();
    raptor::db::migrate(&direct).await.unwrap();
}

/// Every kind of statement Raptor's repositories use, `rounds` times.
async fn workload(pool: Pool, worker: i64, rounds: i64) {
    for round in 0..rounds {
        let mut client = pool.get().await.expect("a pooled connection");
        let row = client
            .query_one("SELECT $1::bigint + $2::bigint", &[&worker, &round])
            .await
            .expect("a one-off statement");
        assert_eq!(row.get::<_, i64>(0), worker + round);
        let statement = client.prepare("SELECT $1::text || 'x'").await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.execute("SELECT pg_advisory_xact_lock(25)", &[])
            .await
            .unwrap();
        let text: String = tx
            .query_one(&statement, &[&format!("{worker}-{round}")])
            .await
            .unwrap()
            .get(0);
        assert_eq!(text, format!("{worker}-{round}x"));
        tx.commit().await.unwrap();
        // The same statement again, after its transaction, likely on another server connection.
        let again: String = client.query_one(&statement, &[&"y"]).await.unwrap().get(0);
        assert_eq!(again, "yx");
        let cached = client
            .prepare_cached("SELECT count(*) FROM shared_rate_limits WHERE hits > $1")
            .await
            .unwrap();
        client.query_one(&cached, &[&(round as i32)]).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_and_cached_statements_work_through_transaction_pooling_from_two_processes() {
    let db = TestDb::create().await;
    let Some(url) = through_pgbouncer(&db) else {
        return;
    };
    migrated(&db).await;
    // Two pools stand for two dynos: PgBouncer hands each one's transactions to whichever of
    // its few server connections is free.
    let pools: Vec<Pool> = (0..2)
        .map(|_| raptor::db::build_pooled(&url, DatabaseSsl::Disable, 4).unwrap())
        .collect();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let pool = pools[worker as usize % 2].clone();
        tasks.push(tokio::spawn(workload(pool, worker, 25)));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the workload finishes")
            .expect("no statement failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_adapter_named_statements_break_under_transaction_pooling() {
    // The reason for the adapter, shown on the same PgBouncer: tokio-postgres's named
    // statements, used from two pools at once, fail sooner or later.
    let db = TestDb::create().await;
    let Some(url) = through_pgbouncer(&db) else {
        return;
    };
    let mut failures = 0;
    let pools: Vec<Pool> = (0..2)
        .map(|_| raptor::db::build_pool(&url, DatabaseSsl::Disable, 4).unwrap())
        .collect();
    let mut tasks = Vec::new();
    for worker in 0..8i64 {
        let pool = pools[worker as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for round in 0..25i64 {
                let Ok(client) = pool.get().await else {
                    failed += 1;
                    continue;
                };
                if client
                    .query_one("SELECT $1::bigint + $2::bigint", &[&worker, &round])
                    .await
                    .is_err()
                {
                    failed += 1;
                }
            }
            failed
        }));
    }
    for task in tasks {
        failures += task.await.unwrap();
    }
    assert!(failures > 0, "PgBouncer is not pooling transactions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_uses_the_pooler_for_its_pool_and_the_direct_url_for_listen() {
    let app = spawn_app().await;
    if through_pgbouncer(&app.db).is_none() {
        return;
    }
    let user = app.sign_in("pooled@example.com", false).await;
    let session = app
        .authed(reqwest::Method::GET, "/api/auth/session", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    // Pooled connections name themselves `raptor-pooled` (PgBouncer passes the name on);
    // the direct ones (`raptor`) are the LISTEN connections and nothing else.
    let client = app.db.client().await;
    let rows = client
        .query(
            "SELECT application_name, query FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name LIKE 'raptor%'",
            &[],
        )
        .await
        .unwrap();
    let named = |name: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.get::<_, &str>(0) == name)
            .map(|r| r.get(1))
            .collect()
    };
    assert!(
        !named("raptor-pooled").is_empty(),
        "the pool goes through PgBouncer"
    );
    let direct = named("raptor");
    assert!(!direct.is_empty());
    assert!(
        direct.iter().all(|q| q.starts_with("LISTEN")),
        "direct connections only LISTEN: {direct:?}"
    );
}

/// Not a check: what the adapter and PgBouncer cost per statement, printed for
/// docs/capacity.md. `cargo nextest run --all-features --run-ignored only -E 'test(cost_of)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn cost_of_a_statement_direct_and_through_pgbouncer() {
    let db = TestDb::create().await;
    let Some(url) = through_pgbouncer(&db) else {
        return;
    };
    migrated(&db).await;
    let direct = raptor::db::build_pool(&db.url, DatabaseSsl::Disable, 1).unwrap();
    let pooled = raptor::db::build_pooled(&url, DatabaseSsl::Disable, 1).unwrap();
    for (name, pool) in [("direct", direct), ("pgbouncer + adapter", pooled)] {
        let client = pool.get().await.unwrap();
        let statement = client.prepare("SELECT $1::bigint + 1").await.unwrap();
        let rounds = 2_000i64;
        let started = std::time::Instant::now();
        for i in 0..rounds {
            client.query_one(&statement, &[&i]).await.unwrap();
        }
        let prepared = started.elapsed() / rounds as u32;
        let started = std::time::Instant::now();
        for i in 0..rounds {
            client
                .query_one("SELECT $1::bigint + 2", &[&i])
                .await
                .unwrap();
        }
        let one_off = started.elapsed() / rounds as u32;
        eprintln!("{name}: reused statement {prepared:?}, one-off statement {one_off:?}");
    }
}
