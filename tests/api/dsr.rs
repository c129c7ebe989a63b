//! GDPR data-subject requests (SPEC §5): the customer's export and erasure over HTTP, the
//! operator's `raptor dsr export|erase`, and what erasure means everywhere afterwards: sessions
//! ended on every instance, no sign-in, no re-registration during the quarantine, and a clean
//! purge with a verifiable audit trail after it.

use std::time::Duration;

use chrono::Utc;
use raptor::retention::{self, Job, Outcome};
use raptor_actors::audit::chain::{self, ChainReport};
use raptor_actors::audit::AuditMsg;
use raptor_actors::session::{NewSession, SessionError, SessionMsg};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_code, eventually, spawn_app, spawn_app_with, SignedIn, TestApp};
use crate::passkey::{self, authenticator};
use crate::retention::{pool, raptor_cli};
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";

async fn export(app: &TestApp, user: &SignedIn) -> Value {
    let response = app
        .authed(reqwest::Method::GET, "/api/account/export", user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn add_passkey_and_order(app: &TestApp, user: Uuid, symbol: &str) {
    let client = app.db.client().await;
    client
        .execute(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, passkey, name, backup_eligible, backup_state, created_at) \
             VALUES (gen_random_uuid(), $1, $2, '{\"cred\": {\"key\": \"PUBLIC-KEY-MATERIAL\"}}', 'Laptop', true, false, now())",
            &[&user, &format!("cred-{user}")],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO orders (id, user_id, client_order_id, symbol, side, request, status, broker_status, broker_body, created_at, updated_at) \
             VALUES (gen_random_uuid(), $1, $2, $3, 'buy', '{\"qty\": \"1.5\"}', 'accepted', 200, '{\"id\": \"alpaca-1\"}', now(), now())",
            &[&user, &format!("coid-{user}"), &symbol],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_returns_everything_held_about_the_customer_and_nothing_about_others() {
    let app = spawn_app().await;
    let ada = app.sign_in(EMAIL, false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    add_passkey_and_order(&app, ada.user_id, "AAPL").await;
    add_passkey_and_order(&app, bob.user_id, "MSFT").await;

    let body = export(&app, &ada).await;
    assert_eq!(body["profile"]["email"], ada.email.as_str());
    assert_eq!(body["profile"]["user_id"], ada.user_id.to_string());
    assert_eq!(body["profile"]["deleted_at"], Value::Null);
    let passkeys = body["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["name"], "Laptop");
    assert_eq!(passkeys[0]["backup_eligible"], true);
    assert!(
        !body.to_string().contains("PUBLIC-KEY-MATERIAL"),
        "passkeys are exported as metadata only"
    );
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["ip_prefix"], "127.0.0.0/24");
    let orders = body["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["symbol"], "AAPL");
    assert_eq!(orders[0]["request"], json!({"qty": "1.5"}));
    assert_eq!(orders[0]["broker_response"], json!({"id": "alpaca-1"}));
    assert!(!body.to_string().contains("bob@example.com") && !body.to_string().contains("MSFT"));

    // The export is audited before it is sent, and the next export lists that row.
    let client = app.db.client().await;
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE event = 'dsr.export' AND actor_user_id = $1",
            &[&ada.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    let again = export(&app, &ada).await;
    let events: Vec<&str> = again["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["dsr.export"]);
    assert_eq!(again["audit"][0]["by_subject"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_routes_need_a_session() {
    let app = spawn_app().await;
    let export = app.get("/api/account/export").await;
    assert_eq!(export.status(), 401);
    assert_eq!(error_code(export).await, "unauthenticated");
    let erase = app
        .client
        .delete(app.url("/api/account"))
        .header("origin", crate::helpers::ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 401);
    assert_eq!(error_code(erase).await, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_from_a_disallowed_origin_or_as_a_form_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.sign_in(EMAIL, false).await;
    let forged = app
        .client
        .delete(app.url("/api/account"))
        .header("cookie", &ada.cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(error_code(forged).await, "csrf_origin");
    let form = app
        .client
        .delete(app.url("/api/account"))
        .header("cookie", &ada.cookie)
        .header("origin", crate::helpers::ORIGIN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("confirm=1")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);

    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'dsr.erase'")
            .await,
        0
    );
    let still = app
        .authed(reqwest::Method::GET, "/api/auth/session", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "the session is untouched");
}

async fn session_status(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/auth/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_ends_every_session_everywhere_and_blocks_sign_in_and_re_registration_until_purged()
{
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let overrides = [
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", smtp_url.as_str()),
    ];
    let app = spawn_app_with(&overrides).await;
    let peer = app.spawn_peer(&overrides).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;

    let here = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let there = passkey::session_cookie(&passkey::login(&peer, &mut key, EMAIL).await);
    // Both instances have both sessions validated (and cached).
    for instance in [&app, &peer] {
        for cookie in [&here, &there] {
            assert_eq!(session_status(instance, cookie).await, 200);
        }
    }
    let user_id: Uuid = app
        .db
        .client()
        .await
        .query_one("SELECT id FROM users WHERE email = $1", &[&EMAIL])
        .await
        .unwrap()
        .get(0);

    // A sign-in that is half-way through when the account is erased.
    let (in_flight, in_flight_challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    let allowed_before = in_flight_challenge.public_key.allow_credentials.clone();

    let erased = app
        .client
        .delete(app.url("/api/account"))
        .header("cookie", &here)
        .header("origin", crate::helpers::ORIGIN)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);
    let cleared = erased.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    // At once on this instance, within a second on the other.
    assert_eq!(session_status(&app, &here).await, 401);
    assert_eq!(session_status(&app, &there).await, 401);
    for cookie in [&here, &there] {
        eventually(
            Duration::from_secs(1),
            "the peer refuses the erased user's session",
            || async { (session_status(&peer, cookie).await == 401).then_some(()) },
        )
        .await;
    }

    // The account remains, soft-deleted, without passkeys or live sessions.
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM webauthn_credentials")
            .await,
        0
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        0
    );
    let audited: i64 = app
        .db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE event = 'dsr.erase' AND actor_user_id = $1",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);

    // No way back in: the ceremony in flight is gone, the passkey is unknown, and the session
    // store refuses the account.
    let assertion = passkey::assert(&mut key, in_flight_challenge, passkey::origin());
    let late = passkey::login_verify(&app, &in_flight, &assertion).await;
    assert_eq!(late.status(), 400);
    assert_eq!(error_code(late).await, "invalid_ceremony");
    let (ceremony, mut challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    assert!(
        challenge.public_key.allow_credentials.is_empty(),
        "options reveal nothing about an erased account"
    );
    challenge.public_key.allow_credentials = allowed_before;
    let assertion = passkey::assert(&mut key, challenge, passkey::origin());
    let login = passkey::login_verify(&app, &ceremony, &assertion).await;
    assert_eq!(login.status(), 401);
    assert_eq!(error_code(login).await, "login_failed");
    let new = NewSession {
        user_id,
        ip_prefix: None,
        user_agent: None,
    };
    let issued = app
        .app()
        .actors()
        .sessions
        .slot()
        .ask(
            |reply| SessionMsg::Issue { new, reply },
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert!(matches!(issued, Err(SessionError::InactiveUser)));

    // The address stays taken during the quarantine.
    let token = passkey::bootstrap_token(&app, None).await;
    let again = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": EMAIL, "bootstrap_token": token}),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "email_taken");

    // Thirty days and a second later the purge removes the account for good; the audit trail
    // keeps only the pseudonymous id and still verifies.
    let pool = pool(&app, 4).await;
    let purge = retention::run(
        &pool,
        Job::QuarantinePurge,
        Utc::now(),
        Utc::now() + chrono::Duration::days(30) + chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(purge.rows(), 1, "{purge:?}");
    assert!(matches!(purge, Outcome::Ran(_)));
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
    assert_eq!(
        app.db.count("SELECT count(*) FROM audit_log WHERE details LIKE '%ada@%' OR subject LIKE '%ada@%'"
        )
        .await,
        0,
        "no audit row holds the address"
    );
    assert!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE actor_user_id IS NOT NULL")
            .await
            > 0
    );
    let client = app.db.client().await;
    assert!(matches!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { .. }
    ));

    // Now the address may register again.
    let mut fresh = authenticator();
    assert_eq!(
        passkey::register(&app, &mut fresh, EMAIL).await.status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_export_and_erase_are_audited_and_end_sessions_on_running_instances() {
    let app = spawn_app().await;
    let ada = app.sign_in(EMAIL, false).await;
    add_passkey_and_order(&app, ada.user_id, "AAPL").await;
    assert_eq!(session_status(&app, &ada.cookie).await, 200);

    let (ok, stdout, stderr) =
        raptor_cli(&app, &["dsr", "export", "--email", " Ada@Example.com"]).await;
    assert!(ok, "{stderr}");
    let body: Value = serde_json::from_str(&stdout).expect("the export is JSON");
    assert_eq!(body["profile"]["email"], EMAIL);
    assert_eq!(body["orders"][0]["symbol"], "AAPL");
    let client = app.db.client().await;
    let row = client
        .query_one(
            "SELECT actor_user_id, details FROM audit_log WHERE event = 'user.pii_access' AND subject = $1",
            &[&ada.user_id.to_string()],
        )
        .await
        .expect("the operator's read is audited");
    assert_eq!(
        row.get::<_, Option<Uuid>>(0),
        None,
        "an operator, not the user, read it"
    );
    let details: Value = serde_json::from_str(&row.get::<_, String>(1)).unwrap();
    assert_eq!(details["source"], "cli");

    let (ok, _, _) = raptor_cli(&app, &["dsr", "erase", "--email", EMAIL]).await;
    assert!(!ok, "a reason is required");
    let (ok, _, stderr) = raptor_cli(
        &app,
        &[
            "dsr",
            "erase",
            "--email",
            "nobody@example.com",
            "--reason",
            "T-1",
        ],
    )
    .await;
    assert!(!ok && stderr.contains("no account"), "{stderr}");

    let (ok, _, stderr) = raptor_cli(
        &app,
        &["dsr", "erase", "--email", EMAIL, "--reason", "ticket T-42"],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("1 passkey(s) removed, 1 session(s) ended"),
        "{stderr}"
    );
    // The CLI has no session store: its notification reaches the running instance.
    eventually(
        Duration::from_secs(1),
        "the running instance refuses the session",
        || async { (session_status(&app, &ada.cookie).await == 401).then_some(()) },
    )
    .await;
    let details: String = client
        .query_one(
            "SELECT details FROM audit_log WHERE event = 'dsr.erase' AND subject = $1 AND actor_user_id IS NULL",
            &[&ada.user_id.to_string()],
        )
        .await
        .expect("the erasure is audited as an operator action")
        .get(0);
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["reason"], "ticket T-42");
    assert_eq!(details["source"], "cli");

    // Erasing again changes nothing and says so.
    let (ok, _, stderr) = raptor_cli(
        &app,
        &["dsr", "erase", "--email", EMAIL, "--reason", "T-42"],
    )
    .await;
    assert!(ok && stderr.contains("already erased"), "{stderr}");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'dsr.erase'")
            .await,
        1
    );
}

async fn erase_over_http(app: &TestApp, user: &SignedIn) -> reqwest::Response {
    app.authed(reqwest::Method::DELETE, "/api/account", user)
        .send()
        .await
        .unwrap()
}

async fn erased_accounts(app: &TestApp) -> i64 {
    app.db
        .count("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_whose_audit_row_cannot_be_written_fails_and_erases_nothing() {
    // A long first backoff keeps the audit writer down while the requests are made.
    let app = spawn_app_with(&[("SUPERVISOR_BACKOFF_MS", "2000")]).await;
    let ada = app.sign_in(EMAIL, false).await;
    add_passkey_and_order(&app, ada.user_id, "AAPL").await;
    let audit = app.app().actors().audit.slot().clone();
    audit.get().unwrap().send_message(AuditMsg::Fault).unwrap();
    eventually(
        Duration::from_secs(5),
        "the audit writer is down",
        || async { (!audit.is_up()).then_some(()) },
    )
    .await;

    let refused = erase_over_http(&app, &ada).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_code(refused).await, "service_unavailable");
    // The row comes first: without it the account is untouched.
    assert_eq!(erased_accounts(&app).await, 0);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM webauthn_credentials")
            .await,
        1
    );
    assert_eq!(session_status(&app, &ada.cookie).await, 200);
    // Nothing is handed out without its row either.
    let export = app
        .authed(reqwest::Method::GET, "/api/account/export", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 503);

    eventually(
        Duration::from_secs(10),
        "the audit writer is back",
        || async { audit.is_up().then_some(()) },
    )
    .await;
    assert_eq!(erase_over_http(&app, &ada).await.status(), 204);
    assert_eq!(erased_accounts(&app).await, 1);
    let rows = app
        .db
        .client()
        .await
        .query(
            "SELECT details FROM audit_log WHERE event = 'dsr.erase' AND actor_user_id = $1",
            &[&ada.user_id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the refused attempt left no row");
    let details: Value = serde_json::from_str(&rows[0].get::<_, String>(0)).unwrap();
    assert_eq!(details["passkeys_removed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_erasure_that_cannot_be_audited_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.sign_in(EMAIL, false).await;
    let client = app.db.client().await;
    client
        .batch_execute("ALTER TABLE audit_log RENAME TO audit_log_away")
        .await
        .unwrap();
    let (ok, _, stderr) = raptor_cli(
        &app,
        &["dsr", "erase", "--email", EMAIL, "--reason", "ticket T-7"],
    )
    .await;
    assert!(
        !ok && stderr.contains("audit row could not be written"),
        "{stderr}"
    );
    assert_eq!(erased_accounts(&app).await, 0);
    assert_eq!(session_status(&app, &ada.cookie).await, 200);
    let (ok, stdout, _) = raptor_cli(&app, &["dsr", "export", "--email", EMAIL]).await;
    assert!(!ok && stdout.is_empty(), "nothing is printed unaudited");

    client
        .batch_execute("ALTER TABLE audit_log_away RENAME TO audit_log")
        .await
        .unwrap();
    let (ok, _, stderr) = raptor_cli(
        &app,
        &["dsr", "erase", "--email", EMAIL, "--reason", "ticket T-7"],
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(erased_accounts(&app).await, 1);
}
