//! Registration races for one address (issue 9, item 1; issue 24, item 1): an address has one
//! pending registration at most, its options reveal nothing about it, a resent link vouches for
//! it, and a passkey registered by anybody else never signs in to the account.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with, TestApp};
use crate::passkey::{self, authenticator, Authenticator};
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";

async fn spawn(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await
}

/// Registers `key` for `email` with a fresh unbound invitation; the 201 body.
async fn register(app: &TestApp, key: &mut Authenticator, email: &str) -> Value {
    let response = passkey::register(app, key, email).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["needs_email_verification"], true);
    assert!(body["user_id"].is_string() && body["credential_id"].is_string());
    body
}

/// A login ceremony for `email` whose challenge `key` answers with the credential `credential_id`
/// (as an attacker holding that passkey would), submitted to `login/verify`.
async fn sign_in_with(
    app: &TestApp,
    key: &mut Authenticator,
    email: &str,
    credential_id: &str,
) -> reqwest::Response {
    let options = passkey::post(app, "/api/auth/login/options", json!({"email": email})).await;
    let body: Value = options.json().await.unwrap();
    let mut public_key = body["publicKey"].clone();
    public_key["allowCredentials"] = json!([{"type": "public-key", "id": credential_id}]);
    let challenge = serde_json::from_value(json!({"publicKey": public_key})).unwrap();
    let assertion = passkey::assert(key, challenge, passkey::origin());
    passkey::login_verify(app, body["ceremony_id"].as_str().unwrap(), &assertion).await
}

/// The link of the second email to `EMAIL`, whose first link is `first` (the mailbox lists
/// messages in no particular order).
async fn second_token(smtp: &SmtpServer, first: &str) -> String {
    smtp.verification_token(EMAIL, 1).await;
    for seen in [0, 1] {
        let token = smtp.verification_token(EMAIL, seen).await;
        if token != first {
            return token;
        }
    }
    panic!("no second link")
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    passkey::post(app, "/api/auth/email/verify", json!({"token": token})).await
}

