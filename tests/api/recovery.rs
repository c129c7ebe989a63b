//! Lost-passkey recovery (issue 12): the whole flow with software passkeys through the real
//! SMTP server, every refusal (each changing nothing), the operator's link, the per-account
//! limit, purge and erasure of tokens, and the security notices.

use std::time::Duration;

use reqwest::Response;
use serde_json::{json, Value};
use webauthn_rs_proto::CreationChallengeResponse;

use crate::helpers::{error_code, eventually, spawn_app_with, TestApp, ORIGIN};
use crate::passkey::{self, authenticator, Authenticator};
use crate::smtp::SmtpServer;

const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

async fn spawn(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await
}

/// Mails to `recipient`, decoded from quoted-printable.
fn mails(smtp: &SmtpServer, recipient: &str) -> Vec<String> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.contains(&format!("To: {recipient}")))
        .map(|m| {
            m.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
                .replace("=22", "\"")
        })
        .collect()
}

fn recovery_tokens(smtp: &SmtpServer, recipient: &str) -> Vec<String> {
    mails(smtp, recipient)
        .iter()
        .filter_map(|m| {
            let start = m.find("/recover?token=")? + "/recover?token=".len();
            let token: String = m[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            Some(token)
        })
        .collect()
}

/// Asks for a recovery link and waits for it to arrive.
async fn recovery_token(app: &TestApp, smtp: &SmtpServer, email: &str) -> String {
    let before = recovery_tokens(smtp, email);
    let response = passkey::post(app, "/api/auth/recovery/start", json!({"email": email})).await;
    assert_eq!(response.status(), 202);
    eventually(
        Duration::from_secs(15),
        "recovery email arrives",
        || async {
            recovery_tokens(smtp, email)
                .into_iter()
                .find(|t| !before.contains(t))
        },
    )
    .await
}

/// Waits for a mail to `recipient` whose subject contains `subject`.
async fn mail_with_subject(smtp: &SmtpServer, recipient: &str, subject: &str) -> String {
    eventually(Duration::from_secs(15), subject, || async {
        mails(smtp, recipient)
            .into_iter()
            .find(|m| m.contains(&format!("Subject: {subject}")))
    })
    .await
}

async fn options(app: &TestApp, token: &str) -> Response {
    passkey::post(app, "/api/auth/recovery/options", json!({"token": token})).await
}

async fn ceremony(response: Response) -> (String, CreationChallengeResponse) {
    assert_eq!(response.status(), 200, "recovery/options");
    let body: Value = response.json().await.unwrap();
    let challenge = serde_json::from_value(json!({"publicKey": body["publicKey"]})).unwrap();
    (body["ceremony_id"].as_str().unwrap().to_owned(), challenge)
}

async fn verify(app: &TestApp, body: Value) -> Response {
    passkey::post(app, "/api/auth/recovery/verify", body).await
}

/// `recovery/options` + a new software passkey + `recovery/verify`.
async fn recover(app: &TestApp, key: &mut Authenticator, token: &str) -> Response {
    let (ceremony_id, challenge) = ceremony(options(app, token).await).await;
    let credential = passkey::create(key, challenge);
    verify(
        app,
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
}

async fn passkeys(app: &TestApp) -> i64 {
    app.db
        .count("SELECT count(*) FROM webauthn_credentials")
        .await
}

async fn audited(app: &TestApp, event: &str) -> i64 {
    app.db
        .count(&format!(
            "SELECT count(*) FROM audit_log WHERE event = '{event}'"
        ))
        .await
}

async fn signed_in(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/auth/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_lost_their_passkey_recovers_by_email_and_signs_in_with_the_new_one() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut old_key = passkey::verified_user(&app, &smtp, ADA).await;
    let old = passkey::login(&app, &mut old_key, ADA).await;
    assert_eq!(old.status(), 200);
    let old_cookie = passkey::session_cookie(&old);

    let token = recovery_token(&app, &smtp, ADA).await;
    let mut new_key = authenticator();
    let recovered = recover(&app, &mut new_key, &token).await;
    assert_eq!(recovered.status(), 200);
    let new_cookie = passkey::session_cookie(&recovered);
    let body: Value = recovered.json().await.unwrap();
    assert_eq!(body["passkeys"], 2, "the old passkey stays: {body}");
    assert_eq!(body["email"], ADA);

    // Every earlier session ended; the fresh one works; the new passkey signs in.
    assert_eq!(signed_in(&app, &old_cookie).await, 401);
    assert_eq!(signed_in(&app, &new_cookie).await, 200);
    assert_eq!(passkey::login(&app, &mut new_key, ADA).await.status(), 200);
    // Single use.
    let replay = options(&app, &token).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_token");

    assert_eq!(audited(&app, "recovery.requested").await, 1);
    assert_eq!(audited(&app, "recovery.completed").await, 1);
    assert_eq!(audited(&app, "recovery.token_rejected").await, 1);
    let stored: String = app
        .db
        .client()
        .await
        .query_one("SELECT token_hash FROM recovery_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(stored, token, "only the HMAC is stored");

    let notice = mail_with_subject(&smtp, ADA, "Your Raxx account was recovered").await;
    assert!(notice.contains("When: "), "{notice}");
    assert!(notice.contains("From: IP 127.0.0."), "{notice}");
    assert!(!notice.contains("token="), "a notice never carries a token");
    assert!(mails(&smtp, ADA)
        .iter()
        .any(|m| m.contains(&format!("{ORIGIN}/recover?token="))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_answers_the_same_for_unknown_unverified_and_real_accounts_and_is_limited() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let _key = passkey::verified_user(&app, &smtp, ADA).await;
    let mut pending = authenticator();
    assert_eq!(
        passkey::register(&app, &mut pending, BOB).await.status(),
        201
    );

    let mut bodies = Vec::new();
    for email in [
        "nobody@example.com",
        BOB,
        "not an address",
        ADA,
        ADA,
        ADA,
        ADA,
    ] {
        let response =
            passkey::post(&app, "/api/auth/recovery/start", json!({"email": email})).await;
        assert_eq!(response.status(), 202, "{email}");
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    // Per account: three an hour, whatever the number of requests.
    let queued = "SELECT count(*) FROM email_outbox WHERE kind = 'recover_passkey'";
    eventually(Duration::from_secs(15), "requests audited", || async {
        let audited = audited(&app, "recovery.requested").await;
        (audited == 5 && app.db.count(queued).await == 3).then_some(())
    })
    .await;
    // An address with no account leaves no row derived from it (issue 24, item 7).
    let no_account =
        "SELECT count(*) FROM audit_log WHERE details::jsonb->>'outcome' = 'no_account'";
    assert_eq!(app.db.count(no_account).await, 0);
    let subjects =
        "SELECT count(DISTINCT subject) FROM audit_log WHERE event = 'recovery.requested'";
    assert_eq!(
        app.db.count(subjects).await,
        2,
        "Ada's and Bob's pseudonyms only"
    );
    let to_ada = format!("{queued} AND recipient = '{ADA}'");
    assert_eq!(app.db.count(&to_ada).await, 3);
    // The audit trail never names the address it was asked about.
    let named = "SELECT count(*) FROM audit_log WHERE event = 'recovery.requested' \
                 AND (subject LIKE '%@%' OR details::text LIKE '%@%')";
    assert_eq!(app.db.count(named).await, 0);
    // Per IP: ten an hour.
    let mut last = 0;
    for _ in 0..4 {
        let response = passkey::post(&app, "/api/auth/recovery/start", json!({"email": ADA})).await;
        last = response.status().as_u16();
    }
    assert_eq!(last, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_superseded_and_signed_in_tokens_are_refused_and_change_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, ADA).await;

    // A newer link kills the older one.
    let first = recovery_token(&app, &smtp, ADA).await;
    let second = recovery_token(&app, &smtp, ADA).await;
    assert_ne!(first, second);
    let refused = options(&app, &first).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_token");

    // Signing in with an existing passkey kills it too, even mid-ceremony.
    let (ceremony_id, challenge) = ceremony(options(&app, &second).await).await;
    assert_eq!(passkey::login(&app, &mut key, ADA).await.status(), 200);
    let credential = passkey::create(&mut authenticator(), challenge);
    let refused = verify(
        &app,
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_token");
    assert_eq!(options(&app, &second).await.status(), 400);

    // Thirty minutes.
    let third = recovery_token(&app, &smtp, ADA).await;
    app.clock.advance(chrono::Duration::minutes(31));
    let refused = options(&app, &third).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_token");
    // Garbage.
    assert_eq!(options(&app, "not-a-token").await.status(), 400);

    assert_eq!(passkeys(&app).await, 1);
    assert_eq!(audited(&app, "recovery.completed").await, 0);
    // Five refusals from one client: recorded once a minute (before and after the clock moved).
    assert_eq!(audited(&app, "recovery.token_rejected").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremonies_of_another_token_or_account_are_refused_and_change_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let _ada = passkey::verified_user(&app, &smtp, ADA).await;
    let mut bob_key = passkey::verified_user(&app, &smtp, BOB).await;
    let bob_session = passkey::login(&app, &mut bob_key, BOB).await;
    let bob_cookie = passkey::session_cookie(&bob_session);
    let ada_token = recovery_token(&app, &smtp, ADA).await;
    let bob_token = recovery_token(&app, &smtp, BOB).await;

    // Started with Ada's token, finished with Bob's.
    let (ceremony_id, challenge) = ceremony(options(&app, &ada_token).await).await;
    let credential = passkey::create(&mut authenticator(), challenge);
    let body = json!({"ceremony_id": ceremony_id, "token": bob_token, "credential": credential});
    let refused = verify(&app, body).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_token");

    // A recovery ceremony cannot be finished as Bob adding a passkey, nor the other way round.
    let (ceremony_id, challenge) = ceremony(options(&app, &ada_token).await).await;
    let credential = passkey::create(&mut authenticator(), challenge);
    let added = app
        .client
        .post(app.url("/api/auth/passkeys/verify"))
        .header("origin", ORIGIN)
        .header("cookie", &bob_cookie)
        .json(&json!({"ceremony_id": ceremony_id, "credential": credential}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 400);
    assert_eq!(error_code(added).await, "invalid_ceremony");
    let bobs = app
        .client
        .post(app.url("/api/auth/passkeys/options"))
        .header("origin", ORIGIN)
        .header("cookie", &bob_cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (ceremony_id, challenge) = ceremony(bobs).await;
    let credential = passkey::create(&mut authenticator(), challenge);
    let refused = verify(
        &app,
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_ceremony");

    assert_eq!(passkeys(&app).await, 2);
    assert_eq!(signed_in(&app, &bob_cookie).await, 200);
    assert_eq!(audited(&app, "recovery.completed").await, 0);
    // Both tokens are still good for their own accounts.
    assert_eq!(
        recover(&app, &mut authenticator(), &bob_token)
            .await
            .status(),
        200
    );
    assert_eq!(signed_in(&app, &bob_cookie).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recovery_cli_prints_a_link_once_audited_as_an_operator_action() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let _key = passkey::verified_user(&app, &smtp, ADA).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .args(["recovery", "create", "--email", ADA, "--ttl", "2h"])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env("FRONTEND_ORIGIN", ORIGIN)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let token = link
        .strip_prefix(&format!("{ORIGIN}/recover?token="))
        .unwrap_or_else(|| panic!("a recovery link: {link}"));
    let operator = "SELECT count(*) FROM audit_log WHERE event = 'recovery.requested' \
                    AND actor_user_id IS NULL AND details::jsonb->>'source' = 'cli'";
    assert_eq!(app.db.count(operator).await, 1);
    app.clock.advance(chrono::Duration::minutes(90));
    assert_eq!(
        recover(&app, &mut authenticator(), token).await.status(),
        200
    );

    // Only for verified, active accounts.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .args(["recovery", "create", "--email", "nobody@example.com"])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_tokens_are_purged_exported_and_erased() {
    use raptor::retention::Job;
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, ADA).await;
    let used = recovery_token(&app, &smtp, ADA).await;
    let recovered = recover(&app, &mut authenticator(), &used).await;
    assert_eq!(recovered.status(), 200);
    let cookie = passkey::session_cookie(&recovered);
    let _live = recovery_token(&app, &smtp, ADA).await;

    let pool = crate::retention::pool(&app, 2).await;
    crate::retention::run_job(&pool, Job::TokenPurge, chrono::Utc::now()).await;
    assert_eq!(
        app.db.count("SELECT count(*) FROM recovery_tokens").await,
        1,
        "the used token is purged, the live one kept"
    );

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
    assert_eq!(export["recovery_tokens"].as_array().unwrap().len(), 1);
    let events: Vec<&str> = export["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["event"].as_str())
        .collect();
    assert!(events.contains(&"recovery.requested"), "{events:?}");
    assert!(events.contains(&"recovery.completed"), "{events:?}");

    let erased = app
        .client
        .delete(app.url("/api/account"))
        .header("origin", ORIGIN)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    assert_eq!(
        app.db.count("SELECT count(*) FROM recovery_tokens").await,
        0
    );
    let _ = &mut key;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_and_session_changes_send_security_notices_without_tokens() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, ADA).await;
    let session = passkey::login(&app, &mut key, ADA).await;
    let cookie = passkey::session_cookie(&session);
    let authed = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("origin", ORIGIN)
            .header("cookie", &cookie)
            .header("user-agent", "NoticeTest/1.0")
    };

    let response = authed(reqwest::Method::POST, "/api/auth/passkeys/options")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (ceremony_id, challenge) = ceremony(response).await;
    let credential = passkey::create(&mut authenticator(), challenge);
    let body = json!({"ceremony_id": ceremony_id, "credential": credential, "name": "Laptop"});
    let added = authed(reqwest::Method::POST, "/api/auth/passkeys/verify")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    let notice = mail_with_subject(&smtp, ADA, "A passkey was added to your Raxx account").await;
    assert!(notice.contains("Laptop"), "{notice}");
    assert!(notice.contains("NoticeTest/1.0"), "{notice}");
    assert!(notice.contains("From: IP 127.0.0."), "{notice}");

    let list: Value = authed(reqwest::Method::GET, "/api/auth/passkeys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = list["passkeys"].as_array().unwrap();
    assert!(
        listed.iter().all(|p| p["synced"].is_boolean()
            && p.get("aaguid").is_some()
            && p["backup_eligible"].is_boolean()
            && p["created_at"].is_string()),
        "{list}"
    );
    let id = listed
        .iter()
        .find(|p| p["name"] == "Laptop")
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .unwrap();
    let path = format!("/api/auth/passkeys/{id}");
    let renamed = authed(reqwest::Method::PATCH, &path)
        .json(&json!({"name": "Work laptop"}))
        .send()
        .await
        .unwrap();
    assert!(renamed.status().is_success(), "{}", renamed.status());
    let notice = mail_with_subject(&smtp, ADA, "A passkey of your Raxx account was renamed").await;
    assert!(notice.contains("Work laptop"), "{notice}");
    let removed = authed(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert!(removed.status().is_success(), "{}", removed.status());
    mail_with_subject(&smtp, ADA, "A passkey was removed from your Raxx account").await;
    let revoked = authed(reqwest::Method::DELETE, "/api/auth/sessions")
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    mail_with_subject(&smtp, ADA, "Your other Raxx sessions were signed out").await;

    let notices: Vec<String> = mails(&smtp, ADA)
        .into_iter()
        .filter(|m| !m.contains("/verify-email?token="))
        .collect();
    assert_eq!(notices.len(), 4);
    assert!(notices.iter().all(|m| !m.contains("token")));
}
