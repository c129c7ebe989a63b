//! No unauthenticated audit flood (issue 24, item 4): malformed or unknown tokens and
//! ceremonies on the routes anyone may call write no audit row of their own; refused attempts
//! are counted by the cross-dyno limits (the token routes included) and recorded at most once
//! per client per minute. 300 junk requests from one client add a handful of rows at most, and
//! every one of them gets a clear 4xx that changes nothing.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::passkey;
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";

async fn spawn(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
        // The per-process limit would refuse most of the flood before it reached a route.
        ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
    ])
    .await
}

/// A well-formed token nobody was ever given.
const UNKNOWN_TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// One junk request of kind `i`: the route and its body.
fn junk(i: usize) -> (&'static str, Value) {
    let ceremony = uuid::Uuid::new_v4();
    match i % 6 {
        0 => ("/api/auth/recovery/options", json!({"token": "garbage"})),
        1 => (
            "/api/auth/recovery/options",
            json!({"token": UNKNOWN_TOKEN}),
        ),
        2 => (
            "/api/auth/recovery/verify",
            json!({"ceremony_id": ceremony, "credential": {}}),
        ),
        3 => ("/api/auth/email/verify", json!({"token": UNKNOWN_TOKEN})),
        4 => ("/api/auth/email/verify", json!({"token": "x"})),
        _ => (
            "/api/auth/login/verify",
            json!({"ceremony_id": ceremony, "credential": {"id": "x"}}),
        ),
    }
}

/// Every table a refused attempt could have touched, summed.
async fn state(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "webauthn_credentials",
        "sessions",
        "email_verifications",
        "recovery_tokens",
        "ceremonies",
        "email_outbox",
    ] {
        counts.push(app.db.count(&format!("SELECT count(*) FROM {table}")).await);
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_junk_requests_add_a_handful_of_audit_rows_at_most() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let mine = passkey::credentials_of(&app, EMAIL).await.remove(0);
    let rows_before = app.db.count("SELECT count(*) FROM audit_log").await;
    let state_before = state(&app).await;

    // Failed sign-ins that reach the assertion check: my own passkey answering ceremonies bound
    // to an address with no account (each one a refusal the old code audited).
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let options = passkey::post(
            &app,
            "/api/auth/login/options",
            json!({"email": "x@example.com"}),
        )
        .await;
        let body: Value = options.json().await.unwrap();
        let mut public_key = body["publicKey"].clone();
        public_key["allowCredentials"] = json!([{"type": "public-key", "id": mine}]);
        let challenge = serde_json::from_value(json!({"publicKey": public_key})).unwrap();
        let assertion = passkey::assert(&mut key, challenge, passkey::origin());
        let ceremony_id = body["ceremony_id"].as_str().unwrap();
        let response = passkey::login_verify(&app, ceremony_id, &assertion).await;
        statuses.push(response.status().as_u16());
    }
    // Then junk on every unauthenticated token and ceremony route.
    for i in 0..280 {
        let (path, body) = junk(i);
        let response = passkey::post(&app, path, body).await;
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses.len(), 300);
    assert!(
        statuses.iter().all(|s| (400..500).contains(s)),
        "every junk request gets a clear 4xx: {statuses:?}"
    );
    assert!(statuses.contains(&429), "the token routes' limit held");
    // The ceremonies the sign-ins spent are gone; nothing else changed.
    assert_eq!(state(&app).await, state_before);
    let added = app.db.count("SELECT count(*) FROM audit_log").await - rows_before;
    assert!(
        (1..=3).contains(&added),
        "one row per client per minute (two if the flood crossed a minute): {added}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_routes_are_limited_per_client_across_dynos() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let peer = app
        .spawn_peer(&[
            ("FLAG_WEBAUTHN_REGISTRATION", "true"),
            ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
        ])
        .await;
    let mut answers = Vec::new();
    for i in 0..31 {
        // Alternating dynos: one counter.
        let target = if i % 2 == 0 { &app } else { &peer };
        let response = passkey::post(
            target,
            "/api/auth/recovery/options",
            json!({"token": UNKNOWN_TOKEN}),
        )
        .await;
        answers.push(response.status().as_u16());
    }
    assert!(answers[..30].iter().all(|s| *s == 400), "{answers:?}");
    assert_eq!(answers[30], 429);
    // The limit counts the client only as an HMAC.
    let clear = "SELECT count(*) FROM shared_rate_limits WHERE client LIKE '%127.0.0%'";
    assert_eq!(app.db.count(clear).await, 0);
    let rejected = "SELECT count(*) FROM audit_log WHERE event = 'recovery.token_rejected'";
    assert!(app.db.count(rejected).await <= 2);
}
