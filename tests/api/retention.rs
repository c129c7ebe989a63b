//! The worker's retention jobs (SPEC §5): every rule at its boundary, each tick once across
//! workers, failures retried, and the operator's views (`raptor retention report`,
//! `raptor audit verify`). Time is moved, never waited for: rows are written with timestamps
//! relative to a chosen `now`, and the jobs are handed that `now`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Months, SubsecRound, TimeZone, Utc};
use deadpool_postgres::Pool;
use raptor::retention::{self, Job, Keep, Outcome};
use raptor::{db, Application};
use raptor_actors::audit::chain::{self, ChainReport};
use raptor_actors::audit::{AuditEntry, AuditMsg};
use raptor_actors::clock::OffsetClock;
use raptor_actors::supervisor::Mode;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app, test_settings, TestApp, TEST_SECRET_KEY};

const SECOND: chrono::Duration = chrono::Duration::seconds(1);

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

/// A fixed instant, in whole microseconds like everything stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub async fn pool(app: &TestApp, size: usize) -> Pool {
    db::build_pool(&app.db.url, raptor::settings::DatabaseSsl::Disable, size).expect("pool")
}

/// Runs `job` for a fresh tick and returns the rows it removed.
pub async fn run_job(pool: &Pool, job: Job, now: DateTime<Utc>) -> u64 {
    let tick = Utc::now() + chrono::Duration::microseconds(rand_micros());
    match retention::run(pool, job, tick, now)
        .await
        .expect("job runs")
    {
        outcome @ Outcome::Ran(_) => outcome.rows(),
        other => panic!("{job:?} did not run: {other:?}"),
    }
}

fn rand_micros() -> i64 {
    i64::from(Uuid::new_v4().as_u128() as u32)
}

pub async fn insert_user(
    client: &tokio_postgres::Client,
    email: &str,
    deleted_at: Option<DateTime<Utc>>,
) -> Uuid {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO users (id, email, email_verified_at, created_at, deleted_at) VALUES ($1, $2, now(), now(), $3)",
            &[&id, &email, &deleted_at],
        )
        .await
        .unwrap();
    id
}

async fn insert_session(
    client: &tokio_postgres::Client,
    user_id: Uuid,
    idle_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
) -> Uuid {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at) \
             VALUES ($1, gen_random_uuid()::text, $2, now(), now(), $3, $4, $5)",
            &[&id, &user_id, &idle_expires_at, &absolute_expires_at, &revoked_at],
        )
        .await
        .unwrap();
    id
}

/// `n` sessions that expired an hour before `now`.
async fn insert_expired_sessions(
    client: &tokio_postgres::Client,
    user_id: Uuid,
    n: i64,
    now: DateTime<Utc>,
) {
    client
        .execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
             SELECT gen_random_uuid(), gen_random_uuid()::text, $1, $2::timestamptz - interval '1 day', \
             $2::timestamptz - interval '1 day', $2::timestamptz - interval '1 hour', \
             $2::timestamptz + interval '1 day' FROM generate_series(1, $3::bigint)",
            &[&user_id, &now, &n],
        )
        .await
        .unwrap();
}

