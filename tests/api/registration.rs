//! Registration races for one address (issue 9, item 1): whoever proves the email gets the
//! account, and a passkey registered by anybody else never signs in to it.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_registering_an_unverified_address_never_signs_in_to_it() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (mut owner, mut attacker) = (authenticator(), authenticator());
    let owner_reg = register(&app, &mut owner, EMAIL).await;
    let owner_token = smtp.verification_token(EMAIL, 0).await;
    // Another invitation holder types the owner's address while it is still unverified.
    let attacker_reg = register(&app, &mut attacker, EMAIL).await;
    let attacker_token = second_token(&smtp, &owner_token).await;
    let attacker_cred = attacker_reg["credential_id"].as_str().unwrap();
    let owner_cred = owner_reg["credential_id"].as_str().unwrap();

    // Before anyone proves the address, neither passkey signs in.
    let early = sign_in_with(&app, &mut attacker, EMAIL, attacker_cred).await;
    assert_eq!(early.status(), 403);
    assert_eq!(error_code(early).await, "email_not_verified");
    // An assertion the attacker prepares now is useless later.
    let (held_ceremony, challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    let mut challenge_json = serde_json::to_value(&challenge).unwrap();
    challenge_json["publicKey"]["allowCredentials"] =
        json!([{"type": "public-key", "id": attacker_cred}]);
    let held = passkey::assert(
        &mut attacker,
        serde_json::from_value(challenge_json).unwrap(),
        passkey::origin(),
    );

    // The owner opens the link of their own registration (the first email).
    assert_eq!(verify(&app, &owner_token).await.status(), 200);

    let late = sign_in_with(&app, &mut attacker, EMAIL, attacker_cred).await;
    assert_eq!(late.status(), 401);
    assert_eq!(error_code(late).await, "login_failed");
    let replayed = passkey::login_verify(&app, &held_ceremony, &held).await;
    assert_eq!(replayed.status(), 401);
    // The attacker's link died with their pending passkey.
    let dead = verify(&app, &attacker_token).await;
    assert_eq!(dead.status(), 400);
    assert_eq!(error_code(dead).await, "invalid_token");

    let signed_in = sign_in_with(&app, &mut owner, EMAIL, owner_cred).await;
    assert_eq!(signed_in.status(), 200);
    let session: Value = signed_in.json().await.unwrap();
    assert_eq!(session["user_id"], owner_reg["user_id"]);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM webauthn_credentials WHERE NOT pending")
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM webauthn_credentials")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_registration_replaces_an_earlier_one_only_when_its_own_link_is_used() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (mut first, mut second) = (authenticator(), authenticator());
    let first_reg = register(&app, &mut first, EMAIL).await;
    let first_token = smtp.verification_token(EMAIL, 0).await;
    let second_reg = register(&app, &mut second, EMAIL).await;
    let second_token = second_token(&smtp, &first_token).await;
    let first_cred = first_reg["credential_id"].as_str().unwrap();
    let second_cred = second_reg["credential_id"].as_str().unwrap();

    // Whoever holds the mailbox verifies the second registration: it wins, the first dies.
    assert_eq!(verify(&app, &second_token).await.status(), 200);
    assert_eq!(verify(&app, &first_token).await.status(), 400);
    assert_eq!(
        sign_in_with(&app, &mut first, EMAIL, first_cred)
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in_with(&app, &mut second, EMAIL, second_cred)
            .await
            .status(),
        200
    );

    // A verified address takes no more registrations.
    let token = passkey::bootstrap_token(&app, None).await;
    let refused = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": EMAIL, "bootstrap_token": token}),
    )
    .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(error_code(refused).await, "email_taken");
    let events: Vec<String> = app
        .db
        .client()
        .await
        .query("SELECT event FROM audit_log ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events.iter().filter(|e| *e == "register").count(), 2);
    assert_eq!(events.iter().filter(|e| *e == "email.verify").count(), 1);
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