/// `register/options` for `email` with `token`: the status and the body.
async fn options(app: &TestApp, email: &str, token: &str) -> (u16, Value) {
    let response = passkey::post(
        app,
        "/api/auth/register/options",
        json!({"email": email, "bootstrap_token": token}),
    )
    .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// How many rows `sql` counts.
async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.count(sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_registration_of_a_pending_address_is_refused_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (mut owner, mut attacker) = (authenticator(), authenticator());
    // Before anyone registers, the options for the address.
    let probe = passkey::bootstrap_token(&app, None).await;
    let (status, before) = options(&app, EMAIL, &probe).await;
    assert_eq!(status, 200);
    let owner_reg = register(&app, &mut owner, EMAIL).await;
    let owner_cred = owner_reg["credential_id"].as_str().unwrap();
    let first_link = smtp.verification_token(EMAIL, 0).await;

    // Another invitation holder types the owner's address: the options tell them nothing.
    let invitation = passkey::bootstrap_token(&app, None).await;
    let (status, after) = options(&app, EMAIL, &invitation).await;
    assert_eq!(status, 200);
    assert_eq!(
        crate::auth::shape(&before),
        crate::auth::shape(&after),
        "the same answer whether or not a registration is pending"
    );
    assert_eq!(after["publicKey"]["excludeCredentials"], json!([]));
    assert_ne!(
        after["publicKey"]["user"]["id"],
        before["publicKey"]["user"]["id"]
    );
    assert_ne!(
        after["publicKey"]["user"]["id"],
        json!(owner_reg["user_id"]),
        "not the pending account's handle"
    );
    let challenge = serde_json::from_value(json!({"publicKey": after["publicKey"]})).unwrap();
    let credential = passkey::create(&mut attacker, challenge);
    let body = json!({"ceremony_id": after["ceremony_id"], "credential": credential});
    let refused = passkey::post(&app, "/api/auth/register/verify", body.clone()).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(error_code(refused).await, "registration_pending");
    // Nothing changed: one passkey (the owner's), the invitation unused, one email, one
    // `register` row; and the spent ceremony cannot be replayed.
    assert_eq!(
        count(&app, "SELECT count(*) FROM webauthn_credentials").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM bootstrap_tokens WHERE used_at IS NULL"
        )
        .await,
        2
    );
    assert_eq!(count(&app, "SELECT count(*) FROM email_outbox").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE event = 'register'"
        )
        .await,
        1
    );
    let replayed = passkey::post(&app, "/api/auth/register/verify", body).await;
    assert_eq!(replayed.status(), 400);
    assert_eq!(error_code(replayed).await, "invalid_ceremony");

    // The owner asks for the link again: it vouches for the owner's own registration.
    let resend = passkey::post(&app, "/api/auth/email/resend", json!({"email": EMAIL})).await;
    assert_eq!(resend.status(), 202);
    let second_link = second_token(&smtp, &first_link).await;
    assert_eq!(verify(&app, &second_link).await.status(), 200);
    let signed_in = sign_in_with(&app, &mut owner, EMAIL, owner_cred).await;
    assert_eq!(signed_in.status(), 200);
    let session: Value = signed_in.json().await.unwrap();
    assert_eq!(session["user_id"], owner_reg["user_id"]);
    let attacker_cred = credential.id.clone();
    let attacker_in = sign_in_with(&app, &mut attacker, EMAIL, &attacker_cred).await;
    assert_eq!(attacker_in.status(), 401);
    assert_eq!(error_code(attacker_in).await, "login_failed");

    // A verified address takes no more registrations.
    let (status, body) = options(&app, EMAIL, &invitation).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "email_taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_registration_gives_way_to_a_new_one() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (mut first, mut second) = (authenticator(), authenticator());
    let first_reg = register(&app, &mut first, EMAIL).await;
    let first_link = smtp.verification_token(EMAIL, 0).await;

    // Just before it expires, the pending registration still holds the address. (Invitations
    // are made on the real clock: they are stretched to outlive the moved one.)
    app.clock
        .advance(chrono::Duration::days(7) - chrono::Duration::seconds(5));
    let token = passkey::bootstrap_token(&app, None).await;
    let stretch = "UPDATE bootstrap_tokens SET expires_at = expires_at + interval '30 days'";
    app.db.client().await.execute(stretch, &[]).await.unwrap();
    let (_, body) = options(&app, EMAIL, &token).await;
    let challenge = serde_json::from_value(json!({"publicKey": body["publicKey"]})).unwrap();
    let credential = passkey::create(&mut second, challenge);
    let early = passkey::post(
        &app,
        "/api/auth/register/verify",
        json!({"ceremony_id": body["ceremony_id"], "credential": credential}),
    )
    .await;
    assert_eq!(early.status(), 409);
    assert_eq!(error_code(early).await, "registration_pending");

    // Once it has expired, a new registration (same invitation: the refusal left it unused)
    // replaces the unverified account wholesale.
    app.clock.advance(chrono::Duration::seconds(10));
    let (_, body) = options(&app, EMAIL, &token).await;
    let challenge = serde_json::from_value(json!({"publicKey": body["publicKey"]})).unwrap();
    let credential = passkey::create(&mut second, challenge);
    let response = passkey::post(
        &app,
        "/api/auth/register/verify",
        json!({"ceremony_id": body["ceremony_id"], "credential": credential}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let second_reg: Value = response.json().await.unwrap();
    assert_ne!(second_reg["user_id"], first_reg["user_id"]);
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM webauthn_credentials").await,
        1
    );
    assert_eq!(verify(&app, &first_link).await.status(), 400);
    let second_link = second_token(&smtp, &first_link).await;
    assert_eq!(verify(&app, &second_link).await.status(), 200);
    let second_cred = second_reg["credential_id"].as_str().unwrap();
    assert_eq!(
        sign_in_with(&app, &mut second, EMAIL, second_cred)
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_bound_to_an_address_registers_that_address_only() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let bound = passkey::bootstrap_token(&app, Some(EMAIL)).await;
    let other = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": "mallory@example.com", "bootstrap_token": bound}),
    )
    .await;
    assert_eq!(other.status(), 403);
    assert_eq!(error_code(other).await, "invalid_bootstrap_token");

    let mut key = authenticator();
    let (ceremony_id, challenge) = passkey::register_options(&app, "Ada@Example.com", &bound).await;
    let credential = passkey::create(&mut key, challenge);
    let response = passkey::post(
        &app,
        "/api/auth/register/verify",
        json!({"ceremony_id": ceremony_id, "email": EMAIL, "credential": credential}),
    )
    .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_answers_before_it_looks_anything_up() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let mut key = authenticator();
    register(&app, &mut key, EMAIL).await;
    let first = smtp.verification_token(EMAIL, 0).await;

    // With the accounts locked, a lookup on the request path would hang the answer.
    let mut blocker = app.db.client().await;
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for email in [EMAIL, "nobody@example.com"] {
        let response = app
            .client
            .post(app.url("/api/auth/email/resend"))
            .header("origin", crate::helpers::ORIGIN)
            .json(&json!({ "email": email }))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .expect("answered at once");
        assert_eq!(response.status(), 202);
    }
    tx.rollback().await.unwrap();
    // The work happens afterwards: the unverified account gets its second link.
    let second = second_token(&smtp, &first).await;
    assert_eq!(verify(&app, &second).await.status(), 200);
}