async fn ids(client: &tokio_postgres::Client, sql: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_purged_the_moment_they_expire_or_are_revoked_and_not_before() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 4).await;
    let now = now();
    let later = now + days(1);
    let user = insert_user(&client, "ada@example.com", None).await;

    // Just inside and just past each limit: idle expiry, absolute cap, revocation.
    let live = insert_session(&client, user, now + SECOND, later, None).await;
    insert_session(&client, user, now - SECOND, later, None).await;
    insert_session(&client, user, now, later, None).await;
    let capped_soon = insert_session(&client, user, later, now + SECOND, None).await;
    insert_session(&client, user, later, now - SECOND, None).await;
    insert_session(&client, user, later, later, Some(now - days(1))).await;
    // More than one batch of expired sessions.
    insert_expired_sessions(&client, user, 2 * retention::BATCH + 500, now).await;

    let removed = run_job(&pool, Job::SessionPurge, now).await;
    assert_eq!(removed, 2 * retention::BATCH as u64 + 500 + 4);
    assert_eq!(
        ids(&client, "SELECT id FROM sessions").await,
        sorted(vec![live, capped_soon])
    );
    assert_eq!(
        run_job(&pool, Job::SessionPurge, now).await,
        0,
        "running again is harmless"
    );

    // One second later both survivors are past their limits.
    assert_eq!(run_job(&pool, Job::SessionPurge, now + SECOND).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremonies_and_used_or_expired_tokens_are_purged_at_expiry() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 4).await;
    let now = now();
    let user = insert_user(&client, "ada@example.com", None).await;

    let mut keep = Vec::new();
    let mut gone = Vec::new();
    for (expires_at, kept) in [(now + SECOND, true), (now, false), (now - SECOND, false)] {
        let id = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO ceremonies (id, kind, state, created_at, expires_at) VALUES ($1, 'discoverable', '{}', $2, $3)",
                &[&id, &(expires_at - chrono::Duration::minutes(5)), &expires_at],
            )
            .await
            .unwrap();
        if kept {
            keep.push(id)
        } else {
            gone.push(id)
        }
    }
    for (expires_at, used_at, kept) in [
        (now + SECOND, None, true),
        (now - SECOND, None, false),
        (now + days(1), Some(now - SECOND), false),
    ] {
        let (verification, bootstrap) = (Uuid::new_v4(), Uuid::new_v4());
        client
            .execute(
                "INSERT INTO email_verifications (id, user_id, token_hash, created_at, expires_at, used_at) VALUES ($1, $2, gen_random_uuid()::text, $3, $4, $5)",
                &[&verification, &user, &(now - days(1)), &expires_at, &used_at],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO bootstrap_tokens (id, token_hash, created_at, expires_at, used_at) VALUES ($1, gen_random_uuid()::text, $2, $3, $4)",
                &[&bootstrap, &(now - days(1)), &expires_at, &used_at],
            )
            .await
            .unwrap();
        if kept {
            keep.extend([verification, bootstrap]);
        } else {
            gone.extend([verification, bootstrap]);
        }
    }

    assert_eq!(
        run_job(&pool, Job::TokenPurge, now).await,
        gone.len() as u64
    );
    let left = ids(
        &client,
        "SELECT id FROM ceremonies UNION ALL SELECT id FROM email_verifications UNION ALL SELECT id FROM bootstrap_tokens",
    )
    .await;
    assert_eq!(left, sorted(keep));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_users_are_hard_deleted_thirty_days_later_with_their_data_but_not_their_audit_rows()
{
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 4).await;
    let now = now();
    let quarantine = days(30);
    let live = insert_user(&client, "live@example.com", None).await;
    let recent = insert_user(
        &client,
        "recent@example.com",
        Some(now - quarantine + SECOND),
    )
    .await;
    let due = insert_user(&client, "due@example.com", Some(now - quarantine - SECOND)).await;

    // Everything that hangs off the user due for purge.
    insert_session(&client, due, now + days(1), now + days(1), None).await;
    client
        .execute(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, passkey, name, backup_eligible, backup_state, created_at) \
             VALUES (gen_random_uuid(), $1, 'cred-1', '{}', 'Passkey', false, false, now())",
            &[&due],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, sent_at) \
             VALUES (gen_random_uuid(), 'verify_email', $1, 'due@example.com', now(), now(), now())",
            &[&due],
        )
        .await
        .unwrap();
    let order = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO orders (id, user_id, client_order_id, symbol, side, request, status, created_at, updated_at) \
             VALUES ($1, $2, 'coid-1', 'AAPL', 'buy', '{}', 'accepted', now(), now())",
            &[&order, &due],
        )
        .await
        .unwrap();
    // Paper books last changed 7 years ago: a purged account's goes with the purge, a live
    // account's stays.
    for owner in [due, live] {
        client
            .execute(
                "INSERT INTO books (user_id, initial_cash, cash, opened_at, updated_at) \
                 VALUES ($1, 1, 1, now() - interval '7 years', now() - interval '7 years')",
                &[&owner],
            )
            .await
            .unwrap();
    }
    let mut entry = AuditEntry::new("dsr.erase");
    entry.actor_user_id = Some(due);
    entry.subject = Some(due.to_string());
    app.app()
        .actors()
        .audit
        .slot()
        .ask(
            |reply| AuditMsg::Append(entry, reply),
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .unwrap();

    assert_eq!(run_job(&pool, Job::QuarantinePurge, now).await, 2);
    let books: Vec<Uuid> = client
        .query("SELECT user_id FROM books", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(books, [live], "a purged account's book goes after 6 years");
    assert_eq!(
        ids(&client, "SELECT id FROM users").await,
        sorted(vec![live, recent])
    );
    for table in ["sessions", "webauthn_credentials", "email_outbox"] {
        assert_eq!(
            count(&client, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} rows cascade with the user"
        );
    }
    let order_owner: Option<Uuid> = client
        .query_one("SELECT user_id FROM orders WHERE id = $1", &[&order])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        order_owner,
        Some(due),
        "the paper ledger keeps the order under the pseudonymous id"
    );
    let pseudonymous: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1",
            &[&due],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        pseudonymous, 1,
        "audit rows keep the user's id as a pseudonym"
    );
    assert_eq!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { rows: 1 }
    );

    // Two seconds later the second erased user is past the quarantine too.
    assert_eq!(
        run_job(&pool, Job::QuarantinePurge, now + SECOND * 2).await,
        1
    );
    assert_eq!(ids(&client, "SELECT id FROM users").await, vec![live]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_emails_are_purged_thirty_days_after_sending() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 4).await;
    let now = now();
    let user = insert_user(&client, "ada@example.com", None).await;
    let mut keep = Vec::new();
    for (sent_at, kept) in [
        (Some(now - days(30) + SECOND), true),
        (Some(now - days(30) - SECOND), false),
        // Unsent for 60 days: given up (`tests/api/gdpr.rs` has the 3-day boundary).
        (None, false),
    ] {
        let id = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, sent_at) \
                 VALUES ($1, 'verify_email', $2, 'ada@example.com', $3, $3, $4)",
                &[&id, &user, &(now - days(60)), &sent_at],
            )
            .await
            .unwrap();
        if kept {
            keep.push(id);
        }
    }
    // The same job keeps a year of its own records.
    let year_ago = Keep::Years(1).cutoff(now);
    for tick in [year_ago + SECOND, year_ago - SECOND] {
        client
            .execute(
                "INSERT INTO job_runs (job, tick, started_at, finished_at) VALUES ('test', $1, $1, $1)",
                &[&tick],
            )
            .await
            .unwrap();
    }
    assert_eq!(run_job(&pool, Job::OutboxPurge, now).await, 3);
    assert_eq!(
        ids(&client, "SELECT id FROM email_outbox").await,
        sorted(keep)
    );
    let ticks: Vec<DateTime<Utc>> = client
        .query("SELECT tick FROM job_runs WHERE job = 'test'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ticks, vec![year_ago + SECOND]);
}

