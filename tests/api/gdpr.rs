//! GDPR holes closed (issue 24, item 7): accounts never verified are purged after 7 days with
//! everything of theirs, emails that cannot be delivered for 3 days are given up and purged,
//! the export holds backtest runs and security notices, notices keep a user-agent fragment
//! only, and `raptor retention run [JOB]` / `raptor retention report` serve the operator.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp, ORIGIN};
use crate::passkey::{self, authenticator};
use crate::retention::{insert_user, pool, raptor_cli, run_job};
use crate::smtp::SmtpServer;
use raptor::retention::Job;

const SECOND: chrono::Duration = chrono::Duration::seconds(1);

async fn spawn(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await
}

/// Rows of `email`'s account and everything hanging from it: user, passkeys, links, emails.
async fn held(app: &TestApp, email: &str) -> [i64; 4] {
    let of_user = |table: &str| {
        format!("SELECT count(*) FROM {table} t JOIN users u ON u.id = t.user_id WHERE u.email = '{email}'")
    };
    [
        app.db
            .count(&format!(
                "SELECT count(*) FROM users WHERE email = '{email}'"
            ))
            .await,
        app.db.count(&of_user("webauthn_credentials")).await,
        app.db.count(&of_user("email_verifications")).await,
        app.db.count(&of_user("email_outbox")).await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_never_verified_are_purged_seven_days_after_their_last_registration() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let pool = pool(&app, 4).await;
    let mut key = authenticator();
    assert_eq!(
        passkey::register(&app, &mut key, "late@example.com")
            .await
            .status(),
        201
    );
    smtp.verification_token("late@example.com", 0).await;
    passkey::verified_user(&app, &smtp, "ada@example.com").await;
    let registered: DateTime<Utc> = app
        .db
        .client()
        .await
        .query_one(
            "SELECT c.created_at FROM webauthn_credentials c JOIN users u ON u.id = c.user_id \
             WHERE u.email = 'late@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held(&app, "late@example.com").await, [1, 1, 1, 1]);

    // Seven days to the second: kept. A second later: gone with its passkey, link and email.
    let limit = registered + chrono::Duration::days(7);
    run_job(&pool, Job::QuarantinePurge, limit).await;
    assert_eq!(held(&app, "late@example.com").await, [1, 1, 1, 1]);
    assert_eq!(
        run_job(&pool, Job::QuarantinePurge, limit + SECOND).await,
        1
    );
    assert_eq!(held(&app, "late@example.com").await, [0, 0, 0, 0]);
    // The verified account (as old) stays; the address may register again.
    assert_eq!(held(&app, "ada@example.com").await[0], 1);
    assert_eq!(
        passkey::register(&app, &mut authenticator(), "late@example.com")
            .await
            .status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_that_fails_for_three_days_is_given_up_and_purged() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let client = app.db.client().await;
    let now = Utc::now().trunc_subsecs(6);
    let user = insert_user(&client, "bounce@example.com", None).await;
    // An email queued 3 days and a minute ago, due before anything else: the mailer skips it.
    let old = Uuid::new_v4();
    let queued = now - chrono::Duration::days(3) - chrono::Duration::minutes(1);
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, attempts, notice) \
             VALUES ($1, 'security_notice', $2, 'bounce@example.com', $3, $3, 40, '{}'::jsonb)",
            &[&old, &user, &queued],
        )
        .await
        .unwrap();
    let mut key = authenticator();
    assert_eq!(
        passkey::register(&app, &mut key, "fresh@example.com")
            .await
            .status(),
        201
    );
    smtp.verification_token("fresh@example.com", 0).await;
    let attempts: i32 = client
        .query_one(
            "SELECT attempts FROM email_outbox WHERE id = $1 AND sent_at IS NULL",
            &[&old],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 40, "not tried again");
    assert!(smtp
        .messages()
        .iter()
        .all(|m| !m.contains("bounce@example.com")));

    // The purge: unsent for 3 days to the second stays, a second more goes.
    let pool = pool(&app, 4).await;
    let limit = queued + chrono::Duration::days(3);
    run_job(&pool, Job::OutboxPurge, limit).await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL")
            .await,
        1
    );
    run_job(&pool, Job::OutboxPurge, limit + SECOND).await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        app.db.count("SELECT count(*) FROM email_outbox").await,
        1,
        "the sent one stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_backtest_runs_and_notices_which_keep_a_user_agent_fragment_only() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let email = "ada@example.com";
    let mut key = passkey::verified_user(&app, &smtp, email).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, email).await);
    let user_id: Uuid = app
        .db
        .client()
        .await
        .query_one("SELECT id FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    app.db
        .client()
        .await
        .execute(
            "INSERT INTO backtest_runs (id, user_id, status, request, created_at) \
             VALUES (gen_random_uuid(), $1, 'queued', '{\"symbol\": \"AAPL\"}'::jsonb, now())",
            &[&user_id],
        )
        .await
        .unwrap();

    // A rename queues a notice; the browser sends a very long user agent.
    let passkey_id = {
        let list = app
            .client
            .get(app.url("/api/auth/passkeys"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let body: Value = list.json().await.unwrap();
        body["passkeys"][0]["id"].as_str().unwrap().to_owned()
    };
    let long_agent = format!("Mozilla/5.0 {}", "X".repeat(400));
    let renamed = app
        .client
        .patch(app.url(&format!("/api/auth/passkeys/{passkey_id}")))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("user-agent", &long_agent)
        .json(&json!({"name": "Laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);

    let export: Value = app
        .client
        .get(app.url("/api/account/export"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs = export["backtests"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["request"]["symbol"], "AAPL");
    assert_eq!(runs[0]["status"], "queued");
    let notices = export["security_notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{export}");
    assert_eq!(notices[0]["notice"]["event"], "passkey_renamed");
    let agent = notices[0]["notice"]["user_agent"].as_str().unwrap();
    assert_eq!(agent.len(), 64);
    assert!(long_agent.starts_with(agent));
    let stored = "SELECT count(*) FROM email_outbox WHERE length(notice->>'user_agent') > 64";
    assert_eq!(app.db.count(stored).await, 0);
    // The mail names the fragment only.
    let mail = eventually(
        std::time::Duration::from_secs(15),
        "the notice is sent",
        || {
            let found = smtp.messages().into_iter().find(|m| m.contains("Laptop"));
            async move { found }
        },
    )
    .await;
    assert!(!mail.contains(&"X".repeat(100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_run_retention_jobs_now_and_see_every_rule_in_the_report() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let user = insert_user(&client, "ada@example.com", None).await;
    client
        .execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at) \
             VALUES (gen_random_uuid(), 'h', $1, now(), now(), now() + interval '1 day', now() + interval '1 day', now())",
            &[&user],
        )
        .await
        .unwrap();

    let (ok, stdout, stderr) = raptor_cli(&app, &["retention", "run", "session_purge"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("session_purge: removed 1 rows"), "{stdout}");
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
    let (ok, stdout, stderr) = raptor_cli(&app, &["retention", "run"]).await;
    assert!(ok, "{stderr}");
    for job in Job::ALL {
        assert!(
            stdout.contains(&format!("{}: removed", job.name())),
            "{stdout}"
        );
    }
    let (ok, _, stderr) = raptor_cli(&app, &["retention", "run", "everything"]).await;
    assert!(!ok);
    assert!(stderr.contains("token_purge"), "names the jobs: {stderr}");

    let (ok, stdout, stderr) = raptor_cli(&app, &["retention", "report"]).await;
    assert!(ok, "{stderr}");
    for rule in [
        "never verified",
        "unsent 3 days",
        "shared_rate_limits",
        "backtest_runs",
        "emails sent more than 30 days ago",
    ] {
        assert!(stdout.contains(rule), "{rule}: {stdout}");
    }
    assert!(
        !stdout.contains("session_purge                              never"),
        "{stdout}"
    );
}
