//! The outbound budget over the account's shared budget in a real Postgres (`TEST_DATABASE_URL`,
//! as the integration tests use), each test in a database of its own made by the migration that
//! creates the budget's tables (`migrations/V16__many_dynos.sql`, which needs nothing earlier).
//!
//! A test that reaches Postgres inside [`OutboundBudget::acquire`] runs on the real clock: a
//! paused clock would jump to `acquire`'s own timeout while the database answers. Tests of a
//! bound (a wait that ends exactly at the deadline) run on a paused clock and reach Postgres
//! only where no timer is pending, or where the timeout is meant to win.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicUsize;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::FutureExt;

use super::*;

/// The migration that creates `outbound_leases`, `outbound_pauses` and `outbound_lease`.
const MIGRATION: &str = include_str!("../../../migrations/V16__many_dynos.sql");

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("TEST_DATABASE_URL must point at a running PostgreSQL");
    tokio::spawn(connection);
    client
}

/// A pool over `url` with no timers of its own (a paused clock would fire them at once).
pub(super) fn pool_at(url: &str) -> Pool {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(4)
        .runtime(Runtime::Tokio1)
        .build()
        .unwrap()
}

/// Runs `test` on a pool over a fresh database holding the budget's tables, and drops the
/// database afterwards, whether `test` passed or panicked.
pub(super) async fn with_fresh_pool<F: std::future::Future<Output = ()>>(
    test: impl FnOnce(Pool) -> F,
) {
    let name = format!("raptor_outbound_{}", uuid::Uuid::new_v4().simple());
    admin()
        .await
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let admin_url = admin_url();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let pool = pool_at(&format!("{base}/{name}"));
    let outcome = AssertUnwindSafe(async {
        pool.get()
            .await
            .unwrap()
            .batch_execute(MIGRATION)
            .await
            .unwrap();
        test(pool.clone()).await;
    })
    .catch_unwind()
    .await;
    pool.close();
    let _ = admin()
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// How many leases were granted, and how many sends they hold now.
pub(super) async fn leases(pool: &Pool) -> (i64, i64) {
    let row = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*), coalesce(sum(granted), 0)::BIGINT FROM outbound_leases",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn budget(limit: u32, max_wait: Duration) -> OutboundBudget {
    OutboundBudget::new(BudgetPolicy {
        limit,
        reserved_for_trading: 0,
        window: Duration::from_secs(60),
        max_wait,
    })
}

#[tokio::test]
async fn acquire_spends_the_account_budget_before_this_process_window() {
    with_fresh_pool(|pool| async move {
        // This process's own window would refuse the second request (60 s away, 5 s allowed).
        let account = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        let budget = budget(1, Duration::from_secs(5)).with_account(account);
        assert!(budget.account().is_some());
        for _ in 0..3 {
            assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
        }
        // Two leases of two sends each (trading's block).
        assert_eq!(leases(&pool).await, (2, 4));
    })
    .await;
}

#[tokio::test]
async fn a_full_account_refuses_with_a_whole_minute_at_most_and_no_fallback() {
    with_fresh_pool(|pool| async move {
        let account = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(2, 0));
        // This process's window has room: the account's answer, not the window, decides.
        let budget = budget(10, Duration::from_secs(5)).with_account(account);
        assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
        assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
        // The next lease is about 63 s away (window, lease time, a second): a retry after 60 s.
        assert_eq!(
            budget.acquire(Lane::Trading).await,
            Err(Duration::from_secs(60))
        );
        assert_eq!(leases(&pool).await, (1, 2));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_ends_exactly_at_the_deadline_is_waited_for() {
    with_fresh_pool(|pool| async move {
        let max_wait = Duration::from_secs(10);
        let account = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        // Alpaca asked for exactly the caller's bound (here: no timer runs while Postgres
        // answers, so the paused clock stands still).
        account
            .pause(&[Lane::Trading], Instant::now() + max_wait)
            .await
            .unwrap();
        let budget = budget(1, max_wait).with_account(account);
        let start = Instant::now();
        // Waited for, then the account has no time left to answer and this process's own
        // window serves the request.
        assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
        assert_eq!(Instant::now(), start + max_wait);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_the_deadline_is_refused_at_once() {
    with_fresh_pool(|pool| async move {
        let account = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        account
            .pause(&[Lane::Trading], Instant::now() + Duration::from_secs(25))
            .await
            .unwrap();
        let budget = budget(10, Duration::from_secs(10)).with_account(account);
        let start = Instant::now();
        assert_eq!(
            budget.acquire(Lane::Trading).await,
            Err(Duration::from_secs(25))
        );
        assert_eq!(Instant::now(), start, "refused without waiting");
    })
    .await;
}

#[test]
fn a_retry_after_is_whole_seconds_between_one_and_sixty() {
    assert_eq!(retry_after(Duration::ZERO), Duration::from_secs(1));
    assert_eq!(
        retry_after(Duration::from_millis(1)),
        Duration::from_secs(1)
    );
    assert_eq!(
        retry_after(Duration::from_millis(2_001)),
        Duration::from_secs(3)
    );
    assert_eq!(retry_after(Duration::from_secs(7)), Duration::from_secs(7));
    assert_eq!(
        retry_after(Duration::from_secs(3_600)),
        Duration::from_secs(60)
    );
}

#[test]
fn a_local_pause_that_ends_exactly_now_is_over() {
    let budget = budget(10, Duration::ZERO);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("retry-after", "3".parse().unwrap());
    budget.observe(429, &headers);
    let until = budget.lock().paused_until[Lane::Trading.index()].expect("paused");
    assert_eq!(budget.local_pause(Lane::Trading, until), None);
    assert_eq!(
        budget.local_pause(Lane::Trading, until - Duration::from_secs(2)),
        Some(Duration::from_secs(2))
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_lane_is_refused_with_its_retry_after() {
    let budget = budget(10, Duration::from_secs(30));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("retry-after", "3".parse().unwrap());
    budget.observe(429, &headers);
    assert_eq!(
        budget.acquire(Lane::Trading).await,
        Err(Duration::from_secs(3))
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
}

/// Counts the warnings of this module's code on the current thread.
struct Warnings(Arc<AtomicUsize>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event
            .metadata()
            .target()
            .starts_with(module_path!().trim_end_matches("::postgres_tests"))
        {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn an_unreachable_account_falls_back_to_this_process_window_and_says_so_once() {
    let warnings = Arc::new(AtomicUsize::new(0));
    let _guard = tracing::subscriber::set_default(Warnings(warnings.clone()));
    // Nothing listens on port 1: every lease fails at once.
    let account = AccountBudget::new(
        pool_at("postgres://postgres@127.0.0.1:1/postgres"),
        AccountPolicy::per_minute(10, 0),
    );
    let budget = budget(2, Duration::ZERO).with_account(account);
    assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
    assert_eq!(warnings.load(Ordering::Relaxed), 1, "the outage is logged");
    assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
    assert!(
        budget.acquire(Lane::Trading).await.is_err(),
        "the window is spent"
    );
    assert_eq!(warnings.load(Ordering::Relaxed), 1, "once per outage");
}