#[test]
fn a_malformed_schedule_stops_startup_naming_the_variable() {
    let error = raptor::Settings::load(|key| match key {
        "APP_ENV" => Some("test".into()),
        "DATABASE_URL" => Some("postgres://localhost/x".into()),
        "SECRET_KEY" => Some(TEST_SECRET_KEY.into()),
        "SCHEDULE_AUDIT_RETENTION" => Some("*/10 * * * *".into()),
        _ => None,
    })
    .expect_err("a five-field pattern is refused");
    assert_eq!(error.variable, "SCHEDULE_AUDIT_RETENTION");
}

/// Appends one audit row through the app's writer (stamped by the app's clock); returns its
/// seq and timestamp.
async fn append(app: &TestApp, event: &'static str) -> (i64, DateTime<Utc>) {
    let seq = app
        .app()
        .actors()
        .audit
        .slot()
        .ask(
            |reply| AuditMsg::Append(AuditEntry::new(event), reply),
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .unwrap();
    let at = app
        .db
        .client()
        .await
        .query_one("SELECT occurred_at FROM audit_log WHERE seq = $1", &[&seq])
        .await
        .unwrap()
        .get(0);
    (seq, at)
}

async fn seqs(client: &tokio_postgres::Client) -> Vec<i64> {
    client
        .query("SELECT seq FROM audit_log ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Writes audit rows at 2019-06-15 12:00, +1 min, +2 min (a date far from any month's end, so
/// calendar arithmetic is exact) and one now.
async fn old_audit_rows(app: &TestApp) -> [(i64, DateTime<Utc>); 4] {
    let past = Utc.with_ymd_and_hms(2019, 6, 15, 12, 0, 0).unwrap();
    let back = past - Utc::now();
    app.clock.advance(back);
    let r1 = append(app, "test.old").await;
    app.clock.advance(chrono::Duration::minutes(1));
    let r2 = append(app, "test.old").await;
    app.clock.advance(chrono::Duration::minutes(1));
    let r3 = append(app, "test.old").await;
    app.clock.advance(-back - chrono::Duration::minutes(2));
    let r4 = append(app, "test.now").await;
    [r1, r2, r3, r4]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_are_kept_seven_years_and_trimmed_from_the_start_of_the_chain() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 4).await;
    let [r1, r2, r3, r4] = old_audit_rows(&app).await;

    // Exactly seven years after r2: r2 is not older than seven years yet, r1 is.
    let now = r2.1.checked_add_months(Months::new(84)).unwrap();
    assert_eq!(Keep::Years(7).cutoff(now), r2.1);
    assert_eq!(run_job(&pool, Job::AuditRetention, now).await, 1);
    assert!(r1.0 < r2.0);
    assert_eq!(seqs(&client).await, vec![r2.0, r3.0, r4.0]);
    assert_eq!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { rows: 3 }
    );

    // One second later r2 is past the limit; r3 (a minute younger) is not.
    assert_eq!(run_job(&pool, Job::AuditRetention, now + SECOND).await, 1);
    assert_eq!(seqs(&client).await, vec![r3.0, r4.0]);

    // Far in the future everything is old, but the chain's head stays for the next link.
    assert_eq!(
        run_job(&pool, Job::AuditRetention, Utc::now() + days(365 * 20)).await,
        1
    );
    assert_eq!(seqs(&client).await, vec![r4.0]);
    let (seq, _) = append(&app, "test.after").await;
    assert_eq!(seq, r4.0 + 1, "the chain continues from the kept head");
    assert_eq!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { rows: 2 }
    );
    assert!(
        raptor_cli(&app, &["audit", "verify"]).await.0,
        "trimmed chain verifies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_of_one_tick_remove_each_row_once() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let pool = pool(&app, 12).await;
    let now = now();
    let user = insert_user(&client, "ada@example.com", None).await;
    insert_expired_sessions(&client, user, 2500, now).await;
    let tick = Utc.with_ymd_and_hms(2030, 1, 1, 0, 10, 0).unwrap();

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { retention::run(&pool, Job::SessionPurge, tick, now).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().expect("no run fails"));
    }
    let ran: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Ran(_)))
        .collect();
    assert_eq!(
        ran.len(),
        1,
        "exactly one worker ran the tick: {outcomes:?}"
    );
    assert_eq!(ran[0].rows(), 2500);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Ran(_) | Outcome::Busy | Outcome::AlreadyRan)));

    // A late worker firing for the same tick finds it done.
    assert_eq!(
        retention::run(&pool, Job::SessionPurge, tick, now)
            .await
            .unwrap(),
        Outcome::AlreadyRan
    );
    let runs = client
        .query(
            "SELECT rows_removed FROM job_runs WHERE job = 'session_purge' AND tick = $1 AND finished_at IS NOT NULL",
            &[&tick],
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].get::<_, i64>(0), 2500);
}

/// A worker dyno (`raptor worker`) on the app's database with every job due every second.
async fn spawn_worker(app: &TestApp, overrides: &[(&str, &str)]) -> Application {
    let mut vars = vec![
        ("SCHEDULE_SESSION_PURGE", "* * * * * *"),
        ("SCHEDULE_TOKEN_PURGE", "* * * * * *"),
        ("SCHEDULE_QUARANTINE_PURGE", "* * * * * *"),
        ("SCHEDULE_AUDIT_RETENTION", "* * * * * *"),
        ("SCHEDULE_OUTBOX_PURGE", "* * * * * *"),
    ];
    vars.extend_from_slice(overrides);
    let settings = test_settings(&app.db.url, &vars);
    Application::build_with_clock(settings, Mode::Worker, Arc::new(OffsetClock::default()))
        .await
        .expect("worker starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_worker_dynos_run_each_tick_of_each_job_once() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let user = insert_user(&client, "ada@example.com", None).await;
    insert_expired_sessions(&client, user, 2500, now()).await;

    let workers = [
        spawn_worker(&app, &[("DATABASE_POOL_SIZE", "4")]).await,
        spawn_worker(&app, &[("DATABASE_POOL_SIZE", "4")]).await,
    ];
    eventually(
        Duration::from_secs(15),
        "the expired sessions are purged",
        || async {
            (count(&app.db.client().await, "SELECT count(*) FROM sessions").await == 0)
                .then_some(())
        },
    )
    .await;
    // Let both workers compete for a few more ticks of every job due every second (the daily
    // jobs, the book snapshot and the asset refresh, may run too, depending on the hour).
    eventually(
        Duration::from_secs(15),
        "three more ticks of every job",
        || async {
            let c = app.db.client().await;
            let per_job = "SELECT count(*) AS n FROM job_runs WHERE job IN ('session_purge', \
                 'token_purge', 'quarantine_purge', 'audit_retention', 'outbox_purge') GROUP BY job";
            let least = count(&c, &format!("SELECT coalesce(min(n), 0) FROM ({per_job}) r")).await;
            let jobs = count(&c, &format!("SELECT count(*) FROM ({per_job}) r")).await;
            (jobs == 5 && least >= 4).then_some(())
        },
    )
    .await;
    for worker in workers {
        worker.shutdown().await;
    }

    let removed = count(
        &client,
        "SELECT sum(rows_removed)::bigint FROM job_runs WHERE job = 'session_purge'",
    )
    .await;
    assert_eq!(
        removed, 2500,
        "every session was removed by exactly one run"
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM job_runs WHERE finished_at IS NULL"
        )
        .await,
        0
    );
    // Ticks are whole seconds of the schedule: one row per job per tick, whoever ran it.
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM job_runs WHERE tick <> date_trunc('second', tick)"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_job_is_retried_at_its_next_tick_without_stopping_the_others() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let user = insert_user(&client, "ada@example.com", None).await;
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, sent_at) \
             VALUES (gen_random_uuid(), 'verify_email', $1, 'ada@example.com', now() - interval '90 days', now(), now() - interval '31 days')",
            &[&user],
        )
        .await
        .unwrap();
    client
        .batch_execute("ALTER TABLE email_outbox RENAME TO email_outbox_away")
        .await
        .unwrap();

    let worker = spawn_worker(&app, &[]).await;
    insert_expired_sessions(&client, user, 3, now()).await;
    eventually(
        Duration::from_secs(10),
        "sessions purged while the outbox job fails",
        || async {
            let c = app.db.client().await;
            (count(&c, "SELECT count(*) FROM sessions").await == 0
                && count(
                    &c,
                    "SELECT count(*) FROM job_runs WHERE job = 'session_purge'",
                )
                .await
                    >= 2)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM job_runs WHERE job = 'outbox_purge'"
        )
        .await,
        0,
        "a failed run records nothing"
    );

    client
        .batch_execute("ALTER TABLE email_outbox_away RENAME TO email_outbox")
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the outbox job succeeds on a later tick",
        || async {
            (count(&app.db.client().await, "SELECT count(*) FROM email_outbox").await == 0)
                .then_some(())
        },
    )
    .await;
    worker.shutdown().await;
}

/// Runs the real `raptor` binary against the app's database: (success, stdout, stderr).
pub async fn raptor_cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .args(args)
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("DATABASE_SSL", "disable")
        .env("SECRET_KEY", TEST_SECRET_KEY)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reports_the_first_row_edited_behind_the_applications_back() {
    let app = spawn_app().await;
    for _ in 0..5 {
        append(&app, "test.tamper").await;
    }
    let (ok, stdout, stderr) = raptor_cli(&app, &["audit", "verify"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("intact: 5 rows"), "{stdout}");

    let client = app.db.client().await;
    client
        .execute(
            "UPDATE audit_log SET details = '{\"n\":1}' WHERE seq = 3",
            &[],
        )
        .await
        .unwrap();
    client
        .execute("UPDATE audit_log SET event = 'forged' WHERE seq = 4", &[])
        .await
        .unwrap();
    let (ok, _, stderr) = raptor_cli(&app, &["audit", "verify"]).await;
    assert!(!ok, "a tampered chain exits non-zero");
    assert!(stderr.contains("broken at seq 3"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_refuses_a_chain_whose_start_was_deleted_outside_retention() {
    let app = spawn_app().await;
    for _ in 0..4 {
        append(&app, "test.prefix").await;
    }
    let client = app.db.client().await;
    client
        .execute("DELETE FROM audit_log WHERE seq <= 2", &[])
        .await
        .unwrap();
    assert_eq!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { rows: 2 },
        "the walk alone trusts the oldest row"
    );
    let (ok, _, stderr) = raptor_cli(&app, &["audit", "verify"]).await;
    assert!(
        !ok,
        "a missing prefix that retention did not remove is reported"
    );
    assert!(stderr.contains("broken at seq 3"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_report_shows_counts_oldest_ages_and_rows_past_their_limit() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let now = now();
    let user = insert_user(&client, "ada@example.com", None).await;
    insert_session(&client, user, now + days(1), now + days(1), None).await;
    insert_expired_sessions(&client, user, 2, now).await;
    insert_user(&client, "gone@example.com", Some(now - days(31))).await;

    let (ok, stdout, stderr) = raptor_cli(&app, &["retention", "report"]).await;
    assert!(ok, "{stderr}");
    let line = |table: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no {table} line in:\n{stdout}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let sessions = line("sessions");
    assert_eq!(sessions[1], "3", "{stdout}");
    assert_eq!(sessions[3], "2", "two sessions past their limit: {stdout}");
    let users = line("users");
    assert_eq!(
        (users[1].as_str(), users[3].as_str()),
        ("2", "1"),
        "{stdout}"
    );
    for table in [
        "audit_log",
        "email_outbox",
        "ceremonies",
        "bootstrap_tokens",
        "orders",
    ] {
        line(table);
    }
    assert!(
        stdout.contains("session_purge") && stdout.contains("never"),
        "{stdout}"
    );
}
